"""Referential integrity through the contract kit: memory, SQLite, the example adapter.

The SQL store's are in tests/storage/sql/test_integrity.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmcore.storage import InMemoryStore, SQLiteStore
from crmcore.storage import _integrity as integrity
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


def test_the_contract_fails_a_store_that_takes_dangling_references(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(integrity, "check_written", lambda *args, **kwargs: None)
    with InMemoryStore() as store, pytest.raises(pytest.fail.Exception):
        TestInMemoryStore().test_an_interaction_naming_no_stored_customer_is_refused(store)


def test_the_contract_fails_a_store_that_deletes_named_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(integrity, "check_deleted", lambda *args, **kwargs: None)
    with InMemoryStore() as store, pytest.raises(pytest.fail.Exception):
        TestInMemoryStore().test_deleting_a_customer_an_interaction_names_is_refused(store)


def test_a_store_that_does_not_claim_integrity_is_skipped_visibly() -> None:
    class WithoutIntegrity(IntegrityContract):
        supports_integrity = False

    with InMemoryStore() as store, pytest.raises(pytest.skip.Exception):
        WithoutIntegrity().test_an_interaction_naming_no_stored_customer_is_refused(store)
