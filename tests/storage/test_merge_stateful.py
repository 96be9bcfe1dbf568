"""SQLiteStore and the in-memory reference, side by side, with merges and unmerges."""

from __future__ import annotations

from hypothesis import settings

from crmcore.storage import SQLiteStore, Store
from crmcore.testing.merge_stateful import MergeStoreStateMachine


class SQLiteMergeMachine(MergeStoreStateMachine):
    def make_store(self) -> Store:
        return SQLiteStore(":memory:")


TestSQLiteMergeMachine = SQLiteMergeMachine.TestCase
TestSQLiteMergeMachine.settings = settings(
    max_examples=max(1, (settings.default or settings()).max_examples // 2),
    stateful_step_count=50,
)
