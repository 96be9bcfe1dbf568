"""Writes that publish events: thin wrappers over the repositories for apps that subscribe.

Each runs in its own transaction and publishes before the commit (see
:mod:`crmcore.events`), so a raising subscriber undoes the write. Each is one
:func:`crmcore.audit.audited` block: one audit entry per call, named after the
function (``operation="add_customer"``), ADD or UPDATE, and CONSENT for an
update that only records consent.

:func:`add_customer` and :func:`add_lead` also check for duplicates when given
a ``policy``: the check and the write are one step (see docs/dedup.md).
Opportunities, tasks and cases have theirs too (:func:`add_opportunity`,
:func:`move_opportunity`, :func:`add_task`, :func:`add_case`,
:func:`change_case_status` and an ``update_*`` each), on a store that keeps
them (:class:`~crmcore.storage.SupportsWorkItems`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import attrs

from crmcore import _store_ops as ops
from crmcore.audit import AuditAction, audited
from crmcore.cases import Case, CaseStatus
from crmcore.customers import Customer
from crmcore.errors import InvalidTransition
from crmcore.events import (
    CaseOpened,
    CaseStatusChanged,
    CaseUpdated,
    CustomerCreated,
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    InteractionLogged,
    LeadStatusChanged,
    OpportunityCreated,
    OpportunityStageChanged,
    OpportunityUpdated,
    TaskCompleted,
    TaskCreated,
    TaskUpdated,
    publish,
)
from crmcore.ids import CaseId, LeadId, OpportunityId
from crmcore.interactions import Interaction
from crmcore.leads import Lead, LeadStatus
from crmcore.opportunities import Opportunity, StageChange
from crmcore.pipelines import Pipeline
from crmcore.privacy._suppression import SuppressionPolicy, refuse_added, suppressed_fields
from crmcore.tasks import Task, TaskStatus

if TYPE_CHECKING:
    from crmcore.dedup import DuplicatePolicy, Match, RuleSet
    from crmcore.storage import Store

__all__ = [
    "CheckedWrite",
    "add_case",
    "add_customer",
    "add_lead",
    "add_opportunity",
    "add_task",
    "change_case_status",
    "change_lead_status",
    "check_and_lock",
    "log_interaction",
    "move_opportunity",
    "update_case",
    "update_customer",
    "update_opportunity",
    "update_task",
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
        suppressed: under ``suppression=ALERT``, the paths (``emails[0]``,
            ``phones[1]``) of the record's contact points on the store's
            suppression list (see :mod:`crmcore.privacy`): an erased person's
            address is back. Never the points themselves.
    """

    record: R
    matches: tuple[Match, ...] = ()
    suppressed: tuple[str, ...] = ()


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


def _suppression_policy(
    suppression: SuppressionPolicy | None, policy: DuplicatePolicy | None
) -> SuppressionPolicy | None:
    from crmcore.errors import ValidationError

    if suppression is not None and not isinstance(suppression, SuppressionPolicy):
        # A misspelt policy must not quietly let an erased address back in.
        raise ValidationError("suppression", "must be a SuppressionPolicy (BLOCK or ALERT) or None")
    if suppression is SuppressionPolicy.ALERT and policy is None:
        # Only a CheckedWrite can carry the alert: without one it would be lost.
        raise ValidationError("suppression", "ALERT needs a duplicate policy (a CheckedWrite)")
    return suppression


def _suppressed(
    store: Store, record: Customer | Lead, suppression: SuppressionPolicy | None
) -> tuple[str, ...]:
    # Inside the write's transaction, so the list read is the one the write commits against.
    from crmcore.errors import Suppressed

    if suppression is None:
        return ()
    fields = suppressed_fields(store, record)
    if fields and suppression is SuppressionPolicy.BLOCK:
        raise Suppressed(fields)
    return fields


def _add(
    store: Store,
    record: R,
    policy: DuplicatePolicy | None,
    rules: RuleSet | None,
    events: EventDispatcher | None,
    created: Callable[[R], DomainEvent],
    suppression: SuppressionPolicy | None,
) -> R | CheckedWrite[R]:
    # add_customer and add_lead differ only in the event they publish: the check,
    # the write and the publishing are one transaction for both.
    checked = _suppression_policy(suppression, policy)
    operation = "add_customer" if isinstance(record, Customer) else "add_lead"
    with audited(store, AuditAction.ADD, operation=operation):
        suppressed = _suppressed(store, record, checked)
        matches = () if policy is None else _checked(store, record, policy, rules)
        stored = ops.add_record(store, record)
        publish(events, [created(stored)])
    return stored if policy is None else CheckedWrite(stored, matches, suppressed)


@overload
def add_customer(
    store: Store,
    customer: Customer,
    *,
    events: EventDispatcher | None = None,
    suppression: SuppressionPolicy | None = ...,
) -> Customer: ...


@overload
def add_customer(
    store: Store,
    customer: Customer,
    *,
    policy: DuplicatePolicy,
    rules: RuleSet | None = None,
    events: EventDispatcher | None = None,
    suppression: SuppressionPolicy | None = ...,
) -> CheckedWrite[Customer]: ...


def add_customer(
    store: Store,
    customer: Customer,
    *,
    policy: DuplicatePolicy | None = None,
    rules: RuleSet | None = None,
    events: EventDispatcher | None = None,
    suppression: SuppressionPolicy | None = SuppressionPolicy.BLOCK,
) -> Customer | CheckedWrite[Customer]:
    """Store a new customer and publish ``CustomerCreated``; with ``policy``, check first.

    Without ``policy`` the customer is stored as it is and returned. With one,
    the duplicate check (:func:`crmcore.dedup.guard_duplicates` under
    ``rules``) and the write run in one transaction, after the candidate's
    match keys are locked on stores that need it (:func:`check_and_lock`):
    of several writers adding one person at once, exactly one stores it
    under ``BLOCK``. The result is then a :class:`CheckedWrite` holding the
    stored customer and the matches found.

    ``suppression`` decides what happens to a contact point on the store's
    suppression list (an erased person's, see :mod:`crmcore.privacy`): under
    ``BLOCK`` (the default) the write is refused; under ``ALERT`` (with a
    ``policy``) it is stored and :attr:`CheckedWrite.suppressed` names the
    points; ``None`` does not look. A store without a list suppresses nothing.

    Raises:
        DuplicateDetected: under ``BLOCK``, the customer MATCHes a stored one
            (``matches`` carries them); nothing is written.
        Suppressed: under ``suppression=BLOCK``, a contact point is on the
            suppression list (``fields`` names it); nothing is written.
        ValidationError: ``policy`` is not a :class:`~crmcore.dedup.DuplicatePolicy`,
            or ``suppression`` not a :class:`~crmcore.privacy.SuppressionPolicy`
            (or ``ALERT`` without a ``policy``).
    """
    return _add(
        store,
        customer,
        policy,
        rules,
        events,
        lambda c: CustomerCreated(customer_id=c.id),
        suppression,
    )


def update_customer(
    store: Store, customer: Customer, *, events: EventDispatcher | None = None
) -> Customer:
    """Compare-and-set a changed customer and publish ``CustomerUpdated`` naming the fields.

    Nothing is written (and nothing published) when no field changed.

    Raises:
        Suppressed: the update adds a contact point of someone erased from the
            store (a point the customer already held is not refused).
    """
    return _update(
        store,
        customer,
        events,
        lambda _, c, fields: [CustomerUpdated(customer_id=c.id, fields=fields)],
    )


W = TypeVar("W", Customer, Opportunity, Task, Case)
_BOOKKEEPING = frozenset({"version", "created_at", "updated_at"})
# An update that changes only these records consent: its audit entry says CONSENT.
_CONSENT_FIELDS = frozenset({"consent_events", "consents"})


def _entity(record: object) -> str:
    # The operation names of the audit trail: update_customer, add_task, ...
    return type(record).__name__.lower()


def _changed_fields(current: Any, new: Any) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in attrs.fields(type(new))
        if f.name not in _BOOKKEEPING and getattr(current, f.name) != getattr(new, f.name)
    )


def _update(
    store: Store,
    record: W,
    events: EventDispatcher | None,
    describe: Callable[[W, W, tuple[str, ...]], Iterable[DomainEvent]],
) -> W:
    """Compare-and-set ``record`` and publish ``describe(stored copy before, after, fields)``.

    Nothing is written (and nothing published) when no field changed.
    """
    with audited(store, AuditAction.UPDATE, operation=f"update_{_entity(record)}") as audit:
        current = ops.current_copy(store, record)
        if isinstance(record, Customer):
            # An erased person's address must not come back through an edit either.
            refuse_added(store, current, record)
        fields = _changed_fields(current, record)
        if fields and set(fields) <= _CONSENT_FIELDS:
            audit.relabel(AuditAction.CONSENT)
        if not fields and current.version == record.version:
            return current
        stored = ops.update_record(store, record)
        publish(events, list(describe(current, stored, fields)))
    return stored


@overload
def add_lead(
    store: Store,
    lead: Lead,
    *,
    events: EventDispatcher | None = None,
    suppression: SuppressionPolicy | None = ...,
) -> Lead: ...


@overload
def add_lead(
    store: Store,
    lead: Lead,
    *,
    policy: DuplicatePolicy,
    rules: RuleSet | None = None,
    events: EventDispatcher | None = None,
    suppression: SuppressionPolicy | None = ...,
) -> CheckedWrite[Lead]: ...


def add_lead(
    store: Store,
    lead: Lead,
    *,
    policy: DuplicatePolicy | None = None,
    rules: RuleSet | None = None,
    events: EventDispatcher | None = None,
    suppression: SuppressionPolicy | None = SuppressionPolicy.BLOCK,
) -> Lead | CheckedWrite[Lead]:
    """Store a new lead and publish ``LeadStatusChanged`` from nothing to its status.

    With ``policy``, the duplicate check (against stored leads and customers)
    and the write are one step, as for :func:`add_customer`, and the result
    is a :class:`CheckedWrite`; ``suppression`` is as for :func:`add_customer`.

    Raises:
        DuplicateDetected: under ``BLOCK``, the lead MATCHes a stored record.
        Suppressed: under ``suppression=BLOCK``, a contact point is on the
            suppression list; nothing is written.
        ValidationError: ``policy`` or ``suppression`` is not what it should be.
    """
    return _add(
        store,
        lead,
        policy,
        rules,
        events,
        lambda r: LeadStatusChanged(lead_id=r.id, old_status="", new_status=r.status.value),
        suppression,
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
    with audited(store, AuditAction.UPDATE, operation="change_lead_status"):
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
    with audited(store, AuditAction.ADD, operation="log_interaction"):
        stored = store.interactions.add(interaction)
        if stored.id == interaction.id:
            publish(
                events,
                [InteractionLogged(interaction_id=stored.id, record_ids=stored.record_ids)],
            )
    return stored


# --------------------------------------------------------------------------- work items


def _added(store: Store, item: W, event: Callable[[W], DomainEvent], events: Any) -> W:
    with audited(store, AuditAction.ADD, operation=f"add_{_entity(item)}"):
        stored = ops.add_record(store, item)
        publish(events, [event(stored)])
    return stored


def _stage_changes(before: Opportunity, after: Opportunity) -> list[DomainEvent]:
    # The history is append-only (the store refuses anything else): what is new is its tail.
    new: tuple[StageChange, ...] = after.stage_history[len(before.stage_history) :]
    return [
        OpportunityStageChanged(
            opportunity_id=after.id,
            from_stage_id=change.from_stage_id,
            to_stage_id=change.stage_id,
            status=change.status.value,
        )
        for change in new
    ]


def add_opportunity(
    store: Store, opportunity: Opportunity, *, events: EventDispatcher | None = None
) -> Opportunity:
    """Store a new opportunity and publish ``OpportunityCreated``.

    Raises:
        ValidationError: the store keeps no opportunities (naming ``store``).
    """
    return _added(store, opportunity, lambda o: OpportunityCreated(opportunity_id=o.id), events)


def update_opportunity(
    store: Store, opportunity: Opportunity, *, events: EventDispatcher | None = None
) -> Opportunity:
    """Compare-and-set a changed opportunity; publish ``OpportunityUpdated`` naming the
    fields, and ``OpportunityStageChanged`` for each stage change it appends."""

    def describe(
        before: Opportunity, after: Opportunity, fields: tuple[str, ...]
    ) -> list[DomainEvent]:
        updated = OpportunityUpdated(opportunity_id=after.id, fields=fields)
        return [updated, *_stage_changes(before, after)]

    return _update(store, opportunity, events, describe)


def move_opportunity(
    store: Store,
    opportunity_id: str,
    pipeline: Pipeline,
    stage_id: str,
    *,
    at: datetime | None = None,
    reason: str | None = None,
    reopen: bool = False,
    events: EventDispatcher | None = None,
) -> Opportunity:
    """Move a stored opportunity to ``stage_id`` of ``pipeline`` (see
    :meth:`~crmcore.Opportunity.move_to`) and publish ``OpportunityStageChanged``.

    Raises:
        NotFound: no such opportunity.
        InvalidTransition: a loss without a reason, or a closed deal without ``reopen``.
        ValidationError: a stage that is not in the pipeline, or ``at`` before the last move.
    """
    with audited(store, AuditAction.UPDATE, operation="move_opportunity"):
        current = ops.work_store(store).opportunities.get(OpportunityId(opportunity_id))
        moved = current.move_to(pipeline, stage_id, at=at, reason=reason, reopen=reopen)
        stored = ops.update_record(store, moved)
        publish(events, _stage_changes(current, stored))
    return stored


def add_task(store: Store, task: Task, *, events: EventDispatcher | None = None) -> Task:
    """Store a new task and publish ``TaskCreated`` (see :mod:`crmcore.agenda` to complete it)."""
    return _added(store, task, lambda t: TaskCreated(task_id=t.id), events)


def update_task(store: Store, task: Task, *, events: EventDispatcher | None = None) -> Task:
    """Compare-and-set a changed task; publish ``TaskUpdated`` naming the fields, and
    ``TaskCompleted`` when it became done."""

    def describe(before: Task, after: Task, fields: tuple[str, ...]) -> list[DomainEvent]:
        found: list[DomainEvent] = [TaskUpdated(task_id=after.id, fields=fields)]
        if after.status is TaskStatus.DONE and before.status is not TaskStatus.DONE:
            found.append(TaskCompleted(task_id=after.id, interaction_id=after.interaction_id))
        return found

    return _update(store, task, events, describe)


def _case_status_changed(before: Case, after: Case) -> list[DomainEvent]:
    if before.status is after.status:
        return []
    return [
        CaseStatusChanged(
            case_id=after.id, old_status=before.status.value, new_status=after.status.value
        )
    ]


def add_case(store: Store, case: Case, *, events: EventDispatcher | None = None) -> Case:
    """Store a new support case and publish ``CaseOpened``
    (see :mod:`crmcore.support` for its thread)."""
    return _added(store, case, lambda c: CaseOpened(case_id=c.id), events)


def update_case(store: Store, case: Case, *, events: EventDispatcher | None = None) -> Case:
    """Compare-and-set a changed case; publish ``CaseUpdated`` naming the fields, and
    ``CaseStatusChanged`` when its status changed."""

    def describe(before: Case, after: Case, fields: tuple[str, ...]) -> list[DomainEvent]:
        return [CaseUpdated(case_id=after.id, fields=fields), *_case_status_changed(before, after)]

    return _update(store, case, events, describe)


def change_case_status(
    store: Store,
    case_id: str,
    status: CaseStatus | str,
    *,
    at: datetime | None = None,
    events: EventDispatcher | None = None,
) -> Case:
    """Move a stored case to ``status`` (``CASE_TRANSITIONS`` apply) and publish
    ``CaseStatusChanged``.

    Raises:
        NotFound: no such case.
        InvalidTransition: the state machine does not allow the move.
    """
    with audited(store, AuditAction.UPDATE, operation="change_case_status"):
        current = ops.work_store(store).cases.get(CaseId(case_id))
        stored = ops.update_record(store, current.transition_to(status, at=at))
        publish(events, _case_status_changed(current, stored))
    return stored
