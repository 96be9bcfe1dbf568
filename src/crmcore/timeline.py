"""The timeline read model: a customer's interactions across merges, leads and members."""

from __future__ import annotations

import base64
import binascii
import enum
import heapq
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from crmcore import _store_ops as ops
from crmcore._repr import count, id_of
from crmcore._validation import check_flag, ensure_utc, enum_member, items_of
from crmcore.customers import Customer
from crmcore.errors import NotFound, ValidationError
from crmcore.ids import CustomerId, LeadId, is_customer_id
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead

if TYPE_CHECKING:
    from crmcore.storage import MergingStore

__all__ = ["Relation", "TimelineEntry", "TimelinePage", "timeline"]


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


@attrs.frozen
class TimelineEntry:
    """One interaction on a timeline and the record it was originally logged against."""

    interaction: Interaction = attrs.field(repr=id_of)
    record_id: str
    relation: Relation

    @property
    def occurred_at(self) -> datetime:
        """When the interaction happened."""
        return self.interaction.occurred_at


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
    raw = f"{entry.occurred_at.isoformat()}|{entry.interaction.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: object) -> tuple[datetime, str]:
    if not isinstance(cursor, str) or len(cursor) > 200:
        raise ValidationError("cursor", "is not a timeline cursor")
    try:
        stamp, _, interaction_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return ensure_utc(datetime.fromisoformat(stamp), "cursor"), interaction_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("cursor", "is not a timeline cursor") from None


def _channels(channels: Iterable[Channel | str] | None) -> frozenset[Channel] | None:
    if channels is None:
        return None
    if isinstance(channels, str | Channel):
        channels = (channels,)
    items = items_of(channels, "channels")
    return frozenset(enum_member(Channel, c, "channels", "names an unknown channel") for c in items)


class _Origins:
    """Finds the record an interaction was first logged against, through merges and leads.

    One per call, and no process-wide cache: the copies it reads (interactions'
    bodies included) are the store's data, which must not outlive the store. The
    index of what a merge moved is kept on the merge record itself
    (:attr:`~crmcore.MergeRecord.moved_interactions`).
    """

    def __init__(self, store: MergingStore) -> None:
        self.store = store
        self._moved: dict[str, dict[str, tuple[str, Interaction]]] = {}
        self._leads: dict[str, Lead | None] = {}
        self._live: dict[str, str] = {}

    def moved_from(self, survivor_id: str) -> dict[str, tuple[str, Interaction]]:
        """Interactions that merges into ``survivor_id`` moved: id -> (original record, copy)."""
        if survivor_id not in self._moved:
            moved: dict[str, tuple[str, Interaction]] = {}
            for record in self.store.merges.list_for(survivor_id):
                if record.survivor_id == survivor_id and record.is_active:
                    for key, value in record.moved_interactions.items():
                        moved.setdefault(key, value)
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

    def trace(self, interaction: Interaction, holder: str, depth: int = 0) -> tuple[str, bool]:
        """Follow merges back from ``holder``; returns (original id, whether it was merged)."""
        # A copy never updated (version 1) was never re-pointed by a merge.
        if depth > 50 or interaction.version <= 1:
            return holder, False
        found = self.moved_from(holder).get(interaction.id)
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
) -> TimelinePage:
    """Every interaction of a customer, newest first, a page at a time.

    Includes interactions logged against leads converted into the customer
    and against records merged into it (a merged-away id is resolved to its
    survivor first); with ``include_organization_members``, those of the
    people who belong to it (an organisation). Each entry names the record the
    interaction was originally logged against and how it relates.

    Args:
        store: a store that keeps merge records (:class:`~crmcore.storage.MergingStore`).
        customer_id: the customer (or an id merged into it).
        since: only interactions at or after this aware datetime.
        until: only interactions before this aware datetime.
        channels: only these channels.
        include_organization_members: add the interactions of the members.
        limit: at most this many entries per page (all when ``None``).
        cursor: ``next_cursor`` of the previous page.

    Raises:
        NotFound: no such customer.
        ValidationError: a bad ``limit``, ``cursor``, ``channels`` or datetime, or a
            store that keeps no merge records (``store``).
    """
    ops.check_merging_store(store)
    if not is_customer_id(customer_id):
        raise ValidationError("customer_id", "must be a customer id")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError("limit", "must be a positive integer")
    since = None if since is None else ensure_utc(since, "since")
    until = None if until is None else ensure_utc(until, "until")
    wanted = _channels(channels)
    check_flag(include_organization_members, "include_organization_members")
    after = None if cursor is None else _decode_cursor(cursor)

    customer: Customer = store.customers.resolve(CustomerId(customer_id))
    holders = [customer.id]
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
    streams = [
        ops.iter_interactions(
            store, holder, since=since, until=until, channel=single, page_size=page_size
        )
        for holder in holders
    ]
    # Every stream is newest first by (occurred_at, id); merging them reads only
    # as far as the page needs.
    merged = heapq.merge(*streams, key=lambda i: (i.occurred_at, i.id), reverse=True)
    origins = _Origins(store)
    entries: list[TimelineEntry] = []
    seen: set[str] = set()
    for interaction in merged:
        if interaction.id in seen:
            continue
        seen.add(interaction.id)
        if after is not None and (interaction.occurred_at, interaction.id) >= after:
            continue
        if wanted is not None and interaction.channel not in wanted:
            continue
        if limit is not None and len(entries) == limit:
            return TimelinePage(tuple(entries), _encode_cursor(entries[-1]))
        if customer.id in interaction.record_ids:
            entry = TimelineEntry(interaction, *origins.origin(interaction, customer.id))
        else:
            member = next(i for i in interaction.record_ids if i in holders)
            entry = TimelineEntry(interaction, member, Relation.ORGANIZATION_MEMBER)
        entries.append(entry)
    return TimelinePage(tuple(entries))
