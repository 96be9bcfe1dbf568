"""Both shipped stores driven side by side with the in-memory reference."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings

from crmcore.storage import InMemoryStore, SQLiteStore, Store
from crmcore.testing import StoreStateMachine


class SQLiteMemoryMachine(StoreStateMachine):
    def make_store(self) -> Store:
        return SQLiteStore(":memory:")


class SQLiteFileMachine(StoreStateMachine):
    def make_store(self) -> Store:
        self.directory = tempfile.mkdtemp(prefix="crmcore-machine-")
        return SQLiteStore(Path(self.directory) / "crm.db")

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.directory, ignore_errors=True)


class InMemoryMachine(StoreStateMachine):
    """The reference against itself: the machine's own rules must be consistent."""

    def make_store(self) -> Store:
        return InMemoryStore()


TestSQLiteMemoryMachine = SQLiteMemoryMachine.TestCase
TestSQLiteFileMachine = SQLiteFileMachine.TestCase
# A file per example is slower: a quarter of the profile's examples, shorter runs.
TestSQLiteFileMachine.settings = settings(
    max_examples=max(1, (settings.default or settings()).max_examples // 4),
    stateful_step_count=25,
)
TestInMemoryMachine = InMemoryMachine.TestCase
TestInMemoryMachine.settings = settings(
    max_examples=max(1, (settings.default or settings()).max_examples // 4)
)
