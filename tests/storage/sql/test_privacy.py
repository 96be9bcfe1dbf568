"""SQLStore through the privacy contract (PostgreSQL, and SQLAlchemy over SQLite), plus the
schema upgrade, the secret kept in the meta table, and ``compact`` (VACUUM FULL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from sqlalchemy import Engine, delete, text

from crmcore.errors import StorageError
from crmcore.storage.sql import SQLStore
from crmcore.testing import PrivacyContract
from crmcore.testing._builders import customer
from tests.services.test_audit_paths import ServiceAuditChecks
from tests.storage.sql.conftest import sqlite_engine


class TestPostgresPrivacy(PrivacyContract):
    supports_nested_transactions = True

    @pytest.fixture
    def store(self, pg_store: SQLStore) -> SQLStore:
        return pg_store


class TestSQLAlchemySQLitePrivacy(PrivacyContract):
    supports_nested_transactions = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLStore]:
        engine = sqlite_engine(tmp_path / "crm.db")
        with SQLStore(engine) as store:
            store.create_all()
            yield store
        engine.dispose()


class TestPostgresServices(ServiceAuditChecks):
    """Every service leaves exactly one audit entry on PostgreSQL too."""

    @pytest.fixture
    def store(self, pg_store: SQLStore) -> SQLStore:
        return pg_store


def test_the_secret_is_shared_by_every_store_on_the_tables(pg_store: SQLStore) -> None:
    engine = pg_store._engine
    assert engine is not None
    with SQLStore(engine) as other:
        assert other.privacy_secret() == pg_store.privacy_secret()
        assert len(other.privacy_secret()) == 32


def test_tables_made_without_create_all_get_a_secret_on_first_use(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "crm.db")
    with SQLStore(engine) as store:
        store.create_all()
        meta = store.tables.meta
        with engine.begin() as conn:
            conn.execute(delete(meta).where(meta.c.key == "privacy_secret"))
        secret = store.privacy_secret()
    with SQLStore(engine) as again:
        assert again.privacy_secret() == secret
    engine.dispose()


def test_version_2_tables_are_upgraded_by_create_all(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "crm.db")
    with SQLStore(engine) as store:
        store.create_all()
        with engine.begin() as conn:
            for table in ("audit_entries", "audit_targets", "suppressions", "subject_requests"):
                conn.execute(text(f"DROP TABLE crm_{table}"))
            conn.execute(text("UPDATE crm_meta SET value = '2' WHERE key = 'schema_version'"))
    with SQLStore(engine) as store:
        assert store.schema_version() == 2
        store.create_all()
        assert store.schema_version() == 3
        stored = store.customers.add(customer(1))
        assert store.audit.list(record_id=stored.id).items[0].record_ids == (stored.id,)
    engine.dispose()


def _filenode(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_relation_filenode('crm_customers')")).scalar_one())


def test_compact_runs_vacuum_full_on_postgres(pg_store: SQLStore, pg_engine: Engine) -> None:
    kept = pg_store.customers.add(customer(1))
    gone = pg_store.customers.add(customer(2))
    pg_store.customers.delete(gone.id)
    before = _filenode(pg_engine)
    pg_store.compact()
    # VACUUM FULL writes the table anew from its live rows: a new file, without the dead one.
    assert _filenode(pg_engine) != before
    assert pg_store.customers.get(kept.id) == kept
    pg_store.customers.update(attrs.evolve(kept, owner="usr_after_compact"))


def test_compact_refuses_to_run_inside_a_transaction(pg_store: SQLStore) -> None:
    with pg_store.transaction(), pytest.raises(StorageError):
        pg_store.compact()
