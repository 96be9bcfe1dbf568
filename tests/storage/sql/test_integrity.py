"""SQLStore's referential integrity through the contract kit, on PostgreSQL and over SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crmcore.storage.sql import SQLStore
from crmcore.testing import IntegrityContract
from tests.storage.sql.conftest import sqlite_engine


class TestPostgres(IntegrityContract):
    @pytest.fixture
    def store(self, pg_store: SQLStore) -> SQLStore:
        return pg_store


class TestSQLAlchemySQLite(IntegrityContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLStore]:
        engine = sqlite_engine(tmp_path / "crm.db")
        with SQLStore(engine) as store:
            store.create_all()
            yield store
        engine.dispose()
