"""Services over a store: lead conversion and the customer timeline.

Both take any store that follows :class:`crmcore.storage.Store`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import heapq
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from crmcore import _store_ops as ops
from crmcore._validation import check_flag, ensure_utc, items_of
from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import InvalidTransition, NotFound, ValidationError
from crmcore.events import (
    CustomerCreated,
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    InteractionLogged,
    LeadConverted,
    LeadStatusChanged,
    publish,
)
from crmcore.ids import CustomerId, LeadId, is_customer_id, is_lead_id
from crmcore.interactions import Channel, Interaction, Participant
from crmcore.leads import Lead, LeadStatus
from crmcore.merge import MergePolicy, Rule, plan_merge
from crmcore.merge_record import MergeRecord
from crmcore.values import PersonName

if TYPE_CHECKING:
    from crmcore.storage import Store

__all__ = [
    "ConversionResult",
    "Relation",
    "TimelineEntry",
    "TimelinePage",
    "add_customer",
    "add_lead",
    "change_lead_status",
    "convert_lead",
    "log_interaction",
    "timeline",
    "update_customer",
]


# --------------------------------------------------------------------------- writes with events
# Thin wrappers over the repositories for apps that subscribe to events: each
# runs in its own transaction and publishes before the commit (see
# crmcore.events), so a raising subscriber undoes the write.


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


# --------------------------------------------------------------------------- conversion


@attrs.frozen(repr=False)
class ConversionResult:
    """A converted lead and the customer it became.

    ``created`` tells whether the customer is new; ``matched`` whether an
    existing customer was found by the duplicate check; ``relinked`` lists the
    interactions newly linked to the customer.
    """

    customer: Customer
    lead: Lead
    created: bool
    matched: bool = False
    relinked: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"ConversionResult(lead_id={self.lead.id!r}, customer_id={self.customer.id!r}, "
            f"created={self.created}, matched={self.matched})"
        )


def convert_lead(
    store: Store,
    lead_id: str,
    *,
    customer_id: str | None = None,
    policy: MergePolicy | Mapping[str, Rule] | None = None,
    find_existing: bool = True,
    stage: LifecycleStage = LifecycleStage.CUSTOMER,
    events: EventDispatcher | None = None,
) -> ConversionResult:
    """Convert a qualified lead into a customer, in one transaction; idempotent.

    The customer is, in order: ``customer_id`` when given; else the best
    ``match`` of the duplicate check (:func:`crmcore.dedup.check_duplicates`)
    among customers, when ``find_existing``; else a new customer built from
    the lead (kind person when the lead has a name, organisation when it has
    only a company), at lifecycle ``stage``. An existing customer keeps its
    values and gains what the lead adds: by default its empty fields are
    filled and the lead's emails, phones, tags and custom fields are added
    (the rules of :func:`crmcore.plan_merge`; ``policy`` overrides them).

    Every interaction of the lead gains the customer as a participant (the
    lead stays on it, so the timeline can tell where it was logged), and the
    lead becomes ``converted`` with ``converted_customer_id``. Converting a
    converted lead again returns its customer (following merges) and writes
    nothing. Events (``CustomerCreated`` or ``CustomerUpdated``,
    ``LeadStatusChanged``, ``LeadConverted``) are published before the commit.

    Raises:
        NotFound: no such lead or customer.
        InvalidTransition: the lead is not qualified, or was converted into
            another customer than ``customer_id``.
    """
    if not is_lead_id(lead_id):
        raise ValidationError("lead_id", "must be a lead id")
    if customer_id is not None and not is_customer_id(customer_id):
        raise ValidationError("customer_id", "must be a customer id")
    check_flag(find_existing, "find_existing")
    with ops.transaction(store):
        lead: Lead = store.leads.resolve(LeadId(lead_id))
        if lead.status is LeadStatus.CONVERTED and lead.converted_customer_id is not None:
            existing: Customer = store.customers.resolve(lead.converted_customer_id)
            if (
                customer_id is not None
                and store.customers.resolve(CustomerId(customer_id)).id != existing.id
            ):
                raise InvalidTransition("the lead was already converted into another customer")
            return ConversionResult(customer=existing, lead=lead, created=False)
        if not lead.status.can_become(LeadStatus.CONVERTED):
            raise InvalidTransition(
                f"only a qualified lead converts, not a {lead.status.value} one"
            )

        found: list[DomainEvent] = []
        target: Customer | None = None
        matched = False
        if customer_id is not None:
            target = store.customers.resolve(CustomerId(customer_id))
        elif find_existing:
            target = _matching_customer(store, lead)
            matched = target is not None
        if target is None:
            customer = store.customers.add(_customer_from(lead, stage))
            created = True
            found.append(CustomerCreated(customer_id=customer.id))
        else:
            plan = plan_merge([target, lead], survivor=target.id, policy=policy)
            created = False
            filled = plan.result
            assert isinstance(filled, Customer)  # a customer survives a lead
            if plan.changed_fields:
                customer = store.customers.update(filled)
                found.append(CustomerUpdated(customer_id=customer.id, fields=plan.changed_fields))
            else:
                customer = target

        relinked = []
        for interaction in list(ops.iter_interactions(store, lead.id)):
            if customer.id in interaction.record_ids:
                continue
            role = next(p.role for p in interaction.participants if p.record_id == lead.id)
            linked = attrs.evolve(
                interaction,
                participants=(*interaction.participants, Participant(customer.id, role)),
            )
            relinked.append(store.interactions.update(linked).id)

        converted = store.leads.update(
            lead.transition_to(LeadStatus.CONVERTED, customer_id=CustomerId(customer.id))
        )
        found.append(
            LeadStatusChanged(
                lead_id=lead.id, old_status=lead.status.value, new_status=converted.status.value
            )
        )
        found.append(LeadConverted(lead_id=lead.id, customer_id=customer.id, created=created))
        publish(events, found)
    return ConversionResult(
        customer=customer,
        lead=converted,
        created=created,
        matched=matched,
        relinked=tuple(relinked),
    )


def _matching_customer(store: Any, lead: Lead) -> Customer | None:
    from crmcore.dedup import Decision, check_duplicates, find_duplicates

    best: Customer | None = None
    best_score = -1.0
    for match in check_duplicates(lead, store, include_leads=False):
        if match.decision is not Decision.MATCH or not is_customer_id(match.record_id):
            continue
        if match.score > best_score:
            candidate: Customer = store.customers.resolve(match.record_id)
            best, best_score = candidate, match.score
    if best is not None:
        return best
    # find_by_keys only knows the keys the store's key function indexed; the
    # email and phone indexes every store keeps catch exact contact points
    # whatever that function is, and the same rules then judge them.
    found: dict[str, Customer] = {}
    for email in lead.emails:
        for customer in store.customers.find_by_email(email.address):
            found.setdefault(customer.id, customer)
    for phone in lead.phones:
        for customer in store.customers.find_by_phone(phone.number):
            found.setdefault(customer.id, customer)
    live: dict[str, Customer] = {c.id: c for c in (store.customers.resolve(i) for i in found)}
    if not live:
        return None
    cluster = find_duplicates([lead, *live.values()]).cluster_of(lead.id)
    if cluster is None:
        return None
    scores: dict[str, float] = {}
    for pair in cluster.pairs:
        if pair.decision is not Decision.MATCH or lead.id not in (pair.a, pair.b):
            continue
        other = pair.b if pair.a == lead.id else pair.a
        scores[other] = max(scores.get(other, 0.0), pair.score)
    if not scores:
        return None
    return live[max(scores, key=lambda i: (scores[i], i))]


def _customer_from(lead: Lead, stage: LifecycleStage) -> Customer:
    kind = CustomerKind.PERSON
    name: PersonName | str
    if lead.name is not None:
        name = lead.name
    elif lead.company is not None:
        kind, name = CustomerKind.ORGANIZATION, lead.company
    elif lead.emails:
        # Nothing better is known: the address's local part is how the
        # person signed up; the CRM user renames them later.
        name = PersonName.parse(lead.emails[0].address.local_part)
    else:
        raise ValidationError("name", "a lead needs a name, a company or an email to convert")
    return Customer.create(
        name=name,
        kind=kind,
        emails=lead.emails,
        phones=lead.phones,
        tags=lead.tags,
        custom_fields=lead.custom_fields,
        owner=lead.owner,
        stage=stage,
    )


# --------------------------------------------------------------------------- timeline


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


@attrs.frozen(repr=False)
class TimelineEntry:
    """One interaction on a timeline and the record it was originally logged against."""

    interaction: Interaction
    record_id: str
    relation: Relation

    @property
    def occurred_at(self) -> datetime:
        """When the interaction happened."""
        return self.interaction.occurred_at

    def __repr__(self) -> str:
        return (
            f"TimelineEntry(interaction_id={self.interaction.id!r}, "
            f"record_id={self.record_id!r}, relation={self.relation.value!r})"
        )


@attrs.frozen(repr=False)
class TimelinePage:
    """A page of a timeline, newest first; pass ``next_cursor`` back for the next page."""

    entries: tuple[TimelineEntry, ...]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[TimelineEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"TimelinePage(entries={len(self.entries)}, more={self.next_cursor is not None})"


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
    try:
        return frozenset(c if isinstance(c, Channel) else Channel(c) for c in items)
    except ValueError:
        raise ValidationError("channels", "names an unknown channel") from None


_MOVES_CACHE: OrderedDict[tuple[str, int], dict[str, tuple[str, Interaction]]] = OrderedDict()
_MOVES_LOCK = threading.Lock()
_MOVES_CACHE_SIZE = 256


def _moves_of(record: MergeRecord) -> dict[str, tuple[str, Interaction]]:
    """The interactions ``record``'s merge moved: id -> (original record, copy before).

    Cached by merge id and version: a stored merge record never changes without
    its version changing, and every page of a timeline needs the same index.
    """
    key = (record.id, record.version)
    with _MOVES_LOCK:
        if key in _MOVES_CACHE:
            _MOVES_CACHE.move_to_end(key)
            return _MOVES_CACHE[key]
    merged = set(record.merged_ids)
    moves: dict[str, tuple[str, Interaction]] = {}
    for before in record.before.interactions:
        original = next((i for i in before.record_ids if i in merged), None)
        if original is not None:
            moves[before.id] = (original, before)
    with _MOVES_LOCK:
        _MOVES_CACHE[key] = moves
        while len(_MOVES_CACHE) > _MOVES_CACHE_SIZE:
            _MOVES_CACHE.popitem(last=False)
    return moves


class _Origins:
    """Finds the record an interaction was first logged against, through merges and leads."""

    def __init__(self, store: Any) -> None:
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
                    for key, value in _moves_of(record).items():
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
    store: Store,
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
        store: any crmcore store.
        customer_id: the customer (or an id merged into it).
        since: only interactions at or after this aware datetime.
        until: only interactions before this aware datetime.
        channels: only these channels.
        include_organization_members: add the interactions of the members.
        limit: at most this many entries per page (all when ``None``).
        cursor: ``next_cursor`` of the previous page.

    Raises:
        NotFound: no such customer.
        ValidationError: a bad ``limit``, ``cursor``, ``channels`` or datetime.
    """
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
    if after is not None:
        # list_for's ``until`` is exclusive: one microsecond past the cursor's
        # moment keeps the interactions that share it, and the key skips those
        # already read.
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
