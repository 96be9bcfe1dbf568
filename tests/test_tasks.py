"""Tasks: planning, the open/done/cancelled state machine (every pair), overdue checks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    InvalidTransition,
    Priority,
    Task,
    TaskKind,
    TaskStatus,
    ValidationError,
    from_dict,
    to_dict,
)
from crmcore.ids import (
    new_case_id,
    new_customer_id,
    new_interaction_id,
    new_lead_id,
    new_merge_id,
    new_opportunity_id,
)
from crmcore.tasks import TASK_TRANSITIONS
from crmcore.testing.strategies import tasks

S = TaskStatus
# The machine written out independently: open -> done | cancelled; both reopen.
ALLOWED = {(S.OPEN, S.DONE), (S.OPEN, S.CANCELLED), (S.DONE, S.OPEN), (S.CANCELLED, S.OPEN)}
T0 = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)


def _task(**changes: object) -> Task:
    arguments: dict[str, object] = {"title": "Call back about the quote", "due_at": T0}
    return Task.create(**(arguments | changes))  # type: ignore[arg-type]


def test_create() -> None:
    local = datetime(2026, 3, 6, 18, 0, tzinfo=timezone(timedelta(hours=1)))
    task = _task(kind="call", priority="high", due_at=local, assignee="usr_ann", tags=["Q1"])
    assert task.status is S.OPEN
    assert task.kind is TaskKind.CALL
    assert task.priority is Priority.HIGH
    assert task.due_at == T0
    assert task.due_at.tzinfo is UTC
    assert task.tags == frozenset({"q1"})
    assert task.id.startswith("tsk_")


@pytest.mark.parametrize(
    "about", [new_customer_id(), new_lead_id(), new_opportunity_id(), new_case_id()]
)
def test_a_task_is_about_a_customer_lead_opportunity_or_case(about: str) -> None:
    assert _task(about_id=about).about_id == about


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"about_id": new_merge_id()}, "about_id"),
        ({"about_id": "Jane Doe"}, "about_id"),
        ({"due_at": datetime(2026, 3, 6)}, "due_at"),  # naive on purpose
        ({"due_at": "tomorrow"}, "due_at"),
        ({"kind": "fax"}, "kind"),
        ({"priority": "whenever"}, "priority"),
        ({"title": " "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"description": "x" * 100_001}, "description"),
        ({"description": "\ud800"}, "description"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        _task(**changes)
    assert path in info.value.paths
    assert "Jane" not in str(info.value)


def test_repr_shows_no_title() -> None:
    task = _task()
    assert "quote" not in repr(task)
    assert task.id in repr(task)


def test_complete_cancel_reopen() -> None:
    task = _task()
    interaction = new_interaction_id()
    done = task.complete(at=T0, interaction_id=interaction)
    assert done.status is S.DONE
    assert done.completed_at == T0
    assert done.interaction_id == interaction
    reopened = done.reopen()
    assert reopened.status is S.OPEN
    assert reopened.completed_at is None
    assert reopened.interaction_id is None
    assert reopened.cancel().status is S.CANCELLED
    with pytest.raises(ValidationError) as info:
        task.complete(interaction_id="ixn_nope")  # type: ignore[arg-type]
    assert info.value.paths == ("interaction_id",)
    with pytest.raises(ValidationError) as info:
        task.complete(at=datetime(2026, 1, 1))  # naive on purpose
    assert info.value.paths == ("at",)


def _move(task: Task, target: TaskStatus) -> Task:
    if target is S.DONE:
        return task.complete(at=T0)
    if target is S.CANCELLED:
        return task.cancel()
    return task.reopen()


@pytest.mark.parametrize(("start", "target"), list(itertools.product(S, S)))
def test_every_pair_of_statuses(start: TaskStatus, target: TaskStatus) -> None:
    task = _move(_task(), start) if start is not S.OPEN else _task()
    assert ((start, target) in ALLOWED) == (target in TASK_TRANSITIONS[start])
    if (start, target) in ALLOWED:
        assert _move(task, target).status is target
    else:
        with pytest.raises(InvalidTransition):
            _move(task, target)


def test_completion_fields_belong_to_done_tasks() -> None:
    task = _task()
    with pytest.raises(ValidationError) as info:
        attrs.evolve(task, completed_at=T0)
    assert info.value.paths == ("completed_at",)
    with pytest.raises(ValidationError) as info:
        attrs.evolve(task, status=S.DONE)
    assert info.value.paths == ("completed_at",)
    with pytest.raises(ValidationError) as info:
        attrs.evolve(task, interaction_id=new_interaction_id())
    assert info.value.paths == ("interaction_id",)


def test_is_overdue() -> None:
    task = _task(due_at=T0)
    assert not task.is_overdue(T0)
    assert task.is_overdue(T0 + timedelta(microseconds=1))
    assert not task.complete(at=T0).is_overdue(T0 + timedelta(days=1))
    assert not _task(due_at=None).is_overdue(T0)
    with pytest.raises(ValidationError) as info:
        task.is_overdue(datetime(2026, 3, 7))  # naive on purpose
    assert info.value.paths == ("at",)


_MOVES = st.lists(st.sampled_from(S), max_size=10)


@given(_MOVES)
def test_every_sequence_of_moves_obeys_the_machine(moves: list[TaskStatus]) -> None:
    task = _task()
    for target in moves:
        if (task.status, target) in ALLOWED:
            task = _move(task, target)
            assert task.status is target
            assert (task.completed_at is not None) == (target is S.DONE)
        else:
            with pytest.raises(InvalidTransition):
                _move(task, target)


@given(tasks())
def test_drawn_tasks_round_trip(task: Task) -> None:
    assert from_dict(Task, to_dict(task)) == task
    assert (task.completed_at is not None) == (task.status is S.DONE)


def test_bookkeeping_is_checked_on_every_work_item() -> None:
    from crmcore import Case, Opportunity, Pipeline

    pipeline = Pipeline.create(
        "p",
        "P",
        [
            {"id": "a", "name": "A", "probability": "0.5"},
            {"id": "w", "name": "W", "probability": 1, "status": "won"},
        ],
    )
    customer = new_customer_id()
    items = [
        _task(),
        Case.create(subject="Help", customer_id=customer),
        Opportunity.create(name="Deal", customer_id=customer, pipeline=pipeline),
    ]
    for item in items:
        for changes, path in [
            ({"version": -1}, "version"),
            ({"created_at": datetime(2026, 1, 1)}, "created_at"),  # naive on purpose
            ({"tags": 5}, "tags"),
            ({"custom_fields": {"a": 1}}, "custom_fields"),
        ]:
            with pytest.raises(ValidationError) as info:
                attrs.evolve(item, **changes)  # type: ignore[misc, arg-type]
            assert info.value.paths == (path,)


def test_repointed() -> None:
    old, new = new_customer_id(), new_customer_id()
    task = _task(about_id=old)
    assert task.repointed(old, new).about_id == new
    assert task.repointed(new_customer_id(), new) == task
    with pytest.raises(ValidationError) as info:
        task.repointed(old, "Jane")
    assert info.value.paths == ("about_id",)


@given(tasks(edge=True))
def test_edge_tasks_round_trip(task: Task) -> None:
    assert from_dict(Task, to_dict(task)) == task
