"""Support cases at work: logging the thread, reading it, and first-response and resolution times.

A case's thread is the interactions whose ``case_id`` is the case
(:meth:`~crmcore.storage.InteractionRepository.list_for` with the case id).
:func:`log_case_interaction` stores a message of the thread and moves the
case the way a help desk does: the first outbound reply sets
``first_response_at``; a customer's message opens a new case, and reopens one
waiting on the customer or resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from crmcore import _store_ops as ops
from crmcore._reports import (
    DurationStats,
    check_period,
    check_work_store,
    iter_matching,
    optional_key,
)
from crmcore._repr import id_of
from crmcore._validation import enum_member
from crmcore.audit import AuditAction, audited
from crmcore.cases import Case, CaseStatus
from crmcore.errors import ValidationError
from crmcore.events import (
    CaseStatusChanged,
    CaseUpdated,
    DomainEvent,
    EventDispatcher,
    InteractionLogged,
    publish,
)
from crmcore.ids import CaseId, is_case_id
from crmcore.interactions import Channel, Direction, Interaction

if TYPE_CHECKING:
    from crmcore.storage import WorkStore

__all__ = [
    "CaseActivity",
    "DurationStats",
    "case_thread",
    "first_response_time",
    "log_case_interaction",
    "resolution_time",
]

_REOPENED_BY_CUSTOMER = frozenset(
    {CaseStatus.NEW, CaseStatus.WAITING_ON_CUSTOMER, CaseStatus.RESOLVED}
)


@attrs.frozen
class CaseActivity:
    """What :func:`log_case_interaction` stored.

    Attributes:
        case: the case as stored afterwards.
        interaction: the stored interaction (the one ingested before, when its
            ``external_id`` was known already).
        created: whether the interaction is new; when ``False`` nothing was written.
    """

    case: Case = attrs.field(repr=id_of)
    interaction: Interaction = attrs.field(repr=id_of)
    created: bool = True


def _case_id(case_id: object) -> CaseId:
    if not isinstance(case_id, str) or not is_case_id(case_id):
        raise ValidationError("case_id", "must be a case id")
    return CaseId(case_id)


def log_case_interaction(
    store: WorkStore,
    case_id: str,
    interaction: Interaction,
    *,
    events: EventDispatcher | None = None,
) -> CaseActivity:
    """Store an interaction as part of a case's thread, and move the case, in one transaction.

    The interaction is stored with ``case_id`` set. Then:

    - an outbound interaction, the case's first since it was reported, sets
      ``first_response_at`` to when it happened;
    - an inbound one (the customer writing) after the case was reported moves
      a ``new`` case, one ``waiting_on_customer`` or a ``resolved`` one to
      ``open``; the message that raised the case (at or before
      ``reported_at``: the web form, the first email) joins the thread and
      leaves the case as it is. A closed case keeps its status: the message
      is in its thread all the same.

    A status change is dated when the interaction happened, or at the case's
    last change if the interaction is older (imported history). An
    interaction whose ``external_id`` was ingested before is not stored
    again, and nothing changes. Events (``InteractionLogged``, then
    ``CaseUpdated`` naming ``first_response_at`` and/or
    ``CaseStatusChanged``) are published before the commit.

    Raises:
        NotFound: no such case.
        ValidationError: a bad ``case_id``, or an interaction that is not an
            :class:`~crmcore.Interaction` or already belongs to another case
            (``interaction.case_id``).
    """
    check_work_store(store)
    wanted = _case_id(case_id)
    if not isinstance(interaction, Interaction):
        raise ValidationError("interaction", "must be an Interaction")
    if interaction.case_id is not None and interaction.case_id != wanted:
        raise ValidationError("interaction.case_id", "names another case")
    with audited(store, AuditAction.UPDATE, operation="log_case_interaction"):
        case = store.cases.get(wanted)
        stored = store.interactions.add(attrs.evolve(interaction, case_id=case.id))
        if stored.id != interaction.id:
            return CaseActivity(case=case, interaction=stored, created=False)
        found: list[DomainEvent] = [
            InteractionLogged(interaction_id=stored.id, record_ids=stored.record_ids)
        ]
        moved = case
        when = stored.occurred_at
        if (
            stored.direction is Direction.OUTBOUND
            and case.first_response_at is None
            and when >= case.reported_at
        ):
            moved = moved.responded(at=when)
        if (
            stored.direction is Direction.INBOUND
            and case.status in _REOPENED_BY_CUSTOMER
            and when > case.reported_at
        ):
            moved = moved.transition_to(CaseStatus.OPEN, at=max(when, case.history[-1].at))
        if moved != case:
            moved = store.cases.update(moved)
            if moved.first_response_at != case.first_response_at:
                found.append(CaseUpdated(case_id=moved.id, fields=("first_response_at",)))
            if moved.status is not case.status:
                found.append(
                    CaseStatusChanged(
                        case_id=moved.id,
                        old_status=case.status.value,
                        new_status=moved.status.value,
                    )
                )
        publish(events, found)
    return CaseActivity(case=moved, interaction=stored)


def case_thread(
    store: WorkStore, case_id: str, *, oldest_first: bool = False
) -> tuple[Interaction, ...]:
    """Every interaction of a case, newest first (``oldest_first`` to read it as a conversation).

    Raises:
        NotFound: no such case.
        ValidationError: a bad ``case_id``.
    """
    check_work_store(store)
    wanted = _case_id(case_id)
    if not isinstance(oldest_first, bool):
        raise ValidationError("oldest_first", "must be true or false")
    case = store.cases.get(wanted)
    thread = tuple(
        ops._paged(
            lambda cursor: store.interactions.list_for(case.id, limit=ops.PAGE_SIZE, cursor=cursor)
        )
    )
    return thread[::-1] if oldest_first else thread


def _case_times(
    store: WorkStore,
    field: str,
    measure: Callable[[Case], timedelta | None],
    since: object,
    until: object,
    assignee: object,
    channel: object,
) -> DurationStats:
    """``measure`` of every case whose ``field`` is in the period; ``None`` counts as pending."""
    from crmcore.storage import where

    check_work_store(store)
    start, end = check_period(since, until)
    filters = [where(field).range(start, end)]
    who = optional_key(assignee, "assignee")
    if who is not None:
        filters.append(where("assignee").eq(who))
    if channel is not None:
        filters.append(where("channel").eq(enum_member(Channel, channel, "channel")))
    times, pending = [], 0
    for case in iter_matching(store.cases, *filters):
        took = measure(case)
        if took is None:
            pending += 1
        else:
            times.append(took)
    return DurationStats.of(times, pending=pending)


def first_response_time(
    store: WorkStore,
    *,
    since: datetime,
    until: datetime,
    assignee: str | None = None,
    channel: Channel | str | None = None,
) -> DurationStats:
    """How long the cases reported in the period waited for their first response.

    Measures ``first_response_at - reported_at`` of every case with
    ``reported_at`` in the period; ``pending`` counts those not answered yet.

    Args:
        store: the store (:class:`~crmcore.storage.WorkStore`).
        since: the period's start (aware datetime, inclusive).
        until: the period's end (aware datetime, exclusive).
        assignee: only this assignee's cases.
        channel: only cases raised through this channel.

    Raises:
        ValidationError: a bad bound, ``assignee`` or ``channel``, or a store
            without cases.
    """
    return _case_times(
        store, "reported_at", lambda c: c.first_response_time, since, until, assignee, channel
    )


def resolution_time(
    store: WorkStore,
    *,
    since: datetime,
    until: datetime,
    assignee: str | None = None,
    channel: Channel | str | None = None,
) -> DurationStats:
    """How long the cases resolved in the period took, from being reported to being resolved.

    Measures ``resolved_at - reported_at`` of every case with ``resolved_at``
    in the period (a case reopened and resolved again counts by its last
    resolution). The arguments and errors are :func:`first_response_time`'s.
    """
    return _case_times(
        store, "resolved_at", lambda c: c.resolution_time, since, until, assignee, channel
    )
