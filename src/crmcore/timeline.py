"""The timeline read model: a customer's history across merges, leads and members.

Interactions, and beside them the work done with the customer: the stage
changes of its opportunities, its completed tasks and the events of its
support cases.
"""

from __future__ import annotations

import base64
import binascii
import enum
import heapq
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from crmcore import _store_ops as ops
from crmcore._repr import count
from crmcore._validation import check_flag, ensure_utc, enum_member, items_of
from crmcore.cases import Case, CaseEvent
from crmcore.customers import Customer
from crmcore.errors import NotFound, ValidationError
from crmcore.ids import CustomerId, LeadId, is_customer_id
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead
from crmcore.merge_record import WorkItem
from crmcore.opportunities import Opportunity, StageChange
from crmcore.tasks import Task, TaskStatus

if TYPE_CHECKING:
    from crmcore.storage import MergingStore
    from crmcore.storage.protocols import SupportsWorkItems

__all__ = ["EntryKind", "Relation", "TimelineEntry", "TimelinePage", "timeline"]


class Relation(enum.Enum):
    """How a timeline entry's original record relates to the customer."""

    DIRECT = "direct"
    """Logged against the customer itself."""
    MERGED = "merged"
    """Logged against a record later merged into the customer."""
    CONVERTED_LEAD = "converted_lead"
    """Logged against a lead later converted into the customer."""
    ORGANIZATION_MEMBER = "organization_member"
    """Logged against a person of the customer (an organisation)."""


class EntryKind(enum.Enum):
    """What a timeline entry is."""

    INTERACTION = "interaction"
    """An interaction (``entry.interaction``)."""
    STAGE_CHANGE = "stage_change"
    """A move of an opportunity (``entry.opportunity.stage_history[entry.index]``)."""
    TASK_COMPLETED = "task_completed"
    """A task done (``entry.task``, at its ``completed_at``)."""
    CASE_EVENT = "case_event"
    """A status change of a support case (``entry.case.history[entry.index]``)."""


def _id_or_none(record: Any) -> str:
    return repr(None if record is None else record.id)


@attrs.frozen
class TimelineEntry:
    """One thing on a timeline and the record it was originally logged against (or about).

    ``kind`` says which: an interaction (``interaction``), a stage change of
    ``opportunity`` or an event of ``case`` (``index`` is the entry of its
    history), or a completed ``task``. ``record_id`` and ``relation`` say
    which record the interaction was logged against, or the opportunity, case
    or task was about, and how that record relates to the customer.
    """

    interaction: Interaction | None = attrs.field(repr=_id_or_none)
    record_id: str
    relation: Relation
    kind: EntryKind = EntryKind.INTERACTION
    opportunity: Opportunity | None = attrs.field(default=None, repr=_id_or_none)
    task: Task | None = attrs.field(default=None, repr=_id_or_none)
    case: Case | None = attrs.field(default=None, repr=_id_or_none)
    index: int | None = None

    @property
    def occurred_at(self) -> datetime:
        """When it happened: the interaction, the stage change, the completion, the case event."""
        if self.interaction is not None:
            return self.interaction.occurred_at
        if self.task is not None:
            assert self.task.completed_at is not None  # only completed tasks are entries
            return self.task.completed_at
        change = self.stage_change or self.case_event
        assert change is not None
        return change.at

    @property
    def stage_change(self) -> StageChange | None:
        """The stage change of a ``stage_change`` entry."""
        if self.opportunity is None or self.index is None:
            return None
        return self.opportunity.stage_history[self.index]

    @property
    def case_event(self) -> CaseEvent | None:
        """The case event of a ``case_event`` entry."""
        if self.case is None or self.index is None:
            return None
        return self.case.history[self.index]

    @property
    def key(self) -> str:
        """What orders entries that share a moment, and what cursors name: unique per timeline.

        An interaction's id; an opportunity's or a case's id with the index of
        the history entry (``opp_...#2``); a task's id.
        """
        if self.interaction is not None:
            return self.interaction.id
        if self.task is not None:
            return self.task.id
        item = self.opportunity or self.case
        assert item is not None
        return f"{item.id}#{self.index}"


@attrs.frozen
class TimelinePage:
    """A page of a timeline, newest first; pass ``next_cursor`` back for the next page."""

    entries: tuple[TimelineEntry, ...] = attrs.field(repr=count)
    # Opaque, and as long as a record id and a timestamp: not worth a log line.
    next_cursor: str | None = attrs.field(default=None, repr=False)

    def __iter__(self) -> Iterator[TimelineEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


_LAST = datetime.max.replace(tzinfo=UTC)


def _encode_cursor(entry: TimelineEntry) -> str:
    raw = f"{entry.occurred_at.isoformat()}|{entry.key}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: object) -> tuple[datetime, str]:
    if not isinstance(cursor, str) or len(cursor) > 200:
        raise ValidationError("cursor", "is not a timeline cursor")
    try:
        stamp, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return ensure_utc(datetime.fromisoformat(stamp), "cursor"), key
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("cursor", "is not a timeline cursor") from None


def _channels(channels: Iterable[Channel | str] | None) -> frozenset[Channel] | None:
    if channels is None:
        return None
    if isinstance(channels, str | Channel):
        channels = (channels,)
    items = items_of(channels, "channels")
    return frozenset(enum_member(Channel, c, "channels", "names an unknown channel") for c in items)


def _kinds(include: Iterable[EntryKind | str] | None) -> frozenset[EntryKind]:
    if include is None:
        return frozenset(EntryKind)
    if isinstance(include, str | EntryKind):
        include = (include,)
    items = items_of(include, "include")
    return frozenset(enum_member(EntryKind, k, "include", "names an unknown kind") for k in items)


class _Origins:
    """Finds the record an interaction was first logged against, through merges and leads.

    One per call, and no process-wide cache: the copies it reads (interactions'
    bodies included) are the store's data, which must not outlive the store. The
    index of what a merge moved is kept on the merge record itself
    (:attr:`~crmcore.MergeRecord.moved_interactions`).
    """

    def __init__(self, store: MergingStore) -> None:
        self.store = store
        self._moved: dict[str, dict[str, tuple[str, Interaction | WorkItem]]] = {}
        self._leads: dict[str, Lead | None] = {}
        self._live: dict[str, str] = {}

    def moved_from(self, survivor_id: str) -> dict[str, tuple[str, Interaction | WorkItem]]:
        """What merges into ``survivor_id`` moved: id -> (original record, copy before).

        Interactions and work items alike (their ids never collide: each kind
        has its prefix).
        """
        if survivor_id not in self._moved:
            moved: dict[str, tuple[str, Interaction | WorkItem]] = {}
            for record in self.store.merges.list_for(survivor_id):
                if record.survivor_id == survivor_id and record.is_active:
                    for key, value in record.moved_interactions.items():
                        moved.setdefault(key, value)
                    for key, work in record.moved_work_items.items():
                        moved.setdefault(key, work)
            self._moved[survivor_id] = moved
        return self._moved[survivor_id]

    def live_id(self, customer_id: str) -> str:
        if customer_id not in self._live:
            self._live[customer_id] = ops.resolve(self.store, customer_id).id
        return self._live[customer_id]

    def lead(self, lead_id: str) -> Lead | None:
        if lead_id not in self._leads:
            try:
                self._leads[lead_id] = self.store.leads.get(LeadId(lead_id))
            except NotFound:  # a deleted lead leaves the interaction with the customer
                self._leads[lead_id] = None
        return self._leads[lead_id]

    def trace(
        self, record: Interaction | WorkItem, holder: str, depth: int = 0
    ) -> tuple[str, bool]:
        """Follow merges back from ``holder``; returns (original id, whether it was merged).

        ``record`` is an interaction ``holder`` took part in, or a work item
        about ``holder``.
        """
        # A copy never updated (version 1) was never re-pointed by a merge.
        if depth > 50 or record.version <= 1:
            return holder, False
        found = self.moved_from(holder).get(record.id)
        if found is None:
            return holder, False
        original, before = found
        return self.trace(before, original, depth + 1)[0], True

    def origin(self, interaction: Interaction, customer_id: str) -> tuple[str, Relation]:
        record_id, merged = self.trace(interaction, customer_id)
        if merged:
            return record_id, Relation.MERGED
        for lead_id in interaction.lead_ids:
            lead = self.lead(lead_id)
            if (
                lead is not None
                and lead.converted_customer_id is not None
                and self.live_id(lead.converted_customer_id) == customer_id
            ):
                original, _ = self.trace(interaction, lead.id)
                return original, Relation.CONVERTED_LEAD
        return customer_id, Relation.DIRECT


def timeline(
    store: MergingStore,
    customer_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channels: Iterable[Channel | str] | None = None,
    include_organization_members: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
    include: Iterable[EntryKind | str] | None = None,
) -> TimelinePage:
    """Every interaction of a customer, and the work done with it, newest first, a page at a time.

    Includes interactions logged against leads converted into the customer
    and against records merged into it (a merged-away id is resolved to its
    survivor first); with ``include_organization_members``, those of the
    people who belong to it (an organisation). Each entry names the record the
    interaction was originally logged against and how it relates.

    On a store that keeps work items (:class:`~crmcore.storage.SupportsWorkItems`),
    the timeline also holds the stage changes of the customer's opportunities,
    the completions of tasks about the customer, its converted leads, its
    opportunities or its cases, and the events of its cases; those of merged
    records moved to the survivor with them (``Relation.MERGED``).

    Args:
        store: a store that keeps merge records (:class:`~crmcore.storage.MergingStore`).
        customer_id: the customer (or an id merged into it).
        since: only entries at or after this aware datetime.
        until: only entries before this aware datetime.
        channels: only interactions on these channels (the other kinds have
            no channel of their own: a ``channels`` filter leaves them out).
        include_organization_members: add the interactions (and work) of the members.
        limit: at most this many entries per page (all when ``None``).
        cursor: ``next_cursor`` of the previous page.
        include: only entries of these kinds (:class:`EntryKind` or their
            values); all kinds by default.

    Raises:
        NotFound: no such customer.
        ValidationError: a bad ``limit``, ``cursor``, ``channels``, ``include`` or
            datetime, or a store that keeps no merge records (``store``).
    """
    ops.check_merging_store(store)
    if not is_customer_id(customer_id):
        raise ValidationError("customer_id", "must be a customer id")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError("limit", "must be a positive integer")
    since = None if since is None else ensure_utc(since, "since")
    until = None if until is None else ensure_utc(until, "until")
    wanted = _channels(channels)
    kinds = _kinds(include)
    if wanted is not None:
        kinds &= {EntryKind.INTERACTION}
    check_flag(include_organization_members, "include_organization_members")
    after = None if cursor is None else _decode_cursor(cursor)

    customer: Customer = store.customers.resolve(CustomerId(customer_id))
    holders: list[str] = [customer.id]
    if include_organization_members:
        holders.extend(m.id for m in ops.members_of(store, [customer.id]) if m.id != customer.id)
    # list_for's ``until`` is exclusive: one microsecond past the cursor's
    # moment keeps the interactions that share it, and the key skips those
    # already read. At the last representable microsecond there is no later
    # bound to take, and none is needed.
    if after is not None and after[0] < _LAST:
        bound = after[0] + timedelta(microseconds=1)
        until = bound if until is None else min(until, bound)
    single = next(iter(wanted)) if wanted is not None and len(wanted) == 1 else None
    page_size = ops.PAGE_SIZE if limit is None else min(ops.PAGE_SIZE, limit + 1)
    origins = _Origins(store)
    streams: list[Iterator[TimelineEntry]] = []
    if EntryKind.INTERACTION in kinds:
        streams.extend(
            _interaction_entries(
                ops.iter_interactions(
                    store, holder, since=since, until=until, channel=single, page_size=page_size
                ),
                customer.id,
                holders,
                origins,
            )
            for holder in holders
        )
    work = ops.work_items(store)
    if work is not None and kinds - {EntryKind.INTERACTION}:
        found = _work_entries(work, customer.id, holders, kinds, origins)
        streams.append(
            iter(
                sorted(
                    (
                        e
                        for e in found
                        if (since is None or e.occurred_at >= since)
                        and (until is None or e.occurred_at < until)
                    ),
                    key=_order,
                    reverse=True,
                )
            )
        )
    # Every stream is newest first by (occurred_at, key); merging them reads only
    # as far as the page needs.
    merged = heapq.merge(*streams, key=_order, reverse=True)
    entries: list[TimelineEntry] = []
    seen: set[str] = set()
    for entry in merged:
        if entry.key in seen:
            continue
        seen.add(entry.key)
        if after is not None and _order(entry) >= after:
            continue
        if (
            wanted is not None
            and entry.interaction is not None
            and entry.interaction.channel not in wanted
        ):
            continue
        if limit is not None and len(entries) == limit:
            return TimelinePage(tuple(entries), _encode_cursor(entries[-1]))
        entries.append(entry)
    return TimelinePage(tuple(entries))


def _order(entry: TimelineEntry) -> tuple[datetime, str]:
    return entry.occurred_at, entry.key


def _interaction_entries(
    interactions: Iterator[Interaction], customer_id: str, holders: list[str], origins: _Origins
) -> Iterator[TimelineEntry]:
    # Lazily: the origin of an interaction is traced only if the page reaches it.
    for interaction in interactions:
        if customer_id in interaction.record_ids:
            yield TimelineEntry(interaction, *origins.origin(interaction, customer_id))
        else:
            member = next(i for i in interaction.record_ids if i in holders)
            yield TimelineEntry(interaction, member, Relation.ORGANIZATION_MEMBER)


def _work_entries(
    store: SupportsWorkItems,
    customer_id: str,
    holders: list[str],
    kinds: frozenset[EntryKind],
    origins: _Origins,
) -> list[TimelineEntry]:
    """The stage changes, task completions and case events of the customer (and its members).

    Read whole: a customer has few opportunities, tasks and cases, unlike
    interactions, which are paged.
    """

    def about(item: WorkItem, holder: str) -> tuple[str, Relation]:
        if holder != customer_id:
            return holder, Relation.ORGANIZATION_MEMBER
        original, merged = origins.trace(item, holder)
        return original, Relation.MERGED if merged else Relation.DIRECT

    origin: dict[str, tuple[str, Relation]] = {}
    entries: list[TimelineEntry] = []
    for opportunity in ops.having(store.opportunities, "customer_id", holders):
        origin[opportunity.id] = about(opportunity, opportunity.customer_id)
        if EntryKind.STAGE_CHANGE in kinds:
            entries.extend(
                TimelineEntry(
                    None,
                    *origin[opportunity.id],
                    kind=EntryKind.STAGE_CHANGE,
                    opportunity=opportunity,
                    index=i,
                )
                for i in range(len(opportunity.stage_history))
            )
    for case in ops.having(store.cases, "customer_id", holders):
        origin[case.id] = about(case, case.customer_id)
        if EntryKind.CASE_EVENT in kinds:
            entries.extend(
                TimelineEntry(None, *origin[case.id], kind=EntryKind.CASE_EVENT, case=case, index=i)
                for i in range(len(case.history))
            )
    if EntryKind.TASK_COMPLETED not in kinds:
        return entries
    for holder in holders:
        origin.setdefault(holder, (holder, Relation.ORGANIZATION_MEMBER))
    leads = ops.leads_converted_into(origins.store, [customer_id])
    for lead in leads:
        origin.setdefault(lead.id, (lead.id, Relation.CONVERTED_LEAD))
    for task in ops.having(store.tasks, "about_id", list(origin)):
        if task.status is not TaskStatus.DONE or task.completed_at is None:
            continue
        assert task.about_id is not None  # found by it
        if task.about_id == customer_id:
            record_id, relation = about(task, customer_id)
        else:
            record_id, relation = origin[task.about_id]
        entries.append(
            TimelineEntry(None, record_id, relation, kind=EntryKind.TASK_COMPLETED, task=task)
        )
    return entries
