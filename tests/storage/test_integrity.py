"""Referential integrity through the contract kit: memory, SQLite, the example adapter.

The SQL store's are in tests/storage/sql/test_integrity.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmcore.storage import InMemoryStore, SQLiteStore
from crmcore.testing import IntegrityContract
from tests.examples import load_example

jsonl_store = load_example("jsonl_store.py")


class TestInMemoryStore(IntegrityContract):
    @pytest.fixture
    def store(self) -> Iterator[InMemoryStore]:
        with InMemoryStore() as store:
            yield store


class TestSQLiteFile(IntegrityContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        with SQLiteStore(tmp_path / "crm.db") as store:
            yield store


class TestJsonLinesStore(IntegrityContract):
    # The example adapter keeps its working set in an InMemoryStore, which enforces
    # the rules; it has no work items, so those checks skip (supports_work_items).
    supports_work_items = False

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[object]:
        with jsonl_store.JsonLinesStore(tmp_path / "crm.jsonl") as store:
            yield store
