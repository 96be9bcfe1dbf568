"""The event-publishing write helpers: one event per write, none on rollback."""

from __future__ import annotations

from typing import Any

import pytest

from crmcore import (
    Channel,
    Customer,
    Direction,
    Interaction,
    InvalidTransition,
    Lead,
    LeadStatus,
    ValidationError,
)
from crmcore.events import (
    CustomerCreated,
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    EventRecorder,
    InteractionLogged,
    LeadStatusChanged,
)
from crmcore.storage import Store
from crmcore.writes import (
    add_customer,
    add_lead,
    change_lead_status,
    log_interaction,
    update_customer,
)
from tests.merge.records import BASE


def test_each_write_publishes_its_event(any_store: Store) -> None:
    dispatcher = EventDispatcher()
    recorder = EventRecorder(dispatcher)
    ada = add_customer(any_store, Customer.create(name="Ada"), events=dispatcher)
    ada = update_customer(any_store, ada.add_tag("vip").assigned_to("u1"), events=dispatcher)
    same = update_customer(any_store, ada, events=dispatcher)
    assert same == ada  # nothing changed: nothing written, nothing published
    lead = add_lead(any_store, Lead.create(name="Grace"), events=dispatcher)
    lead = change_lead_status(any_store, lead.id, LeadStatus.CONTACTED, events=dispatcher)
    mail = Interaction.log(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=BASE,
        customer_id=ada.id,
        external_id="msg-1",
    )
    log_interaction(any_store, mail, events=dispatcher)
    again = Interaction.log(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=BASE,
        customer_id=ada.id,
        external_id="msg-1",
    )
    assert log_interaction(any_store, again, events=dispatcher).id == mail.id
    assert [type(e) for e in recorder.events] == [
        CustomerCreated,
        CustomerUpdated,
        LeadStatusChanged,
        LeadStatusChanged,
        InteractionLogged,
    ]
    assert recorder.of_type(CustomerUpdated)[0].fields == ("tags", "owner")
    assert [(e.old_status, e.new_status) for e in recorder.of_type(LeadStatusChanged)] == [
        ("", "new"),
        ("new", "contacted"),
    ]
    assert recorder.of_type(InteractionLogged)[0].record_ids == (ada.id,)


def test_a_raising_subscriber_undoes_the_write(any_store: Store) -> None:
    dispatcher = EventDispatcher()

    def refuse(event: DomainEvent) -> None:
        raise RuntimeError("subscriber down")

    dispatcher.subscribe(DomainEvent, refuse)
    with pytest.raises(RuntimeError):
        add_customer(any_store, Customer.create(name="Ada"), events=dispatcher)
    assert any_store.customers.count() == 0
    ada = any_store.customers.add(Customer.create(name="Ada"))
    with pytest.raises(RuntimeError):
        update_customer(any_store, ada.add_tag("vip"), events=dispatcher)
    assert any_store.customers.get(ada.id) == ada


def test_conversion_is_refused_outside_convert_lead(any_store: Store) -> None:
    lead = any_store.leads.add(Lead.create(name="Grace"))
    with pytest.raises(InvalidTransition):
        change_lead_status(any_store, lead.id, LeadStatus.CONVERTED)


def test_something_else_as_events_is_refused_and_writes_nothing(any_store: Store) -> None:
    junk: Any = [EventRecorder()]
    with pytest.raises(ValidationError) as info:
        add_customer(any_store, Customer.create(name="Ada"), events=junk)
    assert info.value.paths == ("events",)
    assert any_store.customers.count() == 0
