"""The pytest plugin's fixtures, used the way an app's test suite would."""

from __future__ import annotations

from crmcore import Customer
from crmcore.storage import InMemoryStore, SQLiteStore, Store


def test_memory_store_fixture(memory_store: InMemoryStore) -> None:
    assert isinstance(memory_store, InMemoryStore)
    assert memory_store.customers.count() == 0


def test_sqlite_store_fixture_is_a_fresh_file(sqlite_store: SQLiteStore) -> None:
    assert sqlite_store.path.endswith("crmcore.db")
    assert sqlite_store.customers.count() == 0
    sqlite_store.customers.add(Customer.create(name="Ada Lovelace"))


def test_sqlite_memory_store_fixture(sqlite_memory_store: SQLiteStore) -> None:
    assert sqlite_memory_store.path == ":memory:"


def test_any_store_runs_once_per_store(any_store: Store) -> None:
    stored = any_store.customers.add(Customer.create(name="Grace Hopper"))
    assert any_store.customers.get(stored.id) == stored
