"""Support cases: the state machine declared as data (every pair), history, response times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Case,
    CaseEvent,
    CaseStatus,
    Channel,
    Interaction,
    InvalidTransition,
    Priority,
    ValidationError,
    from_dict,
    from_json,
    to_dict,
    to_json,
)
from crmcore.cases import CASE_TRANSITIONS
from crmcore.ids import CaseId, new_case_id, new_customer_id
from crmcore.testing.strategies import case_ids, cases, interactions

S = CaseStatus
# The machine written out independently of CASE_TRANSITIONS.
ALLOWED = {
    (S.NEW, S.OPEN),
    (S.NEW, S.RESOLVED),
    (S.NEW, S.CLOSED),
    (S.OPEN, S.WAITING_ON_CUSTOMER),
    (S.OPEN, S.RESOLVED),
    (S.OPEN, S.CLOSED),
    (S.WAITING_ON_CUSTOMER, S.OPEN),
    (S.WAITING_ON_CUSTOMER, S.RESOLVED),
    (S.WAITING_ON_CUSTOMER, S.CLOSED),
    (S.RESOLVED, S.OPEN),
    (S.RESOLVED, S.CLOSED),
}
T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CUSTOMER = new_customer_id()


def _case(**changes: object) -> Case:
    arguments: dict[str, object] = {
        "subject": "My order never arrived",
        "customer_id": CUSTOMER,
        "reported_at": T0,
    }
    return Case.create(**(arguments | changes))  # type: ignore[arg-type]


def test_create() -> None:
    case = _case(channel="email", priority="urgent", description="Order 1234\nStill waiting.")
    assert case.status is S.NEW
    assert case.channel is Channel.EMAIL
    assert case.priority is Priority.URGENT
    assert case.history == (CaseEvent(S.NEW, T0),)
    assert case.description == "Order 1234\nStill waiting."
    assert _case().channel is Channel.WEB_FORM
    assert case.first_response_time is None
    assert case.resolution_time is None


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"customer_id": "Jane Doe"}, "customer_id"),
        ({"channel": "pigeon"}, "channel"),
        ({"priority": "meh"}, "priority"),
        ({"subject": ""}, "subject"),
        ({"reported_at": datetime(2026, 2, 1)}, "reported_at"),  # naive on purpose
        ({"custom_fields": {"": 1}}, "custom_fields"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        _case(**changes)
    assert any(p.startswith(path) for p in info.value.paths)
    assert "Jane" not in str(info.value)


def test_repr_shows_no_subject() -> None:
    case = _case()
    assert "order" not in repr(case)
    assert case.id in repr(case)


def test_from_web_form_to_resolution() -> None:
    case = _case().responded(at=T0 + HOUR).transition_to("open", at=T0 + HOUR)
    waiting = case.transition_to(S.WAITING_ON_CUSTOMER, at=T0 + 2 * HOUR)
    resolved = waiting.transition_to(S.RESOLVED, at=T0 + 5 * HOUR)
    assert resolved.first_response_time == HOUR
    assert resolved.resolution_time == 5 * HOUR
    assert resolved.resolved_at == T0 + 5 * HOUR
    # Reopening clears the resolution; the next one counts.
    reopened = resolved.transition_to(S.OPEN, at=T0 + 6 * HOUR)
    assert reopened.resolved_at is None
    again = reopened.transition_to(S.RESOLVED, at=T0 + 8 * HOUR)
    closed = again.transition_to(S.CLOSED, at=T0 + 9 * HOUR)
    assert closed.resolution_time == 8 * HOUR
    assert closed.closed_at == T0 + 9 * HOUR
    assert closed.is_closed
    assert [e.status for e in closed.history] == [
        S.NEW, S.OPEN, S.WAITING_ON_CUSTOMER, S.RESOLVED, S.OPEN, S.RESOLVED, S.CLOSED,
    ]  # fmt: skip
    assert from_json(Case, to_json(closed)) == closed


def test_responded_sets_the_first_response_once() -> None:
    case = _case().responded(at=T0 + HOUR)
    assert case.responded(at=T0 + 2 * HOUR).first_response_at == T0 + HOUR
    with pytest.raises(ValidationError) as info:
        _case().responded(at=T0 - HOUR)
    assert info.value.paths == ("at",)


def test_moves_in_time_order() -> None:
    with pytest.raises(ValidationError) as info:
        _case().transition_to(S.OPEN, at=T0 - HOUR)
    assert info.value.paths == ("at",)
    with pytest.raises(ValidationError) as info:
        _case().transition_to("sleeping")
    assert info.value.paths == ("status",)


@pytest.mark.parametrize(("start", "target"), list(itertools.product(S, S)))
def test_every_pair_of_statuses(start: CaseStatus, target: CaseStatus) -> None:
    case = _case()
    path = {S.NEW: [], S.OPEN: [S.OPEN], S.WAITING_ON_CUSTOMER: [S.OPEN, S.WAITING_ON_CUSTOMER]}
    path |= {S.RESOLVED: [S.RESOLVED], S.CLOSED: [S.CLOSED]}
    for step in path[start]:
        case = case.transition_to(step, at=T0)
    assert case.status is start
    assert ((start, target) in ALLOWED) == (target in CASE_TRANSITIONS[start])
    if (start, target) in ALLOWED:
        assert case.transition_to(target, at=T0).status is target
    else:
        with pytest.raises(InvalidTransition):
            case.transition_to(target, at=T0)


def test_derived_fields_must_agree_with_the_history() -> None:
    case = _case().transition_to(S.RESOLVED, at=T0 + HOUR)
    for changes, path in [
        ({"status": S.OPEN}, "status"),
        ({"resolved_at": None}, "resolved_at"),
        ({"closed_at": T0}, "closed_at"),
        ({"history": ()}, "history"),
        ({"reported_at": T0 - HOUR}, "history[0].at"),
        (
            {"history": (CaseEvent(S.NEW, T0), CaseEvent(S.CLOSED, T0, S.OPEN))},
            "history[1].from_status",
        ),
        ({"first_response_at": T0 - HOUR}, "first_response_at"),
    ]:
        with pytest.raises(ValidationError) as info:
            attrs.evolve(case, **cast("dict[str, Any]", changes))
        assert path in info.value.paths
    sneaky = (CaseEvent(S.NEW, T0), CaseEvent(S.WAITING_ON_CUSTOMER, T0, S.NEW))
    with pytest.raises(ValidationError) as info:
        attrs.evolve(case, history=sneaky, status=S.WAITING_ON_CUSTOMER, resolved_at=None)
    assert info.value.paths == ("history[1].status",)


@given(st.lists(st.tuples(st.sampled_from(S), st.integers(0, 5)), max_size=10))
def test_every_sequence_of_moves_obeys_the_machine(moves: list[tuple[CaseStatus, int]]) -> None:
    case, at = _case(), T0
    for target, hours in moves:
        when = at + hours * HOUR
        if (case.status, target) not in ALLOWED:
            with pytest.raises(InvalidTransition):
                case.transition_to(target, at=when)
            continue
        before, at = case, when
        case = case.transition_to(target, at=when)
        assert case.history[:-1] == before.history
        assert case.history[-1] == CaseEvent(target, when, before.status)
        assert case.status is target
        if target is S.RESOLVED:
            assert case.resolution_time == when - T0
        elif target is not S.CLOSED:
            assert case.resolved_at is None
    assert from_dict(Case, to_dict(case)) == case


@given(cases())
def test_drawn_cases_obey_the_machine_and_round_trip(case: Case) -> None:
    assert case.history[0].status is S.NEW
    for before, event in zip(case.history, case.history[1:], strict=False):
        assert (before.status, event.status) in ALLOWED
        assert before.at <= event.at
    assert case.status is case.history[-1].status
    assert from_dict(Case, to_dict(case)) == case


def test_an_interaction_belongs_to_a_case() -> None:
    case_id = new_case_id()
    logged = Interaction.log(
        channel="web_form", direction="inbound", occurred_at=T0, customer_id=CUSTOMER,
        case_id=case_id,
    )  # fmt: skip
    assert logged.case_id == case_id
    assert from_dict(Interaction, to_dict(logged)) == logged
    with pytest.raises(ValidationError) as info:
        attrs.evolve(logged, case_id=CaseId("cas_nope"))
    assert info.value.paths == ("case_id",)


def test_an_interaction_document_without_case_id_still_loads() -> None:
    logged = Interaction.log(
        channel="email", direction="inbound", occurred_at=T0, customer_id=CUSTOMER
    )
    old = to_dict(logged)
    del old["case_id"]
    assert from_dict(Interaction, old) == logged


@given(st.data())
def test_interactions_carry_a_case_only_when_asked(data: st.DataObject) -> None:
    pool = data.draw(st.lists(case_ids(), min_size=1, max_size=3))
    assert data.draw(interactions()).case_id is None
    drawn = data.draw(interactions(case_ids=pool))
    assert drawn.case_id is None or drawn.case_id in pool


def test_repointed() -> None:
    survivor = new_customer_id()
    case = _case()
    assert case.repointed(CUSTOMER, survivor).customer_id == survivor
    assert case.repointed(survivor, CUSTOMER) == case


@given(cases(edge=True))
def test_edge_cases_round_trip(case: Case) -> None:
    assert from_json(Case, to_json(case)) == case
