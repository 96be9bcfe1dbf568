"""The store state machine with merges: merge, unmerge and resolve side by side.

:class:`MergeStoreStateMachine` adds to :class:`~crmcore.testing.StoreStateMachine`
rules that run :func:`crmcore.merge` and :func:`crmcore.unmerge` on the
adapter under test and on the in-memory reference, and compare what
``resolve`` and ``merges.list_for`` answer afterwards. On a store that keeps
work items (:class:`~crmcore.storage.SupportsWorkItems`) it also adds
opportunities, tasks and cases about the customers, and compares where every
one of them points after each merge and unmerge. Use it like the base
machine::

    class MyMergeMachine(MergeStoreStateMachine):
        def make_store(self):
            return MyStore()

    TestMyMergeMachine = MyMergeMachine.TestCase
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from crmcore.cases import Case
from crmcore.errors import CrmError
from crmcore.ids import CustomerId
from crmcore.merge import merge, unmerge
from crmcore.opportunities import ContactRole, Opportunity
from crmcore.pipelines import Pipeline
from crmcore.storage.protocols import (
    MergeRepository,
    MergingStore,
    Store,
    SupportsMerges,
    SupportsWorkItems,
)
from crmcore.tasks import Task
from crmcore.testing.stateful import StoreStateMachine, _normalise

__all__ = ["MergeStoreStateMachine"]

_PIPELINE = Pipeline.create(
    "kit",
    "Kit",
    [
        {"id": "open", "name": "Open", "probability": "0.5"},
        {"id": "won", "name": "Won", "probability": "1", "status": "won"},
    ],
)
_ROLES = ("decision_maker", "user")


def _work(store: Store) -> SupportsWorkItems:
    assert isinstance(store, SupportsWorkItems), "the store under test keeps no work items"
    return store


def _where_they_point(store: Store, item_ids: list[str]) -> list[tuple[Any, ...]]:
    """Each work item's record ids and version (``updated_at`` is each store's own clock)."""
    work = _work(store)
    found: list[tuple[Any, ...]] = []
    for opportunity in work.opportunities.get_many(item_ids).values():
        found.append(
            (opportunity.id, opportunity.customer_id, opportunity.contacts, opportunity.version)
        )
    for task in work.tasks.get_many(item_ids).values():
        found.append((task.id, task.about_id, task.version))
    for case in work.cases.get_many(item_ids).values():
        found.append((case.id, case.customer_id, case.version))
    return found


def _items(work: SupportsWorkItems, item_ids: list[str]) -> list[Opportunity | Task | Case]:
    """The stored work items among ``item_ids``: opportunities, then tasks, then cases."""
    return [
        *work.opportunities.get_many(item_ids).values(),
        *work.tasks.get_many(item_ids).values(),
        *work.cases.get_many(item_ids).values(),
    ]


def _moved(record: Any) -> list[Any]:
    """The work items a merge record holds, before and after, less each store's clock."""
    return [
        _normalise(item)
        for snapshot in (record.before, record.after)
        for item in (*snapshot.opportunities, *snapshot.tasks, *snapshot.cases)
    ]


def _merges(store: Store) -> MergeRepository:
    assert isinstance(store, SupportsMerges), "the store under test keeps no merge records"
    return store.merges


class MergeStoreStateMachine(StoreStateMachine):
    """:class:`~crmcore.testing.StoreStateMachine` plus merges, unmerges and resolves."""

    def __init__(self) -> None:
        super().__init__()
        # Merge ids are random per store: the reference's id -> the adapter's.
        self.merge_ids: list[tuple[str, str]] = []
        # The work items this machine points at customers, to watch merges move them (the
        # base machine's own work_ids are keyed by kind). Ids are the same in both stores.
        self.pointing_ids: list[str] = []
        self.keeps_work = isinstance(self.store, SupportsWorkItems)

    @precondition(lambda self: self.keeps_work and bool(self.customer_ids))
    @rule(
        kind=st.sampled_from(["opportunity", "task", "case"]),
        picks=st.lists(st.integers(0, 30), min_size=1, max_size=3),
        roles=st.lists(st.sampled_from(_ROLES), min_size=2, max_size=2),
    )
    def add_work_item(self, kind: str, picks: list[int], roles: list[str]) -> None:
        """Add an opportunity (with contact roles), a task or a case about some customers."""
        ids = [self.customer_ids[i % len(self.customer_ids)] for i in picks]
        item: Opportunity | Task | Case
        if kind == "opportunity":
            contacts = list(
                dict.fromkeys(ContactRole(i, role) for i, role in zip(ids[1:], roles, strict=False))
            )
            item = Opportunity.create(
                name="Deal", customer_id=ids[0], pipeline=_PIPELINE, contacts=contacts
            )
        elif kind == "task":
            item = Task.create(title="Call back", about_id=ids[0])
        else:
            item = Case.create(subject="Help", customer_id=ids[0])

        def add(store: Store) -> Any:
            work = _work(store)
            if isinstance(item, Opportunity):
                return work.opportunities.add(item).version
            if isinstance(item, Task):
                return work.tasks.add(item).version
            return work.cases.add(item).version

        self.both(add)
        self.pointing_ids.append(item.id)

    def _compare_work(self) -> None:
        if self.keeps_work and self.pointing_ids:
            self.both(lambda s: _where_they_point(s, self.pointing_ids))

    def _paired(self, call: Any) -> tuple[tuple[str, Any], tuple[str, Any]]:
        outcomes = []
        for store in (self.model, self.store):
            try:
                outcomes.append(("ok", call(store)))
            except CrmError as exc:
                outcomes.append(("error", type(exc).__name__))
        expected, actual = outcomes
        assert actual[0] == expected[0], (
            f"the store answered {actual!r}, the reference {expected!r}"
        )
        if expected[0] == "error":
            assert actual[1] == expected[1], (
                f"the store raised {actual[1]}, the reference {expected[1]}"
            )
        return expected, actual

    @precondition(lambda self: len(self.customer_ids) >= 2)
    @rule(
        picks=st.lists(st.integers(0, 30), min_size=2, max_size=3, unique=True),
        survivor=st.integers(0, 2),
    )
    def merge_customers(self, picks: list[int], survivor: int) -> None:
        """Merge two or three customers (some may be gone or merged already) on both stores."""
        ids = list(dict.fromkeys(self.customer_ids[i % len(self.customer_ids)] for i in picks))
        chosen = ids[survivor % len(ids)]
        expected, actual = self._paired(lambda s: merge(s, ids, survivor=chosen))
        if expected[0] == "ok":
            assert _normalise(actual[1].survivor) == _normalise(expected[1].survivor)
            self.merge_ids.append((expected[1].merge_id, actual[1].merge_id))
            assert _moved(actual[1].record) == _moved(expected[1].record)
        self._compare_work()

    @precondition(lambda self: bool(self.pointing_ids) and len(self.customer_ids) >= 2)
    @rule(item=st.integers(0, 30), other=st.integers(0, 30))
    def merge_away_what_work_points_at(self, item: int, other: int) -> None:
        """Merge the customer a work item points at into another: the item must follow."""
        item_id = self.pointing_ids[item % len(self.pointing_ids)]
        found = _items(_work(self.model), [item_id])
        if not found:  # deleted meanwhile
            return
        (found_item,) = found
        pointed = found_item.about_id if isinstance(found_item, Task) else found_item.customer_id
        survivor = self.customer_ids[other % len(self.customer_ids)]
        if pointed is None or pointed == survivor:
            return
        ids = [pointed, survivor]
        expected, actual = self._paired(lambda s: merge(s, ids, survivor=survivor))
        if expected[0] == "ok":
            self.merge_ids.append((expected[1].merge_id, actual[1].merge_id))
            assert _moved(actual[1].record) == _moved(expected[1].record)
        self._compare_work()

    @precondition(lambda self: bool(self.merge_ids))
    @rule(index=st.integers(0, 30))
    def merge_survivor_away(self, index: int) -> None:
        """Merge the last merge's survivor into another customer: a chain to resolve."""
        last = self.model.merges.get(self.merge_ids[-1][0])
        other = self.customer_ids[index % len(self.customer_ids)]
        if other == last.survivor_id:
            return
        ids = [last.survivor_id, other]
        expected, actual = self._paired(lambda s: merge(s, ids, survivor=other))
        if expected[0] == "ok":
            assert _normalise(actual[1].survivor) == _normalise(expected[1].survivor)
            self.merge_ids.append((expected[1].merge_id, actual[1].merge_id))
            for record_id in last.merged_ids:
                self._resolve_both(record_id)

    @precondition(lambda self: bool(self.merge_ids))
    @rule(index=st.integers(0, 10), force=st.booleans())
    def unmerge_one(self, index: int, force: bool) -> None:
        """Undo a merge (perhaps refused: a later merge, a conflicting edit) on both stores."""
        model_id, store_id = self.merge_ids[index % len(self.merge_ids)]

        def run(store: MergingStore) -> Any:
            return unmerge(store, model_id if store is self.model else store_id, force=force)

        expected, actual = self._paired(run)
        if expected[0] == "ok":
            assert [_normalise(r) for r in actual[1].restored] == [
                _normalise(r) for r in expected[1].restored
            ]
        self._compare_work()

    def _resolve_both(self, record_id: str) -> None:
        self.both(lambda s: s.customers.resolve(CustomerId(record_id)))

    @precondition(lambda self: bool(self.customer_ids))
    @rule(index=st.integers(0, 30))
    def resolve_customer(self, index: int) -> None:
        """Resolve an id (live, merged away, deleted) and list its merges."""
        record_id = self.customer_ids[index % len(self.customer_ids)]
        self.both(lambda s: s.customers.resolve(record_id))
        self.both(
            lambda s: [
                (m.survivor_id, m.merged_ids, m.is_active, len(m.before), len(m.after))
                for m in _merges(s).list_for(record_id)
            ]
        )
