"""The part of the storage contract that covers work items: opportunities, tasks, cases.

:class:`~crmcore.testing.StorageContract` includes these checks; they are kept
in their own class so that the feature's contract reads in one place. They
run on every store that :class:`~crmcore.storage.SupportsWorkItems` unless the
adapter sets ``supports_work_items = False``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

import attrs
import pytest
from hypothesis import assume
from hypothesis import strategies as st

from crmcore.cases import Case, CaseStatus
from crmcore.errors import (
    CrmError,
    DuplicateRecord,
    IntegrityError,
    NotFound,
    ValidationError,
    VersionConflict,
)
from crmcore.ids import (
    new_case_id,
    new_customer_id,
    new_opportunity_id,
    new_task_id,
)
from crmcore.interactions import Channel
from crmcore.leads import LeadSource
from crmcore.opportunities import Opportunity
from crmcore.pipelines import DealStatus
from crmcore.storage.protocols import (
    Filter,
    ItemRepository,
    Store,
    SupportsLoad,
    Total,
    WorkStore,
    where,
)
from crmcore.tasks import Priority, Task, TaskKind, TaskStatus
from crmcore.testing import _builders as build
from crmcore.testing import _work_builders as work
from crmcore.testing import strategies
from crmcore.testing._kit import check_every as _check_every
from crmcore.testing._kit import collect as _collect
from crmcore.testing._kit import require_work_items
from crmcore.testing._kit import same as _same
from crmcore.testing._stand_ins import store_referenced
from crmcore.values import Money

__all__ = ["WorkItemsContract"]

W = TypeVar("W", bound=Opportunity | Task | Case)
T = TypeVar("T")
_ALL = 10_000


class _Abort(Exception):
    """Raised to abort a transaction half-way."""


def _ready(store: Store, items: T) -> T:
    """``items`` (an item or a list), once every record they name is stored.

    Stores refuse a work item naming a customer, lead, deal or case they do not
    hold (referential integrity); the builders name fresh ids, so stand-ins go first.
    """
    store_referenced(store, items if isinstance(items, list) else [items])
    return items


@attrs.frozen
class _Kind(Generic[W]):
    """One work item kind as the contract drives it."""

    name: str
    repository: Callable[[WorkStore], ItemRepository[W, Any]]
    build: Callable[[int], W]
    new_id: Callable[[], str]

    def changed(self, item: W, n: int = 0) -> W:
        """A valid edit of a stored item (a tag and the owner or assignee)."""
        owner = f"usr_edit{n}"
        if isinstance(item, Opportunity):
            return attrs.evolve(item, tags=item.tags | {"edited"}, owner=owner)
        return attrs.evolve(item, tags=item.tags | {"edited"}, assignee=owner)


OPPORTUNITY: _Kind[Opportunity] = _Kind(
    "opportunity", lambda s: s.opportunities, work.opportunity, new_opportunity_id
)
TASK: _Kind[Task] = _Kind("task", lambda s: s.tasks, work.task, new_task_id)
CASE: _Kind[Case] = _Kind("case", lambda s: s.cases, work.case, new_case_id)
KINDS: dict[str, _Kind[Any]] = {k.name: k for k in (OPPORTUNITY, TASK, CASE)}
# By name, so that a check reads "kind=task" in a report and can be run by it.
_KINDS = pytest.mark.parametrize("kind", list(KINDS))


def _ids(items: Sequence[Any]) -> list[str]:
    return [i.id for i in items]


def _in(value: T | None, low: T | None, high: T | None) -> bool:
    return (
        value is not None
        and (low is None or value >= low)  # type: ignore[operator]
        and (high is None or value < high)  # type: ignore[operator]
    )


_Case = tuple[tuple[Filter, ...], Callable[[Any], bool]]


def _opportunity_filters(items: list[Opportunity]) -> list[_Case]:
    one, two = items[3], items[8]
    contact = items[0].contacts[0].customer_id
    may, july = date(2025, 5, 1), date(2025, 7, 1)
    closed = [i.closed_at for i in items if i.closed_at is not None]
    t0 = build.BASE_TIME + timedelta(minutes=5)
    return [
        ((), lambda o: True),
        ((where("id").eq(one.id),), lambda o: o.id == one.id),
        ((where("id").in_([one.id, two.id, new_opportunity_id()]),), lambda o: o in (one, two)),
        ((where("id").prefix("opp_"),), lambda o: True),
        ((where("customer_id").eq(one.customer_id),), lambda o: o.customer_id == one.customer_id),
        (
            (where("customer_id").in_([one.customer_id, two.customer_id]),),
            lambda o: o.customer_id in (one.customer_id, two.customer_id),
        ),
        (
            (where("contact_ids").contains(contact),),
            lambda o: contact in {c.customer_id for c in o.contacts},
        ),
        (
            (where("contact_ids").contains(items[0].customer_id),),
            lambda o: items[0].customer_id in {c.customer_id for c in o.contacts},
        ),
        ((where("pipeline_id").eq("web-shop"),), lambda o: o.pipeline_id == "web-shop"),
        ((where("pipeline_id").in_(["b2b", "x"]),), lambda o: o.pipeline_id == "b2b"),
        ((where("stage_id").eq("qualified"),), lambda o: o.stage_id == "qualified"),
        ((where("stage_id").in_(["won", "lost"]),), lambda o: o.stage_id in ("won", "lost")),
        ((where("status").eq(DealStatus.WON),), lambda o: o.status is DealStatus.WON),
        (
            (where("status").in_(["open", DealStatus.LOST]),),
            lambda o: o.status in (DealStatus.OPEN, DealStatus.LOST),
        ),
        ((where("owner").eq(None),), lambda o: o.owner is None),
        ((where("owner").eq("usr_bo"),), lambda o: o.owner == "usr_bo"),
        (
            (where("owner").in_(["usr_bo", "usr_anna"]),),
            lambda o: o.owner in ("usr_bo", "usr_anna"),
        ),
        (
            (where("owner").prefix("usr_an"),),
            lambda o: o.owner is not None and o.owner.startswith("usr_an"),
        ),
        ((where("lead_id").eq(None),), lambda o: o.lead_id is None),
        ((where("lead_id").in_([items[1].lead_id]),), lambda o: o.lead_id == items[1].lead_id),
        ((where("source").eq(None),), lambda o: o.source is None),
        ((where("source").eq(LeadSource.CAMPAIGN),), lambda o: o.source is LeadSource.CAMPAIGN),
        (
            (where("source").in_(["web_form", "campaign"]),),
            lambda o: o.source in (LeadSource.WEB_FORM, LeadSource.CAMPAIGN),
        ),
        ((where("currency").eq(None),), lambda o: o.amount is None),
        (
            (where("currency").eq("EUR"),),
            lambda o: o.amount is not None and o.amount.currency == "EUR",
        ),
        (
            (where("currency").in_(["USD", "SEK"]),),
            lambda o: o.amount is not None and o.amount.currency == "USD",
        ),
        ((where("close_date").eq(None),), lambda o: o.close_date is None),
        ((where("close_date").eq(one.close_date),), lambda o: o.close_date == one.close_date),
        (
            (where("close_date").in_([one.close_date, date(1999, 1, 1)]),),
            lambda o: o.close_date == one.close_date,
        ),
        ((where("close_date").range(may, july),), lambda o: _in(o.close_date, may, july)),
        ((where("close_date").range(None, may),), lambda o: _in(o.close_date, None, may)),
        ((where("closed_at").eq(None),), lambda o: o.closed_at is None),
        ((where("closed_at").eq(closed[0]),), lambda o: o.closed_at == closed[0]),
        ((where("closed_at").in_(closed[:2]),), lambda o: o.closed_at in closed[:2]),
        (
            (where("closed_at").range(closed[1], None),),
            lambda o: _in(o.closed_at, closed[1], None),
        ),
        ((where("tags").contains(" VIP "),), lambda o: "vip" in o.tags),
        ((where("created_at").range(t0, None),), lambda o: o.created_at >= t0),
        ((where("created_at").eq(build.BASE_TIME),), lambda o: o.created_at == build.BASE_TIME),
        ((where("created_at").in_([t0]),), lambda o: o.created_at == t0),
        (
            (where("updated_at").range(None, items[-1].updated_at),),
            lambda o: o.updated_at < items[-1].updated_at,
        ),
        (
            (
                where("status").eq("open"),
                where("pipeline_id").eq("b2b"),
                where("currency").eq("USD"),
            ),
            lambda o: (
                o.status is DealStatus.OPEN
                and o.pipeline_id == "b2b"
                and o.amount is not None
                and o.amount.currency == "USD"
            ),
        ),
    ]


def _task_filters(items: list[Task]) -> list[_Case]:
    due = build.BASE_TIME + timedelta(hours=5)
    done = [t.completed_at for t in items if t.completed_at is not None]
    about = items[2].about_id
    return [
        ((where("id").prefix("tsk_"),), lambda t: True),
        ((where("id").in_([items[1].id]),), lambda t: t.id == items[1].id),
        ((where("kind").eq(TaskKind.CALL),), lambda t: t.kind is TaskKind.CALL),
        (
            (where("kind").in_(["email", "meeting"]),),
            lambda t: t.kind in (TaskKind.EMAIL, TaskKind.MEETING),
        ),
        ((where("status").eq("done"),), lambda t: t.status is TaskStatus.DONE),
        ((where("status").in_([TaskStatus.OPEN]),), lambda t: t.status is TaskStatus.OPEN),
        ((where("priority").eq(Priority.URGENT),), lambda t: t.priority is Priority.URGENT),
        (
            (where("priority").in_(["high", "urgent"]),),
            lambda t: t.priority in (Priority.HIGH, Priority.URGENT),
        ),
        ((where("assignee").eq(None),), lambda t: t.assignee is None),
        ((where("assignee").eq("usr_bo"),), lambda t: t.assignee == "usr_bo"),
        ((where("assignee").in_(["usr_anna"]),), lambda t: t.assignee == "usr_anna"),
        (
            (where("assignee").prefix("usr_an"),),
            lambda t: t.assignee is not None and t.assignee.startswith("usr_an"),
        ),
        ((where("about_id").eq(None),), lambda t: t.about_id is None),
        ((where("about_id").eq(about),), lambda t: t.about_id == about),
        ((where("about_id").in_([about, "cus_x"]),), lambda t: t.about_id == about),
        (
            (where("about_id").prefix("opp_"),),
            lambda t: t.about_id is not None and t.about_id.startswith("opp_"),
        ),
        ((where("due_at").eq(None),), lambda t: t.due_at is None),
        ((where("due_at").eq(due),), lambda t: t.due_at == due),
        ((where("due_at").in_([due]),), lambda t: t.due_at == due),
        ((where("due_at").range(None, due),), lambda t: _in(t.due_at, None, due)),
        ((where("completed_at").eq(None),), lambda t: t.completed_at is None),
        ((where("completed_at").eq(done[0]),), lambda t: t.completed_at == done[0]),
        ((where("completed_at").in_(done[1:3]),), lambda t: t.completed_at in done[1:3]),
        (
            (where("completed_at").range(done[1], None),),
            lambda t: _in(t.completed_at, done[1], None),
        ),
        ((where("tags").contains("renewal"),), lambda t: "renewal" in t.tags),
        (
            (where("created_at").range(build.BASE_TIME, items[4].created_at),),
            lambda t: build.BASE_TIME <= t.created_at < items[4].created_at,
        ),
        (
            (where("updated_at").eq(items[3].updated_at),),
            lambda t: t.updated_at == items[3].updated_at,
        ),
        (
            (where("status").eq("open"), where("due_at").range(None, due)),
            lambda t: t.status is TaskStatus.OPEN and _in(t.due_at, None, due),
        ),
    ]


def _case_filters(items: list[Case]) -> list[_Case]:
    at = build.BASE_TIME + timedelta(minutes=3)
    resolved = [c.resolved_at for c in items if c.resolved_at is not None]
    return [
        ((where("id").eq(items[0].id),), lambda c: c.id == items[0].id),
        ((where("id").prefix("cas_"),), lambda c: True),
        (
            (where("customer_id").eq(items[2].customer_id),),
            lambda c: c.customer_id == items[2].customer_id,
        ),
        (
            (where("customer_id").in_([items[2].customer_id, items[5].customer_id]),),
            lambda c: c.customer_id in (items[2].customer_id, items[5].customer_id),
        ),
        ((where("status").eq(CaseStatus.NEW),), lambda c: c.status is CaseStatus.NEW),
        (
            (where("status").in_(["resolved", "closed"]),),
            lambda c: c.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED),
        ),
        ((where("priority").eq("low"),), lambda c: c.priority is Priority.LOW),
        ((where("priority").in_([Priority.HIGH]),), lambda c: c.priority is Priority.HIGH),
        ((where("channel").eq(Channel.EMAIL),), lambda c: c.channel is Channel.EMAIL),
        (
            (where("channel").in_(["web_form", "chat"]),),
            lambda c: c.channel in (Channel.WEB_FORM, Channel.CHAT),
        ),
        ((where("assignee").eq(None),), lambda c: c.assignee is None),
        ((where("assignee").eq("usr_anna"),), lambda c: c.assignee == "usr_anna"),
        ((where("assignee").in_(["usr_bo", "x"]),), lambda c: c.assignee == "usr_bo"),
        (
            (where("assignee").prefix("usr_an"),),
            lambda c: c.assignee is not None and c.assignee.startswith("usr_an"),
        ),
        ((where("reported_at").eq(at),), lambda c: c.reported_at == at),
        (
            (where("reported_at").in_([at, build.BASE_TIME]),),
            lambda c: c.reported_at in (at, build.BASE_TIME),
        ),
        ((where("reported_at").range(at, None),), lambda c: c.reported_at >= at),
        ((where("resolved_at").eq(None),), lambda c: c.resolved_at is None),
        ((where("resolved_at").eq(resolved[0]),), lambda c: c.resolved_at == resolved[0]),
        ((where("resolved_at").in_(resolved[:2]),), lambda c: c.resolved_at in resolved[:2]),
        (
            (where("resolved_at").range(None, resolved[1]),),
            lambda c: _in(c.resolved_at, None, resolved[1]),
        ),
        ((where("tags").contains("b2b"),), lambda c: "b2b" in c.tags),
        ((where("created_at").range(None, at),), lambda c: c.created_at < at),
        (
            (where("updated_at").in_([items[1].updated_at]),),
            lambda c: c.updated_at == items[1].updated_at,
        ),
    ]


def _group_text(o: Opportunity, field: str) -> str | None:
    # Written out here, not taken from the store's code: the contract's own oracle.
    if field == "status":
        return o.status.value
    if field == "probability":
        return format(o.probability, "f")
    if field == "close_month":
        return None if o.close_date is None else f"{o.close_date.year:04d}-{o.close_date.month:02d}"
    value: str | None = getattr(o, field)
    return value


def _expected_totals(items: Sequence[Opportunity], by: Sequence[str]) -> list[Total]:
    groups: dict[tuple[tuple[str | None, ...], str | None], list[Opportunity]] = {}
    for o in items:
        key = (
            tuple(_group_text(o, f) for f in by),
            None if o.amount is None else o.amount.currency,
        )
        groups.setdefault(key, []).append(o)
    result = []
    for (group, currency), members in groups.items():
        amount = Decimal(0)
        for o in members:
            if o.amount is not None:
                # Exact: integer arithmetic on the scaled digits, no decimal context.
                amount += o.amount.amount
        result.append(Total(group, currency, len(members), amount))

    def order(t: Total) -> tuple[Any, ...]:
        return (
            tuple((v is not None, v or "") for v in t.group),
            (t.currency is not None, t.currency or ""),
        )

    return sorted(result, key=order)


_CURRENCIES = st.sampled_from(["EUR", "USD", "JPY", "SEK"])
_AMOUNTS = st.decimals(
    min_value=0, max_value=Decimal("9" * 20), places=2, allow_nan=False, allow_infinity=False
)


class WorkItemsContract:
    """Checks of the opportunity, task and case repositories, and of ``load`` and threads.

    Attributes:
        supports_work_items: the store has ``opportunities``, ``tasks`` and
            ``cases`` (:class:`~crmcore.storage.SupportsWorkItems`), so that the
            pipeline, agenda and support services work on it. An adapter that
            sets it to ``False`` has these checks skipped, visibly; so does a
            store that does not implement the protocol.
    """

    supports_work_items: ClassVar[bool] = True

    def _work(self, store: Store) -> WorkStore:
        return require_work_items(self, store)

    # ================================================================= round trips

    @_KINDS
    def test_work_items_round_trip_keeping_every_field(self, store: Store, kind: str) -> None:
        k = KINDS[kind]
        repo = k.repository(self._work(store))
        originals = _ready(store, [k.build(i) for i in range(12)])
        for original in originals:
            stored = repo.add(original)
            assert stored.version == 1
            assert stored.created_at == original.created_at
            assert stored == attrs.evolve(original, version=1, updated_at=stored.updated_at)
            _same(repo.get(original.id), stored)
            _same(repo.list(where("id").eq(original.id)).items[0], stored)

    def test_every_drawn_work_item_round_trips_and_is_found(self, store: Store) -> None:
        work_store = self._work(store)
        drawn: list[tuple[st.SearchStrategy[Any], ItemRepository[Any, Any]]] = [
            (strategies.opportunities(), work_store.opportunities),
            (strategies.tasks(), work_store.tasks),
            (strategies.cases(), work_store.cases),
        ]

        def numbered(n: int) -> st.SearchStrategy[tuple[int, Any]]:
            return drawn[n][0].map(lambda item: (n, item))

        def round_trip(pair: tuple[int, Any]) -> None:
            repo = drawn[pair[0]][1]
            item = pair[1]
            if repo.get_many([item.id]):  # hypothesis may draw an id again
                try:
                    repo.delete(item.id)
                except IntegrityError:
                    assume(False)  # an earlier example's task names it
            stored = repo.add(_ready(work_store, item))
            assert stored == attrs.evolve(item, version=1, updated_at=stored.updated_at)
            _same(repo.get(item.id), stored)
            _same(repo.list(where("id").eq(item.id)).items[0], stored)
            for tag in item.tags:
                assert repo.count(where("id").eq(item.id), where("tags").contains(tag)) == 1

        _check_every(
            st.one_of(*(numbered(n) for n in range(len(drawn)))),
            round_trip,
        )

    def test_every_history_entry_and_amount_digit_is_kept(self, store: Store) -> None:
        work_store = self._work(store)
        deal = work.opportunity(
            1, amount=Money(Decimal("1234567890123456789012345678.0100"), "EUR")
        )
        pipeline = work.pipeline_of(deal)
        deal = deal.move_to(pipeline, "proposal", at=deal.stage_history[-1].at)
        deal = deal.move_to(pipeline, "new", at=deal.stage_history[-1].at + timedelta(days=1))
        deal = deal.with_probability(Decimal("0.0001"))
        stored = work_store.opportunities.add(_ready(store, deal))
        again = work_store.opportunities.get(deal.id)
        _same(again, stored)
        assert str(again.amount.amount) == "1234567890123456789012345678.0100"  # type: ignore[union-attr]
        assert [c.stage_id for c in again.stage_history] == ["qualified", "proposal", "new"]
        case = _ready(store, work.case(2).responded(at=build.BASE_TIME + timedelta(days=1)))
        _same(work_store.cases.get(work_store.cases.add(case).id), work_store.cases.get(case.id))
        assert work_store.cases.get(case.id).history == case.history

    # ================================================================= ids and CAS

    @_KINDS
    def test_ids_are_unique_and_unknown_ids_are_not_found(self, store: Store, kind: str) -> None:
        k = KINDS[kind]
        repo = k.repository(self._work(store))
        first = repo.add(_ready(store, k.build(1)))
        with pytest.raises(DuplicateRecord):
            repo.add(_ready(store, attrs.evolve(k.build(2), id=first.id)))
        assert repo.count() == 1
        missing = k.new_id()
        for call in (
            lambda: repo.get(missing),
            lambda: repo.get("cus_" + missing[4:]),
            lambda: repo.get(123),  # type: ignore[arg-type]
            lambda: repo.update(attrs.evolve(k.build(3), version=1)),
            lambda: repo.delete(missing),
        ):
            with pytest.raises(NotFound):
                call()
        assert repo.get(first.id) == first

    @_KINDS
    def test_get_many_of_work_items_keeps_the_order_asked(self, store: Store, kind: str) -> None:
        k = KINDS[kind]
        repo = k.repository(self._work(store))
        a, _, c = repo.add_many(_ready(store, [k.build(i) for i in range(3)]))
        found = repo.get_many([c.id, k.new_id(), a.id, c.id, 5, "x"])  # type: ignore[list-item]
        assert list(found) == [c.id, a.id]
        assert found[c.id] == c
        assert repo.get_many([]) == {}

    @_KINDS
    def test_updates_and_deletes_are_compare_and_set(self, store: Store, kind: str) -> None:
        k = KINDS[kind]
        repo = k.repository(self._work(store))
        stored = repo.add(_ready(store, k.build(4)))
        changed = repo.update(k.changed(stored))
        assert changed.version == 2
        assert changed.created_at == stored.created_at
        assert changed.updated_at >= stored.updated_at
        assert repo.get(stored.id) == changed
        with pytest.raises(VersionConflict) as info:
            repo.update(k.changed(stored, 1))
        assert (info.value.expected, info.value.actual) == (1, 2)
        assert repo.get(stored.id) == changed
        with pytest.raises(VersionConflict):
            repo.delete(stored.id, expected_version=1)
        repo.delete(stored.id, expected_version=2)
        with pytest.raises(NotFound):
            repo.get(stored.id)
        with pytest.raises(NotFound):
            repo.delete(stored.id)
        assert repo.add(stored).version == 1  # the id is free again

    # ================================================================= all or nothing

    @_KINDS
    def test_work_item_batches_are_all_or_nothing(self, store: Store, kind: str) -> None:
        k = KINDS[kind]
        repo = k.repository(self._work(store))
        existing = repo.add(_ready(store, k.build(0)))
        batch = _ready(store, [k.build(i) for i in range(1, 20)])
        with pytest.raises(DuplicateRecord):
            repo.add_many(_ready(store, [*batch, attrs.evolve(k.build(30), id=existing.id)]))
        assert repo.count() == 1
        assert repo.get_many(_ids(batch)) == {}
        with pytest.raises(DuplicateRecord):
            repo.add_many([batch[0], batch[1], batch[0]])
        assert repo.count() == 1
        with pytest.raises(ValidationError):
            repo.add_many([batch[0], "not an item"])
        assert repo.count() == 1
        stored = repo.add_many(batch)
        assert _ids(stored) == _ids(batch)
        assert [repo.get(s.id) for s in stored] == stored
        assert repo.add_many([]) == []

    def test_a_transaction_rolls_back_every_work_item_write(self, store: Store) -> None:
        work_store = self._work(store)
        deal = work_store.opportunities.add(_ready(store, work.opportunity(1)))
        task = work_store.tasks.add(_ready(store, work.task(1)))
        case = work_store.cases.add(_ready(store, work.case(0)))  # new
        later_deal, later_case, later_task = work.opportunity(2), work.case(2), work.task(5)
        _ready(store, [later_deal, later_case, later_task])
        customers = work_store.customers.count()  # the stand-ins they name

        def doomed() -> None:
            with work_store.transaction():
                work_store.opportunities.update(
                    deal.move_to(work.pipeline_of(deal), "won", at=deal.stage_history[-1].at)
                )
                work_store.opportunities.add(later_deal)
                work_store.tasks.update(task.complete(at=build.BASE_TIME))
                work_store.tasks.delete(task.id)
                work_store.cases.add(later_case)
                work_store.cases.update(case.transition_to("open", at=case.reported_at))
                work_store.customers.add(build.customer(1))
                raise _Abort

        with pytest.raises(_Abort):
            doomed()
        assert work_store.opportunities.get(deal.id) == deal
        assert work_store.opportunities.count() == 1
        assert work_store.tasks.get(task.id) == task
        assert work_store.cases.get(case.id) == case
        assert work_store.cases.count() == 1
        assert work_store.customers.count() == customers
        with work_store.transaction():
            moved = work_store.cases.update(case.transition_to("open", at=case.reported_at))
            added = work_store.tasks.add(later_task)
        assert work_store.cases.get(case.id) == moved
        assert work_store.tasks.get(added.id) == added

    # ================================================================= append-only history

    def test_stage_history_is_append_only(self, store: Store) -> None:
        repo = self._work(store).opportunities
        deal = repo.add(_ready(store, work.opportunity(2)))  # at "proposal"
        # A backwards move: allowed, and recorded like any other.
        moved = repo.update(deal.move_to(work.B2B, "new", at=deal.stage_history[-1].at))
        assert len(moved.stage_history) == 2
        first = moved.stage_history[0]
        rewritten = [
            # Dropping the last move, as an app restoring an old copy would.
            attrs.evolve(
                moved,
                stage_history=moved.stage_history[:1],
                stage_id=first.stage_id,
                probability=first.probability,
            ),
            # Changing when the first stage began.
            attrs.evolve(
                moved,
                stage_history=(
                    attrs.evolve(first, at=first.at - timedelta(days=1)),
                    *moved.stage_history[1:],
                ),
            ),
        ]
        for copy in rewritten:
            with pytest.raises(ValidationError) as info:
                repo.update(copy)
            assert info.value.paths == ("stage_history",)
            assert repo.get(deal.id) == moved
        won = repo.update(moved.move_to(work.B2B, "won", at=moved.stage_history[-1].at))
        assert [c.stage_id for c in won.stage_history] == ["proposal", "new", "won"]
        assert won.closed_at == won.stage_history[-1].at

    def test_case_history_is_append_only(self, store: Store) -> None:
        repo = self._work(store).cases
        case = repo.add(_ready(store, work.case(1)))  # new -> open
        assert len(case.history) == 2
        first = case.history[0]
        with pytest.raises(ValidationError) as info:
            repo.update(attrs.evolve(case, history=case.history[:1], status=first.status))
        assert info.value.paths == ("history",)
        assert repo.get(case.id) == case
        later = case.transition_to("resolved", at=case.history[-1].at + timedelta(hours=1))
        assert repo.update(later).status is CaseStatus.RESOLVED

    # ================================================================= filters and pages

    def _filters_hold(
        self, repo: ItemRepository[Any, Any], items: list[Any], cases: list[_Case]
    ) -> None:
        stored = [repo.get(i.id) for i in items]
        for filters, predicate in cases:
            expected = sorted(i.id for i in stored if predicate(i))
            assert _ids(repo.list(*filters, limit=_ALL).items) == expected, f"filter {filters!r}"
            assert repo.count(*filters) == len(expected), f"count {filters!r}"

    def test_opportunity_filters_select_exactly_the_matching_items(self, store: Store) -> None:
        repo = self._work(store).opportunities
        first = repo.add(_ready(store, work.opportunity(0)))
        others = [work.opportunity(i) for i in range(1, 40)]
        # A deal where the first deal's customer is a contact only.
        others[5] = attrs.evolve(others[5], contacts=first.contacts[:1])
        items = [first, *repo.add_many(_ready(store, others))]
        items[7] = repo.update(kind_edit(items[7]))
        self._filters_hold(repo, items, _opportunity_filters(items))

    def test_task_filters_select_exactly_the_matching_items(self, store: Store) -> None:
        repo = self._work(store).tasks
        items = repo.add_many(_ready(store, [work.task(i) for i in range(30)]))
        items[3] = repo.update(TASK.changed(items[3]))
        self._filters_hold(repo, items, _task_filters(items))

    def test_case_filters_select_exactly_the_matching_items(self, store: Store) -> None:
        repo = self._work(store).cases
        items = repo.add_many(_ready(store, [work.case(i) for i in range(30)]))
        items[1] = repo.update(CASE.changed(items[1]))
        self._filters_hold(repo, items, _case_filters(items))

    @pytest.mark.parametrize(
        "bad",
        [
            where("name").eq("x"),
            where("amount").eq("x"),
            where("probability").eq(Decimal("0.5")),
            where("stage_history").eq("x"),
            where("status").contains("open"),
            where("status").eq("not-a-status"),
            where("status").eq(None),
            where("contact_ids").eq("cus_x"),
            where("contact_ids").contains(None),
            where("tags").eq("vip"),
            where("close_date").range("2025-01-01", None),
            where("close_date").eq(datetime(2025, 1, 1, tzinfo=UTC)),
            where("closed_at").eq(datetime(2025, 1, 1)),  # naive
            where("currency").in_("EUR"),
            where("customer_id").prefix("cus_"),
            "status = 'open'",
        ],
    )
    def test_opportunity_filters_outside_the_allow_list_are_refused(
        self, store: Store, bad: Any
    ) -> None:
        repo = self._work(store).opportunities
        for call in (repo.list, repo.count, repo.totals):
            with pytest.raises(ValidationError) as info:
                call(bad)
            assert all(path.startswith("filters[0]") for path in info.value.paths)

    @pytest.mark.parametrize(
        ("kind", "bad"),
        [
            (TASK, where("title").eq("x")),
            (TASK, where("kind").eq("letter")),
            (TASK, where("due_at").range(date(2024, 1, 1), None)),
            (TASK, where("interaction_id").eq(None)),
            (CASE, where("subject").eq("x")),
            (CASE, where("channel").eq("pigeon")),
            (CASE, where("reported_at").eq(None)),
            (CASE, where("customer_id").eq(None)),
        ],
        ids=lambda v: v.name if isinstance(v, _Kind) else str(getattr(v, "field", v)),
    )
    def test_task_and_case_filters_outside_the_allow_list_are_refused(
        self, store: Store, kind: _Kind[Any], bad: Filter
    ) -> None:
        repo = kind.repository(self._work(store))
        with pytest.raises(ValidationError) as info:
            repo.list(bad)
        assert all(path.startswith("filters[0]") for path in info.value.paths)

    @_KINDS
    @pytest.mark.parametrize(
        ("order_by", "descending"),
        list(itertools.product(["id", "created_at", "updated_at"], [False, True])),
    )
    def test_ordering_and_pages_are_complete(
        self, store: Store, kind: str, order_by: str, descending: bool
    ) -> None:
        k = KINDS[kind]
        repo = k.repository(self._work(store))
        items = repo.add_many(_ready(store, [k.build(i) for i in range(15)]))
        # Equal creation times: the id breaks the tie.
        items += repo.add_many(
            _ready(store, [attrs.evolve(k.build(i), created_at=build.BASE_TIME) for i in range(3)])
        )
        items[2] = repo.update(k.changed(items[2]))
        expected = [
            i.id
            for i in sorted(items, key=lambda i: (getattr(i, order_by), i.id), reverse=descending)
        ]
        for size in (1, 4, len(expected), len(expected) + 1):
            seen = _collect(repo.list, order_by=order_by, descending=descending, limit=size)
            assert seen == expected, f"limit={size}"
        assert [i.id for i in repo.iter_all(batch_size=4)] == sorted(expected)

    def test_cursors_belong_to_their_repository_and_ordering(self, store: Store) -> None:
        work_store = self._work(store)
        work_store.tasks.add_many(_ready(store, [work.task(i) for i in range(3)]))
        work_store.cases.add_many(_ready(store, [work.case(i) for i in range(3)]))
        page = work_store.tasks.list(limit=1)
        assert page.next_cursor is not None
        for call in (
            lambda: work_store.cases.list(limit=1, cursor=page.next_cursor),
            lambda: work_store.tasks.list(limit=1, order_by="created_at", cursor=page.next_cursor),
            lambda: work_store.tasks.list(cursor="junk"),
            lambda: work_store.tasks.list(limit=0),
            lambda: work_store.tasks.list(order_by="due_at"),
        ):
            with pytest.raises(ValidationError):
                call()

    # ================================================================= totals

    @pytest.mark.parametrize(
        "fields",
        [
            "",
            "status",
            "pipeline_id,stage_id",
            "stage_id",
            "owner",
            "probability",
            "close_month",
            "close_month,probability",
            "status,owner,pipeline_id,stage_id,probability,close_month",
        ],
    )
    def test_totals_are_exact_sums_per_group_and_currency(self, store: Store, fields: str) -> None:
        by = tuple(name for name in fields.split(",") if name)
        repo = self._work(store).opportunities
        # Amounts beyond a float's 17 digits, and cents: a sum through floats shows.
        large = [
            work.opportunity(i, amount=Money(Decimal(f"12345678901234567890123.{i:02d}"), "EUR"))
            for i in range(60, 64)
        ]
        items = repo.add_many(_ready(store, [work.opportunity(i) for i in range(60)] + large))
        items[4] = repo.update(items[4].with_probability(Decimal("0.3333")))
        assert repo.totals(by=by) == _expected_totals(items, by)
        assert repo.totals(by=list(by)) == _expected_totals(items, by)
        chosen = [o for o in items if o.status is DealStatus.OPEN and "vip" in o.tags]
        assert repo.totals(where("status").eq("open"), where("tags").contains("vip"), by=by) == (
            _expected_totals(chosen, by)
        )
        assert repo.totals(where("id").in_([]), by=by) == []

    def test_totals_never_sum_across_currencies(self, store: Store) -> None:
        repo = self._work(store).opportunities
        customer = new_customer_id()

        def check(amounts: list[tuple[str, Decimal] | None]) -> None:
            deals = [
                work.opportunity(
                    i,
                    customer_id=customer,
                    amount=None if a is None else Money(a[1], a[0]),
                    tags=frozenset({"prop"}),
                )
                for i, a in enumerate(amounts)
            ]
            stored = repo.add_many(_ready(store, deals))
            try:
                got = repo.totals(where("customer_id").eq(customer), by=("stage_id",))
                assert got == _expected_totals(stored, ("stage_id",))
                for total in got:
                    members = [
                        d
                        for d in stored
                        if d.stage_id == total.group[0]
                        and (None if d.amount is None else d.amount.currency) == total.currency
                    ]
                    assert total.count == len(members)
                    assert total.amount == sum(
                        (d.amount.amount for d in members if d.amount is not None), Decimal(0)
                    )
                assert sum(t.count for t in got) == len(stored)
            finally:
                for d in stored:
                    repo.delete(d.id)

        _check_every(st.lists(st.none() | st.tuples(_CURRENCIES, _AMOUNTS), max_size=12), check)

    @pytest.mark.parametrize(
        "by",
        ["stage_id", ("amount",), ("stage_id", "stage_id"), ("currency",), 5, [None], ("Status",)],
    )
    def test_totals_refuse_what_they_cannot_group_by(self, store: Store, by: Any) -> None:
        repo = self._work(store).opportunities
        with pytest.raises(ValidationError) as info:
            repo.totals(by=by)
        assert info.value.paths == ("by",)

    # ================================================================= load and threads

    def test_load_keeps_work_items_as_they_are(self, store: Store) -> None:
        work_store = self._work(store)
        if not isinstance(store, SupportsLoad):
            pytest.skip("the store has no load() (SupportsLoad)")
        changed = build.BASE_TIME + timedelta(days=2)
        deal = attrs.evolve(work.opportunity(3), version=4, updated_at=changed)
        task = attrs.evolve(work.task(2), version=2, updated_at=changed)
        case = attrs.evolve(work.case(2), version=9, updated_at=changed)
        store.load(_ready(store, [deal, task, case]))
        _same(work_store.opportunities.get(deal.id), deal)
        _same(work_store.tasks.get(task.id), task)
        _same(work_store.cases.get(case.id), case)
        assert work_store.opportunities.count(where("stage_id").eq(deal.stage_id)) == 1
        assert work_store.tasks.update(task).version == 3
        replaced = attrs.evolve(deal, owner="usr_loaded", version=6)
        store.load([replaced])
        assert work_store.opportunities.get(deal.id) == replaced
        assert work_store.opportunities.count(where("owner").eq("usr_loaded")) == 1
        with pytest.raises(ValidationError) as info:
            store.load([work.case(5), "not a record"])  # type: ignore[list-item]
        assert info.value.problems[0][0] == "records[1]"
        assert work_store.cases.count() == 1

    def test_a_case_thread_is_its_interactions_newest_first(self, store: Store) -> None:
        work_store = self._work(store)
        customer = work_store.customers.add(build.customer(1))
        case = work_store.cases.add(work.case(1, customer_id=customer.id))
        other = work_store.cases.add(work.case(2, customer_id=customer.id))
        logged = work_store.interactions.add_many(
            [build.interaction(customer.id, i, case_id=case.id) for i in range(6)]
            + [
                build.interaction(customer.id, 10, case_id=other.id),
                build.interaction(customer.id, 11),
            ]
        )
        mine = sorted(logged[:6], key=lambda i: (i.occurred_at, i.id), reverse=True)
        assert work_store.interactions.list_for(case.id).items == tuple(mine)
        assert _collect(work_store.interactions.list_for, record_id=case.id, limit=4) == _ids(mine)
        assert _ids(work_store.interactions.list_for(other.id).items) == [logged[6].id]
        # The customer's timeline still holds all of them.
        assert len(work_store.interactions.list_for(customer.id).items) == 8
        moved = work_store.interactions.update(attrs.evolve(logged[0], case_id=other.id))
        assert logged[0].id not in _ids(work_store.interactions.list_for(case.id).items)
        assert moved.id in _ids(work_store.interactions.list_for(other.id).items)
        work_store.interactions.delete(logged[1].id)
        assert len(work_store.interactions.list_for(case.id).items) == 4
        assert work_store.interactions.list_for(new_case_id()).items == ()
        with pytest.raises(ValidationError):
            work_store.interactions.list_for("cas_not-an-id")

    # ================================================================= errors

    def test_only_crmcore_errors_escape_from_work_items(self, store: Store) -> None:
        work_store = self._work(store)
        deal = work_store.opportunities.add(_ready(store, work.opportunity(1)))
        repos: list[ItemRepository[Any, Any]] = [
            work_store.opportunities,
            work_store.tasks,
            work_store.cases,
        ]
        calls: list[Callable[[], object]] = [
            lambda: work_store.opportunities.add(work.task(1)),  # type: ignore[arg-type]
            lambda: work_store.tasks.add(deal),  # type: ignore[arg-type]
            lambda: work_store.cases.update(None),  # type: ignore[arg-type]
            lambda: work_store.opportunities.totals(by=None),  # type: ignore[arg-type]
            lambda: work_store.opportunities.totals("status"),  # type: ignore[arg-type]
        ]
        for repo in repos:
            calls += [
                lambda r=repo: r.add_many(5),  # type: ignore[misc]
                lambda r=repo: r.get_many(None),  # type: ignore[misc]
                lambda r=repo: r.get("x" * 10_000),  # type: ignore[misc]
                lambda r=repo: r.delete(deal.id, expected_version="1"),  # type: ignore[misc]
                lambda r=repo: r.list(order_by=None),  # type: ignore[misc]
                lambda r=repo: r.list(descending="yes"),  # type: ignore[misc]
                lambda r=repo: r.list(limit=10**9),  # type: ignore[misc]
                lambda r=repo: r.count(where("id").eq(5)),  # type: ignore[misc]
                lambda r=repo: list(r.iter_all(batch_size=0)),  # type: ignore[misc]
            ]
        for i, call in enumerate(calls):
            with pytest.raises(CrmError):
                call()
            assert work_store.opportunities.get(deal.id) == deal, f"call {i} changed the store"

    def test_error_messages_name_no_work_item_text(self, store: Store) -> None:
        work_store = self._work(store)
        deal = work_store.opportunities.add(
            _ready(store, work.opportunity(1, name="Secret Deal Name"))
        )
        failures: list[str] = []
        for call in (
            lambda: work_store.opportunities.add(deal),
            lambda: work_store.opportunities.update(attrs.evolve(deal, version=7)),
            lambda: work_store.opportunities.update(attrs.evolve(deal, stage_history=())),
            lambda: work_store.opportunities.list(where("owner").eq(["Secret Deal Name"])),
        ):
            try:
                call()
            except (CrmError, ValueError) as exc:
                failures.append(str(exc))
        assert len(failures) == 4
        assert not any("Secret" in text for text in failures)

    def test_a_closed_store_refuses_work_items(self, store: Store) -> None:
        work_store = self._work(store)
        task = work_store.tasks.add(_ready(store, work.task(1)))
        deal = _ready(store, work.opportunity(1))
        store.close()
        for call in (
            lambda: work_store.tasks.get(task.id),
            lambda: work_store.opportunities.add(deal),
            lambda: work_store.cases.list(),
        ):
            with pytest.raises(CrmError):
                call()


def kind_edit(deal: Opportunity) -> Opportunity:
    """A stored deal moved on one stage (or reopened when closed): an update that moves it."""
    pipeline = work.pipeline_of(deal)
    at = deal.stage_history[-1].at + timedelta(hours=1)
    if deal.is_closed:
        return deal.move_to(pipeline, "new", at=at, reopen=True)
    target = "won" if deal.stage_id == "proposal" else "proposal"
    return deal.move_to(pipeline, target, at=at)
