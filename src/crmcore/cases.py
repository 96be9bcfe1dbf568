"""Support cases: requests from customers (a web form, an email, a chat) until resolved.

A case's status moves through a state machine declared as data,
:data:`CASE_TRANSITIONS`, and every move is an entry of its append-only
``history``; the interactions that belong to a case (``Interaction.case_id``)
are its thread.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from crmcore._validation import Problems, enum_member, tuple_of, utcnow
from crmcore._work import check_description, check_work_fields, moment, parse_work_fields
from crmcore.errors import InvalidTransition, ValidationError
from crmcore.ids import CaseId, CustomerId, is_case_id, is_customer_id, new_case_id
from crmcore.interactions import Channel
from crmcore.tasks import Priority
from crmcore.values import CustomFields, clean_text, optional_text

__all__ = ["CASE_TRANSITIONS", "Case", "CaseEvent", "CaseStatus"]

MAX_HISTORY: Final = 10_000


class CaseStatus(enum.Enum):
    """Where a support case stands (see :data:`CASE_TRANSITIONS` for the moves)."""

    NEW = "new"
    OPEN = "open"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"

    def can_become(self, target: CaseStatus) -> bool:
        """Whether :data:`CASE_TRANSITIONS` allows moving from this status to ``target``."""
        return target in CASE_TRANSITIONS[self]


_NEW = CaseStatus.NEW
_OPEN = CaseStatus.OPEN
_WAITING = CaseStatus.WAITING_ON_CUSTOMER
_RESOLVED = CaseStatus.RESOLVED
_CLOSED = CaseStatus.CLOSED

CASE_TRANSITIONS: Final[Mapping[CaseStatus, frozenset[CaseStatus]]] = types.MappingProxyType(
    {
        _NEW: frozenset({_OPEN, _RESOLVED, _CLOSED}),
        _OPEN: frozenset({_WAITING, _RESOLVED, _CLOSED}),
        _WAITING: frozenset({_OPEN, _RESOLVED, _CLOSED}),
        _RESOLVED: frozenset({_OPEN, _CLOSED}),
        _CLOSED: frozenset(),
    }
)
"""The case state machine: which status each status may move to (closed is final)."""


@attrs.frozen
class CaseEvent:
    """One entry of a case's append-only history: a move to ``status`` at ``at``."""

    status: CaseStatus
    at: datetime
    from_status: CaseStatus | None = None

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not isinstance(self.status, CaseStatus):
            problems.add("status", "must be a CaseStatus")
        if self.from_status is not None and not isinstance(self.from_status, CaseStatus):
            problems.add("from_status", "must be a CaseStatus")
        problems.utc(self, "at")
        problems.raise_if_any()


def _derived_times(history: tuple[CaseEvent, ...]) -> tuple[datetime | None, datetime | None]:
    """``resolved_at`` and ``closed_at`` as the history says.

    The last move to resolved counts, until a move back to open or waiting
    clears it; closing keeps it.
    """
    resolved: datetime | None = None
    closed: datetime | None = None
    for event in history:
        if event.status is CaseStatus.RESOLVED:
            resolved = event.at
        elif event.status is CaseStatus.CLOSED:
            closed = event.at
        else:
            resolved = None
    return resolved, closed


def _check_history(record: Case, problems: Problems) -> None:
    try:
        history = tuple_of(record.history, CaseEvent, "history")
    except ValidationError as exc:
        problems.found.extend(exc.problems)
        return
    object.__setattr__(record, "history", history)
    if not history:
        problems.add("history", "a case needs its first event (new, when it was reported)")
        return
    if len(history) > MAX_HISTORY:
        problems.add("history", f"must hold at most {MAX_HISTORY} events")
    first = history[0]
    if first.status is not CaseStatus.NEW or first.from_status is not None:
        problems.add("history[0]", "the first event is the case's creation (new, from nothing)")
    if first.at != record.reported_at:
        problems.add("history[0].at", "must be when the case was reported")
    for i in range(1, len(history)):
        before, event = history[i - 1], history[i]
        if event.at < before.at:
            problems.add(f"history[{i}].at", "is before the event before it")
        if event.from_status is not before.status:
            problems.add(f"history[{i}].from_status", "is not the status before it")
        elif not before.status.can_become(event.status):
            problems.add(f"history[{i}].status", "is not a move the case state machine allows")
    if record.status is not history[-1].status:
        problems.add("status", "must be the status of the last event")
    resolved, closed = _derived_times(history)
    if record.resolved_at != resolved:
        problems.add("resolved_at", "must be the time of the last move to resolved")
    if record.closed_at != closed:
        problems.add("closed_at", "must be the time the case was closed")
    if record.first_response_at is not None and record.first_response_at < record.reported_at:
        problems.add("first_response_at", "is before the case was reported")


@attrs.frozen(repr=False)
class Case:
    """A support request from a customer, with its status history.

    ``channel`` is where it came from (a web form by default). ``status``,
    ``resolved_at`` and ``closed_at`` always agree with ``history``, whose
    first event is the case's creation at ``reported_at``.
    """

    id: CaseId
    subject: str
    customer_id: CustomerId
    history: tuple[CaseEvent, ...]
    reported_at: datetime
    channel: Channel = Channel.WEB_FORM
    priority: Priority = Priority.NORMAL
    status: CaseStatus = CaseStatus.NEW
    description: str | None = None
    assignee: str | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: CustomFields = CustomFields.EMPTY
    version: int = 0
    created_at: datetime = attrs.field(factory=utcnow)
    updated_at: datetime = attrs.field(factory=utcnow)

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        if not is_case_id(self.id):
            problems.add("id", "must be a case id")
        problems.set(self, "subject", clean_text, self.subject, "subject", max_length=300)
        if not is_customer_id(self.customer_id):
            problems.add("customer_id", "must be a customer id")
        for field, kind in (("channel", Channel), ("priority", Priority), ("status", CaseStatus)):
            if not isinstance(getattr(self, field), kind):
                problems.add(field, f"must be a {kind.__name__}")
        check_description(self, problems)
        problems.set(self, "assignee", optional_text, self.assignee, "assignee", max_length=200)
        problems.utc(self, "reported_at")
        for field in ("first_response_at", "resolved_at", "closed_at"):
            if getattr(self, field) is not None:
                problems.utc(self, field)
        check_work_fields(self, problems)
        if not problems.found:
            _check_history(self, problems)
        problems.raise_if_any()

    @classmethod
    def create(
        cls,
        *,
        subject: str,
        customer_id: CustomerId,
        channel: Channel | str = Channel.WEB_FORM,
        priority: Priority | str = Priority.NORMAL,
        description: str | None = None,
        assignee: str | None = None,
        reported_at: datetime | None = None,
        tags: Iterable[str] = (),
        custom_fields: Mapping[str, object] | None = None,
    ) -> Case:
        """Open a new case (status ``new``) reported at ``reported_at`` (default: now)."""
        problems = Problems()
        values: dict[str, Any] = {}
        problems.parse_into(values, "channel", enum_member, Channel, channel, "channel")
        problems.parse_into(values, "priority", enum_member, Priority, priority, "priority")
        problems.parse_into(values, "reported_at", moment, reported_at, "reported_at")
        parse_work_fields(problems, values, tags, custom_fields)
        problems.raise_if_any()
        now = utcnow()
        return cls(
            id=new_case_id(),
            subject=subject,
            customer_id=customer_id,
            history=(CaseEvent(CaseStatus.NEW, values["reported_at"]),),
            description=description,
            assignee=assignee,
            created_at=now,
            updated_at=now,
            **values,
        )

    def transition_to(self, status: CaseStatus | str, *, at: datetime | None = None) -> Case:
        """Move to ``status`` at ``at`` (default: now), appending to the history.

        Raises:
            InvalidTransition: when :data:`CASE_TRANSITIONS` does not allow the move.
            ValidationError: naming ``status`` or ``at`` (a time before the last event).
        """
        target = enum_member(CaseStatus, status, "status")
        if not self.status.can_become(target):
            raise InvalidTransition(f"a case cannot go from {self.status.value} to {target.value}")
        when = moment(at)
        if when < self.history[-1].at:
            raise ValidationError("at", "is before the case's last event")
        history = (*self.history, CaseEvent(target, when, from_status=self.status))
        resolved, closed = _derived_times(history)
        return attrs.evolve(
            self, status=target, history=history, resolved_at=resolved, closed_at=closed
        )

    def responded(self, *, at: datetime | None = None) -> Case:
        """Record the first response to the customer (later responses change nothing)."""
        when = moment(at)
        if self.first_response_at is not None:
            return self
        if when < self.reported_at:
            raise ValidationError("at", "is before the case was reported")
        return attrs.evolve(self, first_response_at=when)

    @property
    def is_closed(self) -> bool:
        """Whether the case is closed (no move leaves that status)."""
        return self.status is CaseStatus.CLOSED

    @property
    def first_response_time(self) -> timedelta | None:
        """How long the customer waited for a first response, once there was one."""
        if self.first_response_at is None:
            return None
        return self.first_response_at - self.reported_at

    @property
    def resolution_time(self) -> timedelta | None:
        """From report to (the last) resolution, once resolved."""
        if self.resolved_at is None:
            return None
        return self.resolved_at - self.reported_at

    def repointed(self, old: CustomerId, new: CustomerId) -> Case:
        """Return a copy raised by customer ``new`` where ``old`` raised it (used by merges)."""
        if self.customer_id != old:
            return self
        return attrs.evolve(self, customer_id=new)

    def __repr__(self) -> str:
        return f"Case(id={self.id!r}, status={self.status.value!r}, version={self.version})"

    __str__ = __repr__
