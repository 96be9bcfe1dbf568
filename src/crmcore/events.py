"""Domain events and a small synchronous dispatcher that the embedding app passes in.

crmcore keeps no global registry: an operation publishes only to the
:class:`EventDispatcher` given to it (``events=dispatcher``).

Delivery rule: operations publish their events *inside* their store
transaction, after every write and before the commit. A subscriber that
raises therefore aborts the operation: the transaction rolls back, nothing is
written, and the subscriber's exception reaches the caller. Subscribers see
the new state through the same store and must not do irreversible work that a
later rollback could contradict (send mail from an outbox they write to, not
from the handler). Events carry ids and field names only, never personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import attrs

from crmcore._validation import utcnow
from crmcore.errors import ValidationError

__all__ = [
    "CaseOpened",
    "CaseStatusChanged",
    "CaseUpdated",
    "CustomerCreated",
    "CustomerUpdated",
    "DomainEvent",
    "EventDispatcher",
    "EventRecorder",
    "InteractionLogged",
    "LeadConverted",
    "LeadStatusChanged",
    "OpportunityCreated",
    "OpportunityStageChanged",
    "OpportunityUpdated",
    "RecordsMerged",
    "RecordsUnmerged",
    "TaskCompleted",
    "TaskCreated",
    "TaskUpdated",
]


@attrs.frozen(kw_only=True)
class DomainEvent:
    """Base class of every event: ``occurred_at`` is when the operation ran (UTC)."""

    occurred_at: datetime = attrs.field(factory=utcnow)


@attrs.frozen(kw_only=True)
class CustomerCreated(DomainEvent):
    """A customer was added to the store."""

    customer_id: str


@attrs.frozen(kw_only=True)
class CustomerUpdated(DomainEvent):
    """A stored customer changed; ``fields`` names the fields that did."""

    customer_id: str
    fields: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class LeadStatusChanged(DomainEvent):
    """A lead moved from one status to another (values of :class:`~crmcore.LeadStatus`)."""

    lead_id: str
    old_status: str
    new_status: str


@attrs.frozen(kw_only=True)
class LeadConverted(DomainEvent):
    """A lead became a customer; ``created`` tells whether the customer is new."""

    lead_id: str
    customer_id: str
    created: bool


@attrs.frozen(kw_only=True)
class RecordsMerged(DomainEvent):
    """Records were merged into a survivor."""

    merge_id: str
    survivor_id: str
    merged_ids: tuple[str, ...]
    repointed_ids: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class RecordsUnmerged(DomainEvent):
    """A merge was undone; ``restored_ids`` lists every record written back."""

    merge_id: str
    survivor_id: str
    restored_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class InteractionLogged(DomainEvent):
    """An interaction was stored for the given customers and leads."""

    interaction_id: str
    record_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class OpportunityCreated(DomainEvent):
    """An opportunity was added to the store."""

    opportunity_id: str


@attrs.frozen(kw_only=True)
class OpportunityUpdated(DomainEvent):
    """A stored opportunity changed; ``fields`` names the fields that did."""

    opportunity_id: str
    fields: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class OpportunityStageChanged(DomainEvent):
    """A deal moved between stages of its pipeline; ``status`` is the new stage's.

    ``status`` is a value of :class:`~crmcore.DealStatus` (``won`` and ``lost``
    close the deal); ``from_stage_id`` is ``None`` for no earlier stage.
    """

    opportunity_id: str
    from_stage_id: str | None
    to_stage_id: str
    status: str


@attrs.frozen(kw_only=True)
class TaskCreated(DomainEvent):
    """A task was added to the store."""

    task_id: str


@attrs.frozen(kw_only=True)
class TaskCompleted(DomainEvent):
    """A task was done; ``interaction_id`` is the interaction that did it, if any."""

    task_id: str
    interaction_id: str | None = None


@attrs.frozen(kw_only=True)
class TaskUpdated(DomainEvent):
    """A stored task changed; ``fields`` names the fields that did."""

    task_id: str
    fields: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class CaseOpened(DomainEvent):
    """A support case was added to the store."""

    case_id: str


@attrs.frozen(kw_only=True)
class CaseStatusChanged(DomainEvent):
    """A case moved from one status to another (values of :class:`~crmcore.CaseStatus`)."""

    case_id: str
    old_status: str
    new_status: str


@attrs.frozen(kw_only=True)
class CaseUpdated(DomainEvent):
    """A stored case changed; ``fields`` names the fields that did."""

    case_id: str
    fields: tuple[str, ...] = ()


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]


class EventDispatcher:
    """Calls subscribers synchronously, in the order they subscribed.

    A subscriber of a class receives its subclasses too: subscribing to
    :class:`DomainEvent` receives everything. Exceptions are not caught: see the
    module documentation for what that means for the operation that published.
    """

    def __init__(self) -> None:
        self._subscribers: list[tuple[type[DomainEvent], Handler]] = []

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Call ``handler`` for every published ``event_type``; returns an unsubscribe function.

        Raises:
            ValidationError: ``event_type`` is not a :class:`DomainEvent` class,
                or ``handler`` is not callable (checked now, not at the first
                publish inside someone's transaction).
        """
        if not (isinstance(event_type, type) and issubclass(event_type, DomainEvent)):
            raise ValidationError("event_type", "must be a DomainEvent class")
        if not callable(handler):
            raise ValidationError("handler", "must be callable")
        entry: tuple[type[DomainEvent], Handler] = (event_type, handler)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    def publish(self, event: DomainEvent) -> None:
        """Deliver ``event`` to its subscribers now."""
        for event_type, handler in list(self._subscribers):
            if isinstance(event, event_type):
                handler(event)

    def publish_all(self, events: list[DomainEvent] | tuple[DomainEvent, ...]) -> None:
        """Deliver several events in order."""
        for event in events:
            self.publish(event)


class EventRecorder:
    """A subscriber that keeps every event it receives (handy in tests and examples)."""

    def __init__(self, dispatcher: EventDispatcher | None = None) -> None:
        self.events: list[DomainEvent] = []
        if dispatcher is not None:
            dispatcher.subscribe(DomainEvent, self.events.append)

    def of_type(self, event_type: type[E]) -> list[E]:
        """The recorded events of ``event_type``."""
        return [e for e in self.events if isinstance(e, event_type)]


def publish(dispatcher: EventDispatcher | None, events: list[DomainEvent]) -> None:
    """Publish to ``dispatcher`` when one was given."""
    if dispatcher is None:
        return
    if not isinstance(dispatcher, EventDispatcher):
        # Raised inside the operation's transaction, so nothing stays written.
        raise ValidationError("events", "must be an EventDispatcher")
    dispatcher.publish_all(events)
