"""The synchronous event dispatcher: explicit, ordered, no global state."""

from __future__ import annotations

from typing import Any

import pytest

from crmcore.errors import ValidationError
from crmcore.events import (
    CustomerCreated,
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    EventRecorder,
    LeadConverted,
)


def test_subscribers_get_their_type_and_subclasses_in_order() -> None:
    dispatcher = EventDispatcher()
    seen: list[str] = []
    dispatcher.subscribe(CustomerCreated, lambda e: seen.append(f"created:{e.customer_id}"))
    dispatcher.subscribe(DomainEvent, lambda e: seen.append(type(e).__name__))
    dispatcher.publish(CustomerCreated(customer_id="cus_1"))
    dispatcher.publish(CustomerUpdated(customer_id="cus_1", fields=("tags",)))
    assert seen == ["created:cus_1", "CustomerCreated", "CustomerUpdated"]


def test_unsubscribe_stops_delivery_and_is_idempotent() -> None:
    dispatcher = EventDispatcher()
    recorder = EventRecorder()
    unsubscribe = dispatcher.subscribe(DomainEvent, recorder.events.append)
    dispatcher.publish(CustomerCreated(customer_id="cus_1"))
    unsubscribe()
    unsubscribe()
    dispatcher.publish(CustomerCreated(customer_id="cus_2"))
    assert len(recorder.events) == 1


def test_dispatchers_share_nothing() -> None:
    first, second = EventDispatcher(), EventDispatcher()
    recorder = EventRecorder(first)
    second.publish(LeadConverted(lead_id="led_1", customer_id="cus_1", created=True))
    assert recorder.events == []
    first.publish(LeadConverted(lead_id="led_1", customer_id="cus_1", created=True))
    assert recorder.of_type(LeadConverted)[0].created is True


def test_a_failing_subscriber_raises_to_the_publisher() -> None:
    dispatcher = EventDispatcher()

    def boom(event: DomainEvent) -> None:
        raise RuntimeError("subscriber failed")

    dispatcher.subscribe(DomainEvent, boom)
    with pytest.raises(RuntimeError, match="subscriber failed"):
        dispatcher.publish(CustomerCreated(customer_id="cus_1"))


def test_subscribing_checks_its_arguments_at_once() -> None:
    dispatcher = EventDispatcher()
    junk: Any = "CustomerCreated"
    with pytest.raises(ValidationError) as info:
        dispatcher.subscribe(junk, print)
    assert info.value.paths == ("event_type",)
    with pytest.raises(ValidationError) as info:
        dispatcher.subscribe(CustomerCreated, junk)
    assert info.value.paths == ("handler",)
    dispatcher.publish(CustomerCreated(customer_id="cus_x"))  # nothing bad was kept


def _event_classes() -> list[type[DomainEvent]]:
    import crmcore.events as module

    found = [getattr(module, name) for name in module.__all__]
    return [kind for kind in found if isinstance(kind, type) and issubclass(kind, DomainEvent)]


# What an event may carry: ids, field names, status values, flags and its time.
_ALLOWED_TYPES = {"str", "str | None", "tuple[str, ...]", "bool", "datetime"}


@pytest.mark.parametrize("kind", _event_classes(), ids=lambda kind: kind.__name__)
def test_events_carry_ids_and_names_only(kind: type[DomainEvent]) -> None:
    import attrs

    for field in attrs.fields(kind):
        assert field.type in _ALLOWED_TYPES, (kind.__name__, field.name)


def test_the_work_item_events() -> None:
    from crmcore.events import (
        CaseOpened,
        CaseStatusChanged,
        CaseUpdated,
        OpportunityCreated,
        OpportunityStageChanged,
        OpportunityUpdated,
        TaskCompleted,
        TaskCreated,
        TaskUpdated,
    )

    dispatcher = EventDispatcher()
    recorder = EventRecorder(dispatcher)
    events: list[DomainEvent] = [
        OpportunityCreated(opportunity_id="opp_1"),
        OpportunityUpdated(opportunity_id="opp_1", fields=("amount",)),
        OpportunityStageChanged(
            opportunity_id="opp_1", from_stage_id="cart", to_stage_id="paid", status="won"
        ),
        TaskCreated(task_id="tsk_1"),
        TaskCompleted(task_id="tsk_1", interaction_id="ixn_1"),
        TaskUpdated(task_id="tsk_1", fields=("due_at",)),
        CaseOpened(case_id="cas_1"),
        CaseStatusChanged(case_id="cas_1", old_status="new", new_status="open"),
        CaseUpdated(case_id="cas_1", fields=("assignee",)),
    ]
    dispatcher.publish_all(events)
    assert recorder.events == events
    assert recorder.of_type(TaskCompleted)[0].interaction_id == "ixn_1"
    assert TaskCompleted(task_id="tsk_2").interaction_id is None
