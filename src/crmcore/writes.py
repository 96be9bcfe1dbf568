"""Writes that publish events: thin wrappers over the repositories for apps that subscribe.

Each runs in its own transaction and publishes before the commit (see
:mod:`crmcore.events`), so a raising subscriber undoes the write.

:func:`add_customer` and :func:`add_lead` also check for duplicates when given
a ``policy``: the check and the write are one step (see docs/dedup.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar, overload

import attrs

from crmcore import _store_ops as ops
from crmcore.customers import Customer
from crmcore.errors import InvalidTransition
from crmcore.events import (
    CustomerCreated,
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    InteractionLogged,
    LeadStatusChanged,
    publish,
)
from crmcore.ids import LeadId
from crmcore.interactions import Interaction
from crmcore.leads import Lead, LeadStatus

if TYPE_CHECKING:
    from crmcore.dedup import DuplicatePolicy, Match, RuleSet
    from crmcore.storage import Store

__all__ = [
    "CheckedWrite",
    "add_customer",
    "add_lead",
    "change_lead_status",
    "check_and_lock",
    "log_interaction",
    "update_customer",
]

R = TypeVar("R", Customer, Lead)


@attrs.frozen
class CheckedWrite(Generic[R]):
    """What a checked write stored, and the duplicates its check found.

    Attributes:
        record: the stored copy of the new record.
        matches: the stored records the new one matches or may match, best
            first (:class:`~crmcore.dedup.Match`; empty under ``ALLOW``). Under
            ``ALERT`` the record is stored all the same: these are for the
            caller to flag, review or merge.
    """

    record: R
    matches: tuple[Match, ...] = ()


def check_and_lock(
    store: Store,
    candidates: Sequence[Customer | Lead],
    *,
    rules: RuleSet | None = None,
) -> None:
    """Lock the match keys of ``candidates`` when the store needs it (call inside a transaction).

    A store whose transactions serialise writers (:class:`~crmcore.storage.InMemoryStore`,
    :class:`~crmcore.storage.SQLiteStore`) needs nothing. One that implements
    :class:`~crmcore.storage.SupportsKeyLocks` is asked to lock every
    :func:`~crmcore.dedup.selective_keys` of the candidates, so that no other
    writer can store the same person between the check that follows and the write.
    """
    from crmcore.dedup import selective_keys
    from crmcore.storage.protocols import SupportsKeyLocks

    if isinstance(store, SupportsKeyLocks):
        keys = {key for candidate in candidates for key in selective_keys(candidate, rules)}
        store.lock_keys(sorted(keys))


def _checked(
    store: Store, candidate: Customer | Lead, policy: DuplicatePolicy, rules: RuleSet | None
) -> tuple[Match, ...]:
    # Inside the caller's transaction: the locks (when the store needs them), then
    # the check; the write follows in the same transaction.
    from crmcore.dedup import DuplicatePolicy, guard_duplicates

    if not isinstance(policy, DuplicatePolicy):
        # A misspelt policy must not quietly act as ALERT where BLOCK was meant.
        from crmcore.errors import ValidationError

        raise ValidationError("policy", "must be a DuplicatePolicy (ALLOW, ALERT or BLOCK)")
    if policy is DuplicatePolicy.ALLOW:
        return ()
    check_and_lock(store, [candidate], rules=rules)
    return tuple(guard_duplicates(candidate, store, policy=policy, rules=rules))


def _add(
    store: Store,
    record: R,
    policy: DuplicatePolicy | None,
    rules: RuleSet | None,
    events: EventDispatcher | None,
    created: Callable[[R], DomainEvent],
) -> R | CheckedWrite[R]:
    # add_customer and add_lead differ only in the event they publish: the check,
    # the write and the publishing are one transaction for both.
    with ops.transaction(store):
        matches = () if policy is None else _checked(store, record, policy, rules)
        stored = ops.add_record(store, record)
        publish(events, [created(stored)])
    return stored if policy is None else CheckedWrite(stored, matches)


@overload
def add_customer(
    store: Store, customer: Customer, *, events: EventDispatcher | None = None
) -> Customer: ...


@overload
def add_customer(
    store: Store,
    customer: Customer,
    *,
    policy: DuplicatePolicy,
    rules: RuleSet | None = None,
    events: EventDispatcher | None = None,
) -> CheckedWrite[Customer]: ...


def add_customer(
    store: Store,
    customer: Customer,
    *,
    policy: DuplicatePolicy | None = None,
    rules: RuleSet | None = None,
    events: EventDispatcher | None = None,
) -> Customer | CheckedWrite[Customer]:
    """Store a new customer and publish ``CustomerCreated``; with ``policy``, check first.

    Without ``policy`` the customer is stored as it is and returned. With one,
    the duplicate check (:func:`crmcore.dedup.guard_duplicates` under
    ``rules``) and the write run in one transaction, after the candidate's
    match keys are locked on stores that need it (:func:`check_and_lock`):
    of several writers adding one person at once, exactly one stores it
    under ``BLOCK``. The result is then a :class:`CheckedWrite` holding the
    stored customer and the matches found.

    Raises:
        DuplicateDetected: under ``BLOCK``, the customer MATCHes a stored one
            (``matches`` carries them); nothing is written.
        ValidationError: ``policy`` is not a :class:`~crmcore.dedup.DuplicatePolicy`.
    """
    return _add(store, customer, policy, rules, events, lambda c: CustomerCreated(customer_id=c.id))


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


@overload
def add_lead(store: Store, lead: Lead, *, events: EventDispatcher | None = None) -> Lead: ...


@overload
def add_lead(
    store: Store,
    lead: Lead,
    *,
    policy: DuplicatePolicy,
    rules: RuleSet | None = None,
    events: EventDispatcher | None = None,
) -> CheckedWrite[Lead]: ...


def add_lead(
    store: Store,
    lead: Lead,
    *,
    policy: DuplicatePolicy | None = None,
    rules: RuleSet | None = None,
    events: EventDispatcher | None = None,
) -> Lead | CheckedWrite[Lead]:
    """Store a new lead and publish ``LeadStatusChanged`` from nothing to its status.

    With ``policy``, the duplicate check (against stored leads and customers)
    and the write are one step, as for :func:`add_customer`, and the result
    is a :class:`CheckedWrite`.

    Raises:
        DuplicateDetected: under ``BLOCK``, the lead MATCHes a stored record.
        ValidationError: ``policy`` is not a :class:`~crmcore.dedup.DuplicatePolicy`.
    """
    return _add(
        store,
        lead,
        policy,
        rules,
        events,
        lambda r: LeadStatusChanged(lead_id=r.id, old_status="", new_status=r.status.value),
    )


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
