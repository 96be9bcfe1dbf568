"""SQLiteStore through the privacy contract, plus what only SQLite promises: the schema
migration, the secret kept in the file, ``secure_delete`` and ``compact``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

import crmcore.storage.sqlite._schema as sqlite_module
from crmcore.audit import AuditAction
from crmcore.errors import DataError, StorageError
from crmcore.storage import SQLiteStore
from crmcore.storage.sqlite import SCHEMA_VERSION
from crmcore.subject_requests import RequestKind, SubjectRequest
from crmcore.testing import PrivacyContract
from crmcore.testing._builders import customer


class TestSQLiteFilePrivacy(PrivacyContract):
    supports_nested_transactions = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        with SQLiteStore(tmp_path / "crm.db") as store:
            yield store


class TestSQLiteInMemoryPrivacy(PrivacyContract):
    supports_nested_transactions = True

    @pytest.fixture
    def store(self) -> Iterator[SQLiteStore]:
        with SQLiteStore(":memory:") as store:
            yield store


def test_the_secret_is_kept_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        secret = store.privacy_secret()
    with SQLiteStore(path) as store:
        assert store.privacy_secret() == secret
    with SQLiteStore(tmp_path / "other.db") as other:
        assert other.privacy_secret() != secret


def test_an_unreadable_secret_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    SQLiteStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE crmcore_meta SET value = 'abc' WHERE key = 'privacy_secret'")
    raw.commit()
    raw.close()
    with pytest.raises(DataError):
        SQLiteStore(path)


def test_every_connection_deletes_securely(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "crm.db") as store, store._use() as conn:
        assert conn.execute("PRAGMA secure_delete").fetchone() == (1,)


def test_a_file_of_schema_3_gains_the_privacy_tables_and_keeps_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "crm.db"
    with monkeypatch.context() as old:
        old.setattr(sqlite_module, "_MIGRATIONS", sqlite_module._MIGRATIONS[:3])
        old.setattr(sqlite_module, "SCHEMA_VERSION", 3)
        old.setattr(SQLiteStore, "_append_entry", lambda self, conn, entry: None)
        with SQLiteStore(path) as store:
            ada = store.customers.add(customer(1))
            assert store.schema_version() == 3
    with SQLiteStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 4
        assert store.customers.get(ada.id) == ada
        assert store.audit.count() == 0  # the trail starts with the migration
        store.customers.update(attrs.evolve(ada, owner="usr_new"))
        (entry,) = store.audit.list(record_id=ada.id).items
        assert entry.action is AuditAction.UPDATE
        assert store.integrity_check()


def _raw_bytes(path: Path) -> bytes:
    found = b""
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            found += part.read_bytes()
    return found


def test_compact_leaves_no_deleted_byte_in_the_files(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        kept = store.customers.add(customer(1))
        gone = store.customers.add(customer(2, notes="Zanzibar-Quokka-7731"))
        store.requests.add(SubjectRequest.create(RequestKind.ERASURE, note="Quokka-note-5512"))
        assert b"Zanzibar-Quokka-7731" in _raw_bytes(path)
        store.customers.delete(gone.id)
        (request,) = store.requests.list().items
        store.requests.update(attrs.evolve(request, note="done"))
        store.compact()
        raw = _raw_bytes(path)
        assert b"Zanzibar-Quokka-7731" not in raw
        assert b"Quokka-note-5512" not in raw
        assert gone.emails[0].address.normalized.encode() not in raw
        assert store.customers.get(kept.id) == kept
        assert Path(f"{path}-wal").stat().st_size == 0


def test_compact_refuses_to_run_inside_a_transaction(tmp_path: Path) -> None:
    with (
        SQLiteStore(tmp_path / "crm.db") as store,
        store.transaction(),
        pytest.raises(StorageError),
    ):
        store.compact()
