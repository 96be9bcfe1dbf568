"""The store state machine with merges: merge, unmerge and resolve side by side.

:class:`MergeStoreStateMachine` adds to :class:`~crmcore.testing.StoreStateMachine`
rules that run :func:`crmcore.merge` and :func:`crmcore.unmerge` on the
adapter under test and on the in-memory reference, and compare what
``resolve`` and ``merges.list_for`` answer afterwards. Use it like the base
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

from crmcore.errors import CrmError
from crmcore.ids import CustomerId
from crmcore.merge import merge, unmerge
from crmcore.storage.protocols import MergeRepository, MergingStore, Store, SupportsMerges
from crmcore.testing.stateful import StoreStateMachine, _normalise

__all__ = ["MergeStoreStateMachine"]


def _merges(store: Store) -> MergeRepository:
    assert isinstance(store, SupportsMerges), "the store under test keeps no merge records"
    return store.merges


class MergeStoreStateMachine(StoreStateMachine):
    """:class:`~crmcore.testing.StoreStateMachine` plus merges, unmerges and resolves."""

    def __init__(self) -> None:
        super().__init__()
        # Merge ids are random per store: the reference's id -> the adapter's.
        self.merge_ids: list[tuple[str, str]] = []

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
