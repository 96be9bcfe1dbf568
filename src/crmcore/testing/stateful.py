"""StoreStateMachine: drive any store and the in-memory reference with the same operations.

hypothesis generates sequences of adds, updates (fresh and stale), deletes,
lookups, filtered and paginated listings, timelines and failing transactions;
after every step the store under test must have answered exactly like
:class:`~crmcore.storage.InMemoryStore` (same records, same order, same
error types). ``updated_at`` is the one field each store sets from its own
clock, so it is left out of the comparison (and never filtered or sorted on).

Use it in an adapter's test suite::

    from hypothesis import settings
    from crmcore.testing import StoreStateMachine

    class MyStoreMachine(StoreStateMachine):
        def make_store(self):
            return MyStore(...)            # a fresh, empty store

    TestMyStore = MyStoreMachine.TestCase
    TestMyStore.settings = settings(max_examples=50, stateful_step_count=40)

When it fails, hypothesis prints the shortest sequence of operations it found
that makes the two stores disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import CrmError
from crmcore.ids import CustomerId, LeadId, RecordId, new_customer_id
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead, LeadSource, LeadStatus
from crmcore.storage._common import CUSTOMER_FIELDS
from crmcore.storage.keys import email_key, phone_key
from crmcore.storage.memory import InMemoryStore
from crmcore.storage.protocols import Filter, Op, Page, Store, where
from crmcore.testing import _builders as build

__all__ = ["StoreStateMachine"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POOL = 12  # few distinct emails and phones, so lookups find several records


class _Abort(Exception):
    """Raised inside a transaction to make it roll back."""


def _normalise(value: Any) -> Any:
    if isinstance(value, Customer | Lead | Interaction):
        return attrs.evolve(value, updated_at=_EPOCH)
    if isinstance(value, Page):
        return _normalise(value.items), value.next_cursor is not None
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", _normalise(call())
    except CrmError as exc:
        return "error", type(exc).__name__
    # Anything else is a bug in the adapter (or the reference) and propagates.


_FILTERS: list[Callable[[list[CustomerId]], tuple[Filter, ...]]] = [
    lambda ids: (),
    lambda ids: (where("stage").eq(LifecycleStage.LEAD),),
    lambda ids: (where("stage").in_([LifecycleStage.CUSTOMER, LifecycleStage.SUBSCRIBER]),),
    lambda ids: (where("tags").contains("vip"),),
    lambda ids: (where("owner").eq(None),),
    lambda ids: (where("owner").prefix("usr_an"),),
    lambda ids: (where("id").in_(ids[:3]),),
    lambda ids: (where("created_at").range(build.BASE_TIME, None),),
    lambda ids: (where("tags").contains("vip"), where("stage").in_(list(LifecycleStage)[:4])),
]


def _ids(page: Page[Any]) -> list[str]:
    return [r.id for r in page.items]


_TAGS = st.sampled_from(["vip", "newsletter", "b2b", "VIP", "none"])
_TIMES = st.integers(-5, 40).map(lambda n: build.BASE_TIME + timedelta(seconds=n))
_DATES = st.dates(date(1949, 6, 1), date(2001, 1, 1))


def _values_for(field: str, records: Sequence[Customer]) -> st.SearchStrategy[Any]:
    ids = [r.id for r in records]
    known = st.sampled_from(ids) if ids else st.just("cus_" + "0" * 26)
    if field == "id":
        return known
    if field in ("organization_id", "merged_into"):
        return st.none() | known
    if field == "owner":
        return st.sampled_from([None, "usr_anna", "usr_an", "usr_bo", "usr_an3"])
    if field == "kind":
        return st.sampled_from(CustomerKind)
    if field == "stage":
        return st.sampled_from(LifecycleStage)
    # Mostly values of stored records, so that range bounds land exactly on them:
    # that is where an off-by-one in a translated query shows.
    if field == "birth_date":
        stored_dates = [r.birth_date for r in records if r.birth_date is not None]
        if not stored_dates:
            return st.none() | _DATES
        return st.one_of(st.none(), _DATES, *[st.sampled_from(stored_dates)] * 3)
    if field == "tags":
        return _TAGS
    stored_times = [r.created_at for r in records]
    if not stored_times:
        return _TIMES
    return st.one_of(_TIMES, *[st.sampled_from(stored_times)] * 3)


# Every allow-listed customer field but updated_at: _values_for draws times
# from the records' created_at, which an updated_at filter would rarely meet.
_CUSTOMER_FILTER_FIELDS = [name for name in CUSTOMER_FIELDS if name != "updated_at"]


@st.composite
def _filter_on(draw: st.DrawFn, records: Sequence[Customer]) -> Filter:
    field = draw(st.sampled_from(_CUSTOMER_FILTER_FIELDS))
    values = _values_for(field, records)
    # In declaration order, so that a seed draws the same operator in every process.
    op = draw(st.sampled_from([op for op in Op if op in CUSTOMER_FIELDS[field].ops]))
    if op is Op.EQ:
        return where(field).eq(draw(values))
    if op is Op.IN:
        return where(field).in_(draw(st.lists(values.filter(lambda v: v is not None), max_size=3)))
    if op is Op.CONTAINS:
        return where(field).contains(draw(values))
    if op is Op.RANGE:
        bounds = values.filter(lambda v: v is not None)
        return where(field).range(draw(st.none() | bounds), draw(st.none() | bounds))
    return where(field).prefix(draw(st.sampled_from(["", "usr_", "usr_an", "cus_", "x"])))


@st.composite
def _lead_filter(draw: st.DrawFn) -> Filter:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return where("status").in_(draw(st.lists(st.sampled_from(LeadStatus), max_size=2)))
    if choice == 1:
        return where("score").range(
            draw(st.none() | st.integers(-5, 100)), draw(st.none() | st.integers(-5, 100))
        )
    if choice == 2:
        return where("score").eq(draw(st.none() | st.integers(0, 100)))
    if choice == 3:
        return where("source").eq(draw(st.none() | st.sampled_from(LeadSource)))
    if choice == 4:
        return where("company").prefix(draw(st.sampled_from(["", "Prospect", "Prospect 1", "x"])))
    return where("tags").contains(draw(_TAGS))


class StoreStateMachine(RuleBasedStateMachine):
    """Random operations on :meth:`make_store`'s store and on an InMemoryStore, compared.

    Subclass it, override :meth:`make_store`, and expose ``YourMachine.TestCase``
    to pytest. Every rule runs the same call on both stores and asserts the
    same outcome: an equal result, or the same crmcore error type.
    """

    def __init__(self) -> None:
        super().__init__()
        self.store = self.make_store()
        self.model = InMemoryStore()
        self.customer_ids: list[CustomerId] = []
        self.lead_ids: list[LeadId] = []
        self.counter = 0

    def make_store(self) -> Store:
        """Return a fresh, empty store of the adapter under test (override this)."""
        raise NotImplementedError("override make_store() to return the store under test")

    def teardown(self) -> None:
        """Close both stores."""
        self.store.close()
        self.model.close()

    # ------------------------------------------------------------------ helpers

    def both(self, call: Callable[[Store], Any]) -> Any:
        """Run ``call`` on both stores; fail unless the outcomes agree; return the model's."""
        expected = _outcome(lambda: call(self.model))
        actual = _outcome(lambda: call(self.store))
        # Reprs of crmcore models are masked, so the message carries no personal data.
        assert actual == expected, f"the store answered {actual!r}, the reference {expected!r}"
        return expected

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _pick(self, ids: list[Any], index: int) -> Any:
        if not ids or index >= len(ids):
            return new_customer_id() if ids is self.customer_ids else None
        return ids[index]

    # ------------------------------------------------------------------ customers

    @rule(slot=st.integers(0, _POOL - 1), stage=st.sampled_from(LifecycleStage))
    def add_customer(self, slot: int, stage: LifecycleStage) -> None:
        """Add a customer whose email and phone come from a small shared pool."""
        record = build.customer(slot, stage=stage, created_at=self._created())
        status, _ = self.both(lambda s: s.customers.add(record))
        if status == "ok":
            self.customer_ids.append(record.id)

    @rule(slots=st.lists(st.integers(0, _POOL - 1), max_size=5), duplicate=st.booleans())
    def add_many_customers(self, slots: list[int], duplicate: bool) -> None:
        """Add a batch, sometimes ending with an id already stored (all or nothing)."""
        batch = [build.customer(s, created_at=self._created()) for s in slots]
        if duplicate and self.customer_ids:
            batch.append(build.customer(0, id=self.customer_ids[0]))
        status, _ = self.both(lambda s: s.customers.add_many(batch))
        if status == "ok":
            self.customer_ids.extend(r.id for r in batch)

    @precondition(lambda self: bool(self.customer_ids))
    @rule(
        index=st.integers(0, 30),
        change=st.sampled_from(["tag", "owner", "email", "phone", "stage", "none"]),
        slot=st.integers(0, _POOL - 1),
        stale=st.booleans(),
    )
    def update_customer(self, index: int, change: str, slot: int, stale: bool) -> None:
        """Update a customer, from a fresh copy or a stale one."""
        record_id = self.customer_ids[index % len(self.customer_ids)]
        found = self.model.customers.get_many([record_id]).get(record_id)
        if found is None:  # deleted meanwhile: both must say NotFound
            gone = build.customer(slot, id=record_id, version=1)
            self.both(lambda s: s.customers.update(gone))
            return
        record: Customer = found
        if change == "tag":
            record = record.add_tag("vip" if slot % 2 else "newsletter")
        elif change == "owner":
            record = record.assigned_to(None if slot % 3 == 0 else f"usr_an{slot}")
        elif change == "email":
            record = record.with_email(build.email(slot), primary=True)
        elif change == "phone":
            record = record.without_phone(record.phones[0].number) if record.phones else record
            record = record.with_phone(build.phone(slot))
        elif change == "stage":
            record = attrs.evolve(record, stage=list(LifecycleStage)[slot % len(LifecycleStage)])
        if stale:
            record = attrs.evolve(record, version=max(record.version - 1, 0) or 7)
        self.both(lambda s: s.customers.update(record))

    @precondition(lambda self: bool(self.customer_ids))
    @rule(index=st.integers(0, 30), check_version=st.sampled_from([None, 1, 2]))
    def delete_customer(self, index: int, check_version: int | None) -> None:
        """Delete a customer (maybe already gone; maybe with the wrong expected version)."""
        record_id = self.customer_ids[index % len(self.customer_ids)]
        self.both(lambda s: s.customers.delete(record_id, expected_version=check_version))

    @rule(index=st.integers(0, 40))
    def get_customer(self, index: int) -> None:
        """Read one customer (or an id never stored)."""
        record_id = self._pick(self.customer_ids, index)
        self.both(lambda s: s.customers.get(record_id))
        self.both(lambda s: s.customers.get_many([record_id, *self.customer_ids[:3]]))

    @rule(slot=st.integers(0, _POOL - 1))
    def lookups(self, slot: int) -> None:
        """Every lookup by a pool value."""
        self.both(lambda s: s.customers.find_by_email(build.email(slot)))
        self.both(lambda s: s.customers.find_by_phone(build.phone(slot)))
        self.both(lambda s: s.customers.find_by_identifier("crm", f"C-{slot}"))
        keys = [email_key(build.email(slot).match_key), phone_key(build.phone(slot + 1).e164)]
        self.both(lambda s: s.customers.find_by_keys(keys))
        self.both(lambda s: s.customers.find_by_keys(keys, limit=1))

    @rule(
        which=st.integers(0, len(_FILTERS) - 1),
        order_by=st.sampled_from(["id", "created_at"]),
        descending=st.booleans(),
        limit=st.integers(1, 6),
    )
    def list_pages(self, which: int, order_by: str, descending: bool, limit: int) -> None:
        """Read every page of a filtered, ordered listing."""
        filters = _FILTERS[which](self.customer_ids)

        def read_all(s: Store) -> list[str]:
            seen: list[str] = []
            cursor = None
            while True:
                page = s.customers.list(
                    *filters, order_by=order_by, descending=descending, limit=limit, cursor=cursor
                )
                seen.extend(r.id for r in page.items)
                if page.next_cursor is None:
                    return seen
                cursor = page.next_cursor

        self.both(read_all)
        self.both(lambda s: s.customers.count(*filters))

    @rule(data=st.data(), order_by=st.sampled_from(["id", "created_at"]))
    def random_filters(self, data: st.DataObject, order_by: str) -> None:
        """One to three filters drawn from the allow-list: SQL and the reference must agree."""
        records = list(self.model.customers.iter_all())
        count = data.draw(st.integers(1, 3))
        filters = tuple(data.draw(_filter_on(records)) for _ in range(count))
        self.both(lambda s: _ids(s.customers.list(*filters, order_by=order_by, limit=10_000)))
        self.both(lambda s: s.customers.count(*filters))

    @rule(data=st.data())
    def random_lead_filters(self, data: st.DataObject) -> None:
        """Lead filters drawn from the allow-list."""
        filters = tuple(data.draw(_lead_filter()) for _ in range(2))
        self.both(lambda s: _ids(s.leads.list(*filters, limit=10_000)))

    # ------------------------------------------------------------------ leads

    @rule(slot=st.integers(0, _POOL - 1))
    def add_lead(self, slot: int) -> None:
        """Add a lead (sharing the pool's addresses offset by 10,000)."""
        record = build.lead(slot, created_at=self._created())
        status, _ = self.both(lambda s: s.leads.add(record))
        if status == "ok":
            self.lead_ids.append(record.id)

    @precondition(lambda self: bool(self.lead_ids))
    @rule(index=st.integers(0, 30), score=st.integers(-5, 100), stale=st.booleans())
    def update_lead(self, index: int, score: int, stale: bool) -> None:
        """Rescore a lead, from a fresh or stale copy."""
        record_id = self.lead_ids[index % len(self.lead_ids)]
        record = self.model.leads.get(record_id).scored(score)
        if stale:
            record = attrs.evolve(record, version=record.version + 1)
        self.both(lambda s: s.leads.update(record))
        self.both(lambda s: s.leads.list(where("score").range(0, 50), limit=100))
        self.both(lambda s: s.leads.find_by_email(build.email(10_000 + index % _POOL)))

    # ------------------------------------------------------------------ interactions

    @rule(
        index=st.integers(0, 30),
        hour=st.integers(0, 48),
        external=st.sampled_from([None, "m-1", "m-2", "m-3"]),
    )
    def log_interaction(self, index: int, hour: int, external: str | None) -> None:
        """Log an interaction about a known record; external ids repeat on purpose."""
        pool: list[RecordId] = [*self.customer_ids, *self.lead_ids]
        if not pool:
            return
        record_id = pool[index % len(pool)]
        interaction = build.interaction(record_id, hour, external_id=external)
        self.both(lambda s: s.interactions.add(interaction))

    @rule(
        index=st.integers(0, 30),
        channel=st.sampled_from([None, Channel.EMAIL, Channel.PHONE_CALL]),
        limit=st.sampled_from([None, 1, 3]),
    )
    def timeline(self, index: int, channel: Channel | None, limit: int | None) -> None:
        """Read a whole timeline, page by page."""
        pool: list[RecordId] = [*self.customer_ids, *self.lead_ids]
        if not pool:
            return
        record_id = pool[index % len(pool)]

        def read_all(s: Store) -> list[str]:
            seen: list[str] = []
            cursor = None
            while True:
                page = s.interactions.list_for(
                    record_id, channel=channel, limit=limit, cursor=cursor
                )
                seen.extend(r.id for r in page.items)
                if page.next_cursor is None:
                    return seen
                cursor = page.next_cursor

        self.both(read_all)
        self.both(lambda s: s.interactions.find_by_external_id("m-1"))
        self.both(lambda s: s.interactions.find_by_external_id("m-2"))

    # ------------------------------------------------------------------ transactions

    @rule(slot=st.integers(0, _POOL - 1), index=st.integers(0, 30))
    def failing_transaction(self, slot: int, index: int) -> None:
        """A transaction that writes, then fails: neither store may keep anything."""
        record = build.customer(slot, created_at=self._created())
        target = self.customer_ids[index % len(self.customer_ids)] if self.customer_ids else None

        def doomed(s: Store) -> str:
            try:
                with s.transaction():
                    s.customers.add(record)
                    if target is not None:
                        current = s.customers.get_many([target]).get(target)
                        if current is not None:
                            s.customers.update(current.add_tag("doomed"))
                    raise _Abort
            except _Abort:
                return "rolled back"

        self.both(doomed)
        self.both(lambda s: s.customers.get(record.id))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def same_counts(self) -> None:
        """Both stores hold as many records."""
        self.both(lambda s: (s.customers.count(), s.leads.count()))

    def _created(self) -> datetime:
        # Increasing creation times, two records per second: equal times exercise
        # the tie-break on id.
        return build.BASE_TIME + timedelta(seconds=self._next() // 2)
