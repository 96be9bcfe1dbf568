"""StoreStateMachine: drive any store and the in-memory reference with the same operations.

hypothesis generates sequences of adds, updates (fresh and stale), deletes,
lookups, filtered and paginated listings, timelines and failing transactions;
on a store that :class:`~crmcore.storage.SupportsWorkItems` also of
opportunities (stage moves, history rewrites, ``totals``), tasks and cases
(state machine moves, case threads);
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

from crmcore.cases import Case, CaseStatus
from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import CrmError
from crmcore.ids import CaseId, CustomerId, LeadId, RecordId, new_customer_id
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead, LeadSource, LeadStatus
from crmcore.opportunities import Opportunity
from crmcore.storage._common import CUSTOMER_FIELDS
from crmcore.storage.keys import email_key, phone_key
from crmcore.storage.memory import InMemoryStore
from crmcore.storage.protocols import (
    TOTALS_BY,
    Filter,
    ItemRepository,
    Op,
    Page,
    Store,
    SupportsWorkItems,
    WorkStore,
    where,
)
from crmcore.tasks import Task
from crmcore.testing import _builders as build
from crmcore.testing import _work_builders as work
from crmcore.testing._stand_ins import store_referenced

__all__ = ["StoreStateMachine"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POOL = 12  # few distinct emails and phones, so lookups find several records


class _Abort(Exception):
    """Raised inside a transaction to make it roll back."""


def _normalise(value: Any) -> Any:
    if isinstance(value, Customer | Lead | Interaction | Opportunity | Task | Case):
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


_DUE = build.BASE_TIME + timedelta(hours=8)
_WORK_FILTERS: dict[str, list[Callable[[list[str]], tuple[Filter, ...]]]] = {
    "opportunities": [
        lambda ids: (),
        lambda ids: (where("status").eq("open"),),
        lambda ids: (where("stage_id").in_(["qualified", "won"]),),
        lambda ids: (where("currency").eq(None),),
        lambda ids: (where("currency").in_(["EUR"]), where("pipeline_id").eq("b2b")),
        lambda ids: (where("close_date").range(None, date(2025, 6, 1)),),
        lambda ids: (where("closed_at").eq(None),),
        lambda ids: (where("owner").prefix("usr_an"), where("tags").contains("vip")),
        lambda ids: (where("customer_id").in_(ids[:2]),),
        lambda ids: (where("contact_ids").contains(ids[0] if ids else "cus_none"),),
    ],
    "tasks": [
        lambda ids: (),
        lambda ids: (where("status").eq("open"), where("due_at").range(None, _DUE)),
        lambda ids: (where("assignee").eq(None),),
        lambda ids: (where("about_id").prefix("opp_"),),
        lambda ids: (where("completed_at").range(build.BASE_TIME, None),),
        lambda ids: (where("priority").in_(["high", "urgent"]), where("kind").eq("call")),
    ],
    "cases": [
        lambda ids: (),
        lambda ids: (where("status").in_(["new", "open"]),),
        lambda ids: (where("resolved_at").eq(None),),
        lambda ids: (where("customer_id").in_(ids[:2]),),
        lambda ids: (where("channel").eq("email"), where("assignee").prefix("usr_")),
        lambda ids: (where("reported_at").range(build.BASE_TIME + timedelta(minutes=5), None),),
    ],
}
_KINDS = sorted(_WORK_FILTERS)
_BUILDERS: dict[str, Callable[..., Any]] = {
    "opportunities": work.opportunity,
    "tasks": work.task,
    "cases": work.case,
}


def _works(machine: StoreStateMachine) -> bool:
    return machine.works


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
        # Work item rules run only on a store that keeps them.
        self.works = isinstance(self.store, SupportsWorkItems)
        self.work_ids: dict[str, list[str]] = {kind: [] for kind in _KINDS}
        self.buyers = [new_customer_id() for _ in range(3)]

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

    def _refer(self, records: list[Any]) -> None:
        """Store, in both stores alike, stand-ins for what ``records`` name (integrity)."""
        owner = new_customer_id()
        for s in (self.model, self.store):
            store_referenced(s, records, owner=owner)

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

    # ------------------------------------------------------------------ work items

    def _work_repo(self, s: Store, kind: str) -> ItemRepository[Any, Any]:
        repo: ItemRepository[Any, Any] = getattr(s, kind)
        return repo

    def _stored(self, kind: str, index: int) -> Any:
        ids = self.work_ids[kind]
        if not ids:
            return None
        item_id = ids[index % len(ids)]
        return self._work_repo(self.model, kind).get_many([item_id]).get(item_id)

    @precondition(_works)
    @rule(
        kind=st.sampled_from(_KINDS),
        slots=st.lists(st.integers(0, 60), min_size=1, max_size=4),
        buyer=st.integers(0, 2),
        duplicate=st.booleans(),
    )
    def add_work_items(self, kind: str, slots: list[int], buyer: int, duplicate: bool) -> None:
        """Add one or a batch of items, sometimes ending with an id already stored."""
        make = _BUILDERS[kind]
        if kind == "tasks":
            batch = [make(slot) for slot in slots]
        else:
            batch = [make(slot, customer_id=self.buyers[buyer]) for slot in slots]
        if duplicate and self.work_ids[kind]:
            batch.append(attrs.evolve(make(0), id=self.work_ids[kind][0]))
        self._refer(batch)
        if len(batch) == 1:
            status, _ = self.both(lambda s: self._work_repo(s, kind).add(batch[0]))
        else:
            status, _ = self.both(lambda s: self._work_repo(s, kind).add_many(batch))
        if status == "ok":
            self.work_ids[kind].extend(item.id for item in batch)

    @precondition(_works)
    @rule(
        index=st.integers(0, 30),
        stage=st.sampled_from(["new", "qualified", "proposal", "won", "lost"]),
        stale=st.booleans(),
        days=st.integers(0, 400),
    )
    def move_opportunity(self, index: int, stage: str, stale: bool, days: int) -> None:
        """Move a deal (backwards, to won or lost, reopening it), from a fresh or stale copy."""
        current: Opportunity | None = self._stored("opportunities", index)
        if current is None:
            return
        at = current.stage_history[-1].at + timedelta(days=days)
        try:
            moved = current.move_to(
                work.pipeline_of(current), stage, at=at, reason="price", reopen=True
            )
        except CrmError:
            return  # the model refuses the move (same stage): nothing for the store
        if stale:
            moved = attrs.evolve(moved, version=moved.version + 1)
        self.both(lambda s: s.opportunities.update(moved))  # type: ignore[attr-defined]

    @precondition(_works)
    @rule(index=st.integers(0, 30), kind=st.sampled_from(["opportunities", "cases"]))
    def rewrite_history(self, index: int, kind: str) -> None:
        """Store a copy whose history moved its first entry earlier: both must refuse it."""
        current = self._stored(kind, index)
        if current is None:
            return
        field = "stage_history" if kind == "opportunities" else "history"
        history = getattr(current, field)
        first = attrs.evolve(history[0], at=history[0].at - timedelta(days=1))
        changes: dict[str, Any] = {field: (first, *history[1:])}
        if kind == "cases":
            changes["reported_at"] = first.at
        rewritten = attrs.evolve(current, **changes)
        self.both(lambda s: self._work_repo(s, kind).update(rewritten))

    @precondition(_works)
    @rule(
        index=st.integers(0, 30),
        move=st.sampled_from(["complete", "cancel", "reopen", "tag"]),
        stale=st.booleans(),
    )
    def change_task(self, index: int, move: str, stale: bool) -> None:
        """Complete, cancel, reopen or tag a task."""
        current: Task | None = self._stored("tasks", index)
        if current is None:
            return
        try:
            if move == "complete":
                changed = current.complete(at=build.BASE_TIME + timedelta(hours=index))
            elif move == "cancel":
                changed = current.cancel()
            elif move == "reopen":
                changed = current.reopen()
            else:
                changed = attrs.evolve(current, tags=current.tags | {"vip"})
        except CrmError:
            return
        if stale:
            changed = attrs.evolve(changed, version=max(changed.version - 1, 0) or 5)
        self.both(lambda s: s.tasks.update(changed))  # type: ignore[attr-defined]

    @precondition(_works)
    @rule(index=st.integers(0, 30), status=st.sampled_from(CaseStatus), hours=st.integers(0, 50))
    def move_case(self, index: int, status: CaseStatus, hours: int) -> None:
        """Move a case through its state machine (and record a first response)."""
        current: Case | None = self._stored("cases", index)
        if current is None:
            return
        at = current.history[-1].at + timedelta(hours=hours)
        try:
            moved = current.responded(at=at).transition_to(status, at=at)
        except CrmError:
            return
        self.both(lambda s: s.cases.update(moved))  # type: ignore[attr-defined]

    @precondition(_works)
    @rule(
        kind=st.sampled_from(_KINDS),
        index=st.integers(0, 30),
        check_version=st.sampled_from([None, 1, 2]),
    )
    def delete_work_item(self, kind: str, index: int, check_version: int | None) -> None:
        """Delete an item (maybe already gone, maybe with the wrong expected version)."""
        ids = self.work_ids[kind]
        if not ids:
            return
        item_id = ids[index % len(ids)]
        self.both(
            lambda s: self._work_repo(s, kind).delete(item_id, expected_version=check_version)
        )

    @precondition(_works)
    @rule(
        kind=st.sampled_from(_KINDS),
        data=st.data(),
        order_by=st.sampled_from(["id", "created_at"]),
        descending=st.booleans(),
        limit=st.integers(1, 6),
    )
    def list_work_items(
        self, kind: str, data: st.DataObject, order_by: str, descending: bool, limit: int
    ) -> None:
        """Read every page of a filtered listing of opportunities, tasks or cases."""
        choices = _WORK_FILTERS[kind]
        filters = choices[data.draw(st.integers(0, len(choices) - 1))](list(self.buyers))

        def read_all(s: Store) -> list[str]:
            repo = self._work_repo(s, kind)
            seen: list[str] = []
            cursor = None
            while True:
                page = repo.list(
                    *filters, order_by=order_by, descending=descending, limit=limit, cursor=cursor
                )
                seen.extend(item.id for item in page.items)
                if page.next_cursor is None:
                    return seen
                cursor = page.next_cursor

        self.both(read_all)
        self.both(lambda s: self._work_repo(s, kind).count(*filters))

    @precondition(_works)
    @rule(data=st.data(), by=st.lists(st.sampled_from(TOTALS_BY), unique=True, max_size=3))
    def totals(self, data: st.DataObject, by: list[str]) -> None:
        """Totals per group and currency, over a filtered set of deals."""
        choices = _WORK_FILTERS["opportunities"]
        filters = choices[data.draw(st.integers(0, len(choices) - 1))](list(self.buyers))
        self.both(lambda s: s.opportunities.totals(*filters, by=by))  # type: ignore[attr-defined]

    @precondition(_works)
    @rule(index=st.integers(0, 30), hour=st.integers(0, 48), limit=st.sampled_from([None, 2]))
    def case_thread(self, index: int, hour: int, limit: int | None) -> None:
        """Log an interaction in a case's thread, then read the thread page by page."""
        case: Case | None = self._stored("cases", index)
        if case is None:
            return
        logged = build.interaction(case.customer_id, hour, case_id=case.id)
        self.both(lambda s: s.interactions.add(logged))

        def read_all(s: Store) -> list[str]:
            seen: list[str] = []
            cursor = None
            while True:
                page = s.interactions.list_for(case.id, limit=limit, cursor=cursor)
                seen.extend(i.id for i in page.items)
                if page.next_cursor is None:
                    return seen
                cursor = page.next_cursor

        self.both(read_all)

    @precondition(_works)
    @rule(index=st.integers(0, 30), slot=st.integers(0, 60))
    def failing_work_transaction(self, index: int, slot: int) -> None:
        """Write to all three repositories, then fail: neither store may keep anything."""
        deal = self._stored("opportunities", index)
        fresh = work.task(slot)
        ticket = work.case(slot, id=CaseId("cas_" + fresh.id[4:]))
        self._refer([fresh, ticket])

        def doomed(s: Store) -> str:
            works: WorkStore = s  # type: ignore[assignment]
            try:
                with works.transaction():
                    works.tasks.add(fresh)
                    works.cases.add(ticket)
                    if deal is not None:
                        works.opportunities.update(attrs.evolve(deal, tags=deal.tags | {"x"}))
                    raise _Abort
            except _Abort:
                return "rolled back"

        self.both(doomed)
        self.both(lambda s: s.tasks.get(fresh.id))  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ invariants

    @invariant()
    def same_counts(self) -> None:
        """Both stores hold as many records."""
        self.both(lambda s: (s.customers.count(), s.leads.count()))
        if self.works:
            self.both(lambda s: [self._work_repo(s, kind).count() for kind in _KINDS])

    def _created(self) -> datetime:
        # Increasing creation times, two records per second: equal times exercise
        # the tie-break on id.
        return build.BASE_TIME + timedelta(seconds=self._next() // 2)
