"""Writes that publish events: thin wrappers over the repositories for apps that subscribe.

Each runs in its own transaction and publishes before the commit (see
:mod:`crmcore.events`), so a raising subscriber undoes the write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from crmcore import _store_ops as ops
from crmcore.customers import Customer
from crmcore.errors import InvalidTransition
from crmcore.events import (
    CustomerCreated,
    CustomerUpdated,
    EventDispatcher,
    InteractionLogged,
    LeadStatusChanged,
    publish,
)
from crmcore.ids import LeadId
from crmcore.interactions import Interaction
from crmcore.leads import Lead, LeadStatus

if TYPE_CHECKING:
    from crmcore.storage import Store

__all__ = ["add_customer", "add_lead", "change_lead_status", "log_interaction", "update_customer"]


def add_customer(
    store: Store, customer: Customer, *, events: EventDispatcher | None = None
) -> Customer:
    """Store a new customer and publish ``CustomerCreated``."""
    with ops.transaction(store):
        stored = store.customers.add(customer)
        publish(events, [CustomerCreated(customer_id=stored.id)])
    return stored


def update_customer(
    store: Store, customer: Customer, *, events: EventDispatcher | None = None
) -> Customer:
    """Compare-and-set a changed customer and publish ``CustomerUpdated`` naming the fields.

    Nothing is written (and nothing published) when no field changed.
    """
    with ops.transaction(store):
        current = store.customers.get(customer.id)
        fields = tuple(
            f.name
            for f in attrs.fields(Customer)
            if f.name not in {"version", "created_at", "updated_at"}
            and getattr(current, f.name) != getattr(customer, f.name)
        )
        if not fields and current.version == customer.version:
            return current
        stored = store.customers.update(customer)
        publish(events, [CustomerUpdated(customer_id=stored.id, fields=fields)])
    return stored


def add_lead(store: Store, lead: Lead, *, events: EventDispatcher | None = None) -> Lead:
    """Store a new lead and publish ``LeadStatusChanged`` from nothing to its status."""
    with ops.transaction(store):
        stored = store.leads.add(lead)
        publish(
            events,
            [LeadStatusChanged(lead_id=stored.id, old_status="", new_status=stored.status.value)],
        )
    return stored


def change_lead_status(
    store: Store,
    lead_id: str,
    status: LeadStatus,
    *,
    reason: str | None = None,
    events: EventDispatcher | None = None,
) -> Lead:
    """Move a stored lead to ``status`` (the state machine applies) and publish
    ``LeadStatusChanged``. Converting goes through :func:`convert_lead`."""
    if status is LeadStatus.CONVERTED:
        raise InvalidTransition("convert a lead with convert_lead, which creates its customer")
    with ops.transaction(store):
        lead = store.leads.get(LeadId(lead_id))
        stored = store.leads.update(lead.transition_to(status, reason=reason))
        publish(
            events,
            [
                LeadStatusChanged(
                    lead_id=stored.id, old_status=lead.status.value, new_status=stored.status.value
                )
            ],
        )
    return stored


def log_interaction(
    store: Store, interaction: Interaction, *, events: EventDispatcher | None = None
) -> Interaction:
    """Store an interaction and publish ``InteractionLogged``.

    An interaction whose ``external_id`` was already ingested returns the
    stored one and publishes nothing (ingestion is idempotent).
    """
    with ops.transaction(store):
        stored = store.interactions.add(interaction)
        if stored.id == interaction.id:
            publish(
                events,
                [InteractionLogged(interaction_id=stored.id, record_ids=stored.record_ids)],
            )
    return stored
