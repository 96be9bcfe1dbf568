"""SQLStore through the whole contract kit, on PostgreSQL and on SQLAlchemy over SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmcore.storage.sql import SQLStore
from crmcore.testing import StorageContract
from tests.storage.sql.conftest import sqlite_engine


class TestPostgres(StorageContract):
    supports_nested_transactions = True
    supports_concurrent_writers = True

    @pytest.fixture
    def store(self, pg_store: SQLStore) -> SQLStore:
        return pg_store


class TestSQLAlchemySQLite(StorageContract):
    supports_nested_transactions = True
    supports_concurrent_writers = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLStore]:
        engine = sqlite_engine(tmp_path / "crm.db")
        with SQLStore(engine) as store:
            store.create_all()
            yield store
        engine.dispose()
