"""crmcore.agenda: completing tasks with their interaction, overdue and due-today lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Channel,
    Direction,
    Interaction,
    InvalidTransition,
    NotFound,
    Task,
    TaskStatus,
    ValidationError,
)
from crmcore.agenda import complete_task, due_today, overdue
from crmcore.events import (
    DomainEvent,
    EventDispatcher,
    EventRecorder,
    TaskCompleted,
)
from crmcore.ids import CustomerId, new_customer_id, new_task_id
from crmcore.testing._stand_ins import stand_in_customer, store_referenced
from tests.services.work import BASE, WORK_FACTORIES

STORES = pytest.mark.parametrize(
    "make_store", list(WORK_FACTORIES.values()), ids=list(WORK_FACTORIES)
)
ASSIGNEES = ("usr_ana", "usr_bo", None)


def _call(customer_id: CustomerId, at: datetime, external_id: str | None = None) -> Interaction:
    return Interaction.log(
        channel=Channel.PHONE_CALL,
        direction=Direction.OUTBOUND,
        occurred_at=at,
        customer_id=customer_id,
        external_id=external_id,
    )


@STORES
def test_completing_logs_the_interaction_and_links_it_in_one_step(
    make_store: Callable[[], Any],
) -> None:
    customer_id = new_customer_id()
    with make_store() as store:
        store.customers.add(stand_in_customer(customer_id))  # what it is about
        task = store.tasks.add(
            Task.create(title="Call back", about_id=customer_id, due_at=BASE, assignee="usr_ana")
        )
        dispatcher = EventDispatcher()
        recorder = EventRecorder(dispatcher)
        call = _call(customer_id, BASE + timedelta(minutes=5), external_id="pbx-1")
        done = complete_task(store, task.id, interaction=call, events=dispatcher)
        assert done.status is TaskStatus.DONE
        assert done.interaction_id == call.id
        assert done.completed_at == call.occurred_at  # when the call happened
        assert store.tasks.get(task.id) == done
        assert store.interactions.get(call.id).occurred_at == call.occurred_at
        assert [type(e).__name__ for e in recorder.events] == ["InteractionLogged", "TaskCompleted"]
        assert recorder.of_type(TaskCompleted)[0].interaction_id == call.id

        # A retry with the same call (same provider id, a new object) writes nothing.
        again = complete_task(
            store,
            task.id,
            interaction=_call(customer_id, call.occurred_at, "pbx-1"),
            events=dispatcher,
        )
        assert again == done
        assert len(recorder.events) == 2
        assert store.interactions.list_for(customer_id, limit=None).items == (
            store.interactions.get(call.id),
        )
        # Done with another interaction: that is a second completion, refused.
        with pytest.raises(InvalidTransition):
            complete_task(store, task.id, interaction=_call(customer_id, BASE))


@STORES
def test_a_raising_subscriber_leaves_neither_the_interaction_nor_the_task_written(
    make_store: Callable[[], Any],
) -> None:
    customer_id = new_customer_id()
    with make_store() as store:
        store.customers.add(stand_in_customer(customer_id))  # what it is about
        task = store.tasks.add(Task.create(title="Send the quote", about_id=customer_id))
        dispatcher = EventDispatcher()

        def refuse(event: DomainEvent) -> None:
            raise RuntimeError("outbox full")

        dispatcher.subscribe(TaskCompleted, refuse)
        email = _call(customer_id, BASE)
        with pytest.raises(RuntimeError):
            complete_task(store, task.id, interaction=email, events=dispatcher)
        assert store.tasks.get(task.id) == task
        with pytest.raises(NotFound):
            store.interactions.get(email.id)


@STORES
def test_completing_without_an_interaction_and_refusals(make_store: Callable[[], Any]) -> None:
    with make_store() as store:
        task = store.tasks.add(Task.create(title="Tidy the notes"))
        at = datetime(2025, 3, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))
        done = complete_task(store, task.id, at=at)
        assert done.completed_at == at
        assert done.completed_at.tzinfo is UTC
        assert done.interaction_id is None
        cancelled = store.tasks.add(Task.create(title="Drop it").cancel())
        with pytest.raises(InvalidTransition):
            complete_task(store, cancelled.id)
        with pytest.raises(NotFound):
            complete_task(store, new_task_id())
        for call, field in (
            (lambda: complete_task(store, "nope"), "task_id"),
            (lambda: complete_task(store, task.id, interaction="call"), "interaction"),  # type: ignore[arg-type]
            (lambda: complete_task(store, task.id, at=datetime(2025, 1, 1)), "at"),
            (lambda: overdue(store, assignee=""), "assignee"),
            (lambda: due_today(store, assignee=None, tz="Mars/Olympus"), "tz"),
            (lambda: due_today(store, assignee=None, tz="../../etc/passwd"), "tz"),
            (lambda: due_today(store, assignee=None, tz=5), "tz"),  # type: ignore[arg-type]
            (lambda: overdue(object()), "store"),  # type: ignore[arg-type]
        ):
            with pytest.raises(ValidationError) as caught:
                call()
            assert caught.value.paths == (field,)


@st.composite
def agenda(draw: st.DrawFn) -> list[Task]:
    """Tasks due within four days of BASE (or undated), some done or cancelled."""
    tasks = []
    for _ in range(draw(st.integers(0, 15))):
        minutes = draw(st.none() | st.integers(-4 * 24 * 60, 4 * 24 * 60))
        task = Task.create(
            title="Follow up",
            assignee=draw(st.sampled_from(ASSIGNEES)),
            due_at=None if minutes is None else BASE + timedelta(minutes=minutes),
        )
        status = draw(st.sampled_from(TaskStatus))
        if status is TaskStatus.DONE:
            task = task.complete(at=BASE)
        elif status is TaskStatus.CANCELLED:
            task = task.cancel()
        tasks.append(task)
    return tasks


def _order(tasks: list[Task]) -> list[str]:
    return [t.id for t in sorted(tasks, key=lambda t: (t.due_at or BASE, t.id))]


@STORES
@given(
    tasks=agenda(),
    offset=st.integers(-3 * 24 * 60, 3 * 24 * 60),
    assignee=st.sampled_from(ASSIGNEES),
)
def test_overdue_is_every_open_task_due_before_now(
    make_store: Callable[[], Any], tasks: list[Task], offset: int, assignee: str | None
) -> None:
    now = BASE + timedelta(minutes=offset)
    expected = [
        t
        for t in tasks
        if t.status is TaskStatus.OPEN
        and t.due_at is not None
        and t.due_at < now
        and (assignee is None or t.assignee == assignee)
    ]
    with make_store() as store:
        store_referenced(store, tasks)
        store.tasks.add_many(tasks)
        found = overdue(store, assignee=assignee, at=now)
    assert [t.id for t in found] == _order(expected)
    assert all(t.is_overdue(now) for t in found)


# Zones whose days are not all 24 hours long, or whose midnight can be missing.
AWKWARD_ZONES = (
    "America/Santiago",  # springs forward at midnight: 00:00 does not exist
    "America/Havana",  # the same, and falls back at 01:00
    "Australia/Lord_Howe",  # a half-hour change
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "Asia/Kathmandu",  # +05:45
    "Europe/Berlin",
    "America/Los_Angeles",
)


@STORES
@given(
    zone=st.sampled_from(AWKWARD_ZONES).map(ZoneInfo) | st.timezones(),
    now=st.datetimes(
        min_value=datetime(2011, 12, 25), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    minutes=st.lists(st.integers(-2 * 24 * 60, 2 * 24 * 60), max_size=12),
    assignee=st.sampled_from(ASSIGNEES),
)
def test_due_today_is_the_local_date_in_the_assignees_zone(
    make_store: Callable[[], Any],
    zone: ZoneInfo,
    now: datetime,
    minutes: list[int],
    assignee: str | None,
) -> None:
    tasks = [
        Task.create(
            title="Ring",
            assignee=ASSIGNEES[i % len(ASSIGNEES)],
            due_at=now + timedelta(minutes=m),
        )
        for i, m in enumerate(minutes)
    ]
    today = now.astimezone(zone).date()
    expected = [
        t
        for t in tasks
        if t.due_at is not None
        and t.due_at.astimezone(zone).date() == today
        and (assignee is None or t.assignee == assignee)
    ]
    with make_store() as store:
        store_referenced(store, tasks)
        store.tasks.add_many(tasks)
        found = due_today(store, assignee=assignee, tz=zone, at=now)
    assert [t.id for t in found] == _order(expected)


@STORES
def test_due_today_across_a_spring_forward_midnight(make_store: Callable[[], Any]) -> None:
    # Santiago, 2024-09-08: clocks went from 23:59:59 on the 7th to 01:00 on the 8th.
    zone = ZoneInfo("America/Santiago")
    day_start = datetime(2024, 9, 8, 4, tzinfo=UTC)  # 01:00 local, the first moment of the day
    tasks = [
        Task.create(title="last of the 7th", due_at=day_start - timedelta(seconds=1)),
        Task.create(title="first of the 8th", due_at=day_start),
        Task.create(title="last of the 8th", due_at=datetime(2024, 9, 9, 2, 59, tzinfo=UTC)),
        Task.create(title="first of the 9th", due_at=datetime(2024, 9, 9, 3, tzinfo=UTC)),
    ]
    with make_store() as store:
        store_referenced(store, tasks)
        store.tasks.add_many(tasks)
        found = due_today(store, assignee=None, tz="America/Santiago", at=day_start)
    assert [t.id for t in found] == [tasks[1].id, tasks[2].id]
    assert {t.due_at.astimezone(zone).date() for t in found if t.due_at} == {
        day_start.astimezone(zone).date()
    }
