"""crmcore.support: a case's thread, how it moves the case, and response and resolution times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Case,
    CaseStatus,
    Channel,
    Direction,
    Interaction,
    NotFound,
    ValidationError,
)
from crmcore.events import (
    CaseStatusChanged,
    DomainEvent,
    EventDispatcher,
    EventRecorder,
)
from crmcore.ids import CustomerId, new_case_id, new_customer_id
from crmcore.support import (
    CaseActivity,
    DurationStats,
    case_thread,
    first_response_time,
    log_case_interaction,
    resolution_time,
)
from crmcore.testing._stand_ins import stand_in_customer, store_referenced
from tests.services.work import BASE, WORK_FACTORIES

STORES = pytest.mark.parametrize(
    "make_store", list(WORK_FACTORIES.values()), ids=list(WORK_FACTORIES)
)


def _message(
    customer_id: CustomerId, direction: Direction, minutes: int, external_id: str | None = None
) -> Interaction:
    return Interaction.log(
        channel=Channel.EMAIL,
        direction=direction,
        occurred_at=BASE + timedelta(minutes=minutes),
        customer_id=customer_id,
        subject="Re: my order",
        external_id=external_id,
    )


@STORES
def test_a_thread_answers_waits_and_reopens_the_case(make_store: Callable[[], Any]) -> None:
    customer_id = new_customer_id()
    with make_store() as store:
        store.customers.add(stand_in_customer(customer_id))  # what it is about
        case = store.cases.add(
            Case.create(subject="Parcel missing", customer_id=customer_id, reported_at=BASE)
        )
        dispatcher = EventDispatcher()
        recorder = EventRecorder(dispatcher)

        reply = log_case_interaction(
            store, case.id, _message(customer_id, Direction.OUTBOUND, 30), events=dispatcher
        )
        assert isinstance(reply, CaseActivity)
        assert reply.created
        assert reply.interaction.case_id == case.id
        assert reply.case.first_response_at == BASE + timedelta(minutes=30)
        assert reply.case.first_response_time == timedelta(minutes=30)
        assert reply.case.status is CaseStatus.NEW  # answering does not change the status
        assert [type(e).__name__ for e in recorder.events] == ["InteractionLogged", "CaseUpdated"]

        waiting = store.cases.update(
            reply.case.transition_to(
                CaseStatus.OPEN, at=BASE + timedelta(minutes=31)
            ).transition_to(CaseStatus.WAITING_ON_CUSTOMER, at=BASE + timedelta(minutes=32))
        )
        second = log_case_interaction(
            store, case.id, _message(customer_id, Direction.OUTBOUND, 40), events=dispatcher
        )
        assert second.case == waiting  # a later reply is no first response: nothing changes
        answer = log_case_interaction(
            store, case.id, _message(customer_id, Direction.INBOUND, 90), events=dispatcher
        )
        assert answer.case.status is CaseStatus.OPEN
        assert answer.case.history[-1].from_status is CaseStatus.WAITING_ON_CUSTOMER
        assert answer.case.history[-1].at == BASE + timedelta(minutes=90)
        changed = recorder.of_type(CaseStatusChanged)
        assert [(e.old_status, e.new_status) for e in changed] == [("waiting_on_customer", "open")]
        assert store.cases.get(case.id) == answer.case

        thread = case_thread(store, case.id)
        assert [i.id for i in thread] == [
            answer.interaction.id,
            second.interaction.id,
            reply.interaction.id,
        ]
        assert case_thread(store, case.id, oldest_first=True) == thread[::-1]


@STORES
def test_the_customer_writing_opens_and_reopens_but_a_closed_case_stays_closed(
    make_store: Callable[[], Any],
) -> None:
    customer_id = new_customer_id()
    with make_store() as store:
        store.customers.add(stand_in_customer(customer_id))  # what it is about
        new = store.cases.add(Case.create(subject="Hi", customer_id=customer_id, reported_at=BASE))
        report = log_case_interaction(store, new.id, _message(customer_id, Direction.INBOUND, 0))
        assert report.case == new  # the message that raised the case leaves it new
        opened = log_case_interaction(store, new.id, _message(customer_id, Direction.INBOUND, 1))
        assert opened.case.status is CaseStatus.OPEN
        resolved = store.cases.update(
            opened.case.transition_to(CaseStatus.RESOLVED, at=BASE + timedelta(hours=1))
        )
        assert resolved.resolved_at is not None
        back = log_case_interaction(store, new.id, _message(customer_id, Direction.INBOUND, 120))
        assert back.case.status is CaseStatus.OPEN
        assert back.case.resolved_at is None
        closed = store.cases.update(
            back.case.transition_to(CaseStatus.CLOSED, at=BASE + timedelta(hours=3))
        )
        late = log_case_interaction(store, new.id, _message(customer_id, Direction.INBOUND, 200))
        assert late.case == closed
        assert late.interaction.case_id == new.id
        # An old message (imported later) moves the case at its last change, not before it.
        other = store.cases.add(
            Case.create(subject="Old", customer_id=customer_id, reported_at=BASE)
        )
        waiting = store.cases.update(
            other.transition_to(CaseStatus.OPEN, at=BASE + timedelta(hours=5)).transition_to(
                CaseStatus.WAITING_ON_CUSTOMER, at=BASE + timedelta(hours=6)
            )
        )
        old = log_case_interaction(store, other.id, _message(customer_id, Direction.INBOUND, 60))
        assert old.case.history[-1].at == waiting.history[-1].at


@STORES
def test_ingesting_twice_writes_nothing_and_a_raising_subscriber_writes_nothing(
    make_store: Callable[[], Any],
) -> None:
    customer_id = new_customer_id()
    with make_store() as store:
        store.customers.add(stand_in_customer(customer_id))  # what it is about
        case = store.cases.add(
            Case.create(subject="Refund", customer_id=customer_id, reported_at=BASE)
        )
        first = log_case_interaction(
            store, case.id, _message(customer_id, Direction.OUTBOUND, 5, external_id="<m1@x>")
        )
        again = log_case_interaction(
            store, case.id, _message(customer_id, Direction.OUTBOUND, 5, external_id="<m1@x>")
        )
        assert not again.created
        assert again.interaction == first.interaction
        assert again.case == first.case

        dispatcher = EventDispatcher()

        def refuse(event: DomainEvent) -> None:
            raise RuntimeError("subscriber down")

        dispatcher.subscribe(CaseStatusChanged, refuse)
        message = _message(customer_id, Direction.INBOUND, 10)
        with pytest.raises(RuntimeError):
            log_case_interaction(store, case.id, message, events=dispatcher)
        assert store.cases.get(case.id) == first.case
        with pytest.raises(NotFound):
            store.interactions.get(message.id)


@STORES
def test_bad_arguments_are_refused_by_name(make_store: Callable[[], Any]) -> None:
    customer_id = new_customer_id()
    with make_store() as store:
        store.customers.add(stand_in_customer(customer_id))  # what it is about
        case = store.cases.add(Case.create(subject="x", customer_id=customer_id, reported_at=BASE))
        message = _message(customer_id, Direction.INBOUND, 1)
        elsewhere = Interaction.log(
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            occurred_at=BASE,
            customer_id=customer_id,
            case_id=new_case_id(),
        )
        for call, field in (
            (lambda: log_case_interaction(store, "cus_1", message), "case_id"),
            (lambda: log_case_interaction(store, case.id, "hello"), "interaction"),  # type: ignore[arg-type]
            (lambda: log_case_interaction(store, case.id, elsewhere), "interaction.case_id"),
            (lambda: case_thread(store, "x"), "case_id"),
            (lambda: first_response_time(store, since=BASE, until=BASE), "until"),
            (
                lambda: resolution_time(
                    store, since=BASE, until=BASE + timedelta(1), channel="pigeon"
                ),
                "channel",
            ),
            (lambda: case_thread(object(), case.id), "store"),  # type: ignore[arg-type]
        ):
            with pytest.raises(ValidationError) as caught:
                call()
            assert caught.value.paths == (field,)
        with pytest.raises(NotFound):
            log_case_interaction(store, new_case_id(), message)
        with pytest.raises(NotFound):
            case_thread(store, new_case_id())


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A case reported within a month of BASE, maybe answered, maybe resolved."""
    reported = BASE + timedelta(minutes=draw(st.integers(0, 30 * 24 * 60)))
    case = Case.create(
        subject="Help",
        customer_id=new_customer_id(),
        reported_at=reported,
        assignee=draw(st.sampled_from(("usr_ana", "usr_bo", None))),
        channel=draw(st.sampled_from((Channel.WEB_FORM, Channel.EMAIL, Channel.CHAT))),
    )
    clock = reported
    if draw(st.booleans()):
        clock += timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
        case = case.responded(at=clock)
    if draw(st.booleans()):
        clock += timedelta(minutes=draw(st.integers(0, 10 * 24 * 60)))
        case = case.transition_to(CaseStatus.RESOLVED, at=clock)
    return case


@STORES
@given(
    items=st.lists(cases(), max_size=20),
    start=st.integers(0, 40 * 24 * 60),
    length=st.integers(1, 40 * 24 * 60),
    assignee=st.sampled_from(("usr_ana", None)),
)
def test_response_and_resolution_times_cover_the_cases_of_the_period(
    make_store: Callable[[], Any],
    items: list[Case],
    start: int,
    length: int,
    assignee: str | None,
) -> None:
    since = BASE + timedelta(minutes=start)
    until = since + timedelta(minutes=length)
    mine = [c for c in items if assignee is None or c.assignee == assignee]
    reported = [c for c in mine if since <= c.reported_at < until]
    resolved = [c for c in mine if c.resolved_at is not None and since <= c.resolved_at < until]
    with make_store() as store:
        store_referenced(store, items)
        store.cases.add_many(items)
        first = first_response_time(store, since=since, until=until, assignee=assignee)
        resolution = resolution_time(store, since=since, until=until, assignee=assignee)
    answered = [c.first_response_time for c in reported if c.first_response_time is not None]
    assert first == DurationStats.of(answered, pending=len(reported) - len(answered))
    assert resolution == DurationStats.of(
        c.resolution_time for c in resolved if c.resolution_time is not None
    )
    assert resolution.count == len(resolved)
