"""SQLiteStore through the contract kit (on a file and in memory), plus SQLite specifics."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import crmcore.storage.sqlite._schema as sqlite_module
from crmcore import Customer, Lead
from crmcore.errors import (
    DataError,
    DuplicateRecord,
    IntegrityError,
    OperationalError,
    StorageError,
    ValidationError,
    VersionConflict,
)
from crmcore.merge import merge
from crmcore.storage import SQLiteStore, open_store, where
from crmcore.storage.sqlite import SCHEMA_VERSION
from crmcore.testing import StorageContract
from crmcore.testing._builders import customer, interaction
from crmcore.testing._builders import lead as build_lead
from crmcore.testing._stand_ins import store_referenced
from crmcore.testing._work_builders import case as work_case
from crmcore.testing._work_builders import opportunity
from crmcore.testing._work_builders import task as work_task
from crmcore.values import CustomFields


class TestSQLiteFile(StorageContract):
    supports_nested_transactions = True
    supports_concurrent_writers = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        with SQLiteStore(tmp_path / "crm.db") as store:
            yield store


class TestSQLiteInMemory(StorageContract):
    supports_nested_transactions = True
    supports_concurrent_writers = True

    @pytest.fixture
    def store(self) -> Iterator[SQLiteStore]:
        with SQLiteStore(":memory:") as store:
            yield store


# --------------------------------------------------------------------------- SQLite specifics

# A child process: `python -c _UPDATER db_path record_id rounds` does read-modify-write
# updates with retry, and prints how many conflicts it retried.
_UPDATER = """
import sys
from crmcore.errors import VersionConflict
from crmcore.storage import SQLiteStore, open_store, where

path, record_id, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
retries = 0
with SQLiteStore(path) as store:
    for _ in range(rounds):
        while True:
            current = store.customers.get(record_id)
            seen = current.custom_fields.get("seen", ())
            try:
                store.customers.update(
                    current.with_custom_field("seen", [*seen, sys.argv[4]])
                    .with_custom_field("n", current.custom_fields["n"] + 1)
                )
                break
            except VersionConflict:
                retries += 1
print(retries)
"""

# A child process that adds 10,000 customers in one add_many and is killed in the middle:
# its key function reports when 5,500 records went through, then waits to be killed.
_CRASHER = """
import sys, time
import attrs
from crmcore.ids import new_customer_id
from crmcore.storage import SQLiteStore, default_keys
from crmcore.testing._builders import customer, interaction
from crmcore.testing._builders import lead as build_lead
from crmcore.testing._work_builders import case as work_case
from crmcore.testing._work_builders import opportunity
from crmcore.testing._work_builders import task as work_task

path, pause_at = sys.argv[1], int(sys.argv[2])
calls = 0

def keys(record):
    global calls
    calls += 1
    if calls == pause_at:
        print("paused", flush=True)
        time.sleep(600)
    return default_keys(record)

template = customer(1)
batch = [attrs.evolve(template, id=new_customer_id()) for _ in range(10_000)]
with SQLiteStore(path, key_function=keys) as store:
    # A small page cache makes the batch spill into the WAL long before the kill.
    store._state().conn.execute("PRAGMA cache_size = -500")
    print("ready", flush=True)
    store.customers.add_many(batch)
print("committed", flush=True)
"""


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_eight_threads_lose_no_update(tmp_path: Path) -> None:
    threads, rounds = 8, 250
    with SQLiteStore(tmp_path / "crm.db") as store:
        record = store.customers.add(customer(1, custom_fields=CustomFields({"n": 0})))
        errors: list[BaseException] = []
        conflicts = [0] * threads

        def work(me: int) -> None:
            try:
                for _ in range(rounds):
                    while True:
                        current = store.customers.get(record.id)
                        n = current.custom_fields["n"]
                        try:
                            store.customers.update(current.with_custom_field("n", n + 1))
                            break
                        except VersionConflict:
                            conflicts[me] += 1
            except BaseException as exc:
                errors.append(exc)

        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert not errors, [type(e).__name__ for e in errors]
        final = store.customers.get(record.id)
        assert final.custom_fields["n"] == threads * rounds
        assert final.version == 1 + threads * rounds
        assert store.integrity_check()


@pytest.mark.slow
def test_two_processes_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    rounds = 250
    with SQLiteStore(path) as store:
        record = store.customers.add(customer(1, custom_fields=CustomFields({"n": 0})))
    children = [_python(_UPDATER, str(path), record.id, str(rounds), f"p{i}") for i in range(2)]
    for child in children:
        _, err = child.communicate(timeout=240)
        assert child.returncode == 0, err[-2_000:]
        assert "sqlite3" not in err
    with SQLiteStore(path) as store:
        final = store.customers.get(record.id)
        assert final.custom_fields["n"] == 2 * rounds
        seen = list(final.custom_fields["seen"])
        assert seen.count("p0") == rounds
        assert seen.count("p1") == rounds
        assert store.integrity_check()


@pytest.mark.slow
def test_a_process_killed_inside_add_many_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    child = _python(_CRASHER, str(path), "5500")
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        assert child.stdout.readline().strip() == "paused"  # 5 chunks already written
        wal = Path(f"{path}-wal")
        assert wal.exists()
        assert wal.stat().st_size > 1_000_000, "nothing reached the WAL yet"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    with SQLiteStore(path) as store:
        assert store.customers.count() == 0
        assert store.customers.find_by_email(customer(1).emails[0].address) == []
        assert store.integrity_check()


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.2, 0.5, 1.0])
def test_a_process_killed_at_any_moment_leaves_all_or_nothing(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "crm.db"
    child = _python(_CRASHER, str(path), "0")  # never pauses
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=60)
    with SQLiteStore(path) as store:
        assert store.customers.count() in (0, 10_000)
        assert store.integrity_check()


def test_a_locked_database_is_a_storage_error_not_a_driver_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path, timeout=0.05) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageError) as info:
                store.customers.add(customer(1))
            assert "locked" in str(info.value)
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
            assert store.customers.count() == 0  # readers are not blocked in WAL mode
        finally:
            blocker.close()
        store.customers.add(customer(1))
        assert store.customers.count() == 1


def test_unusable_files_are_storage_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 1_000)
    with pytest.raises(StorageError):
        SQLiteStore(garbage)
    with pytest.raises(StorageError):
        SQLiteStore(tmp_path / "no" / "such" / "dir" / "crm.db")
    with pytest.raises(ValidationError):
        SQLiteStore(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"path": "crm\x00.db"}, "path"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"key_function": "email"}, "key_function"),
    ],
)
def test_bad_arguments_are_validation_errors(
    tmp_path: Path, kwargs: dict[str, Any], path: str
) -> None:
    arguments: dict[str, Any] = {"path": tmp_path / "crm.db"} | kwargs
    with pytest.raises(ValidationError) as info:
        SQLiteStore(**arguments)
    assert info.value.paths == (path,)
    with pytest.raises(ValidationError):
        open_store("sqlite:///crm\x00.db")


def test_a_corrupt_document_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        stored = store.customers.add(customer(1))
    raw = sqlite3.connect(path)
    raw.execute("UPDATE customers SET doc = '{\"schema_version\": 1}'")
    raw.commit()
    raw.close()
    with SQLiteStore(path) as store, pytest.raises(StorageError):
        store.customers.get(stored.id)


def test_a_locked_database_is_an_operational_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path, timeout=0.05) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            with pytest.raises(OperationalError):
                store.customers.add(customer(1))
            with pytest.raises(OperationalError):
                store.customers.add_many([customer(2), customer(3)])
        finally:
            blocker.close()
        assert store.customers.count() == 0


def test_a_file_that_cannot_be_opened_is_an_operational_error(tmp_path: Path) -> None:
    with pytest.raises(OperationalError):
        SQLiteStore(tmp_path / "no" / "such" / "dir" / "crm.db")


def test_a_refused_constraint_is_an_integrity_error_and_an_id_collision_stays_duplicate(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        first = store.customers.add(customer(1))
    raw = sqlite3.connect(path)
    raw.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON customers WHEN NEW.owner = 'nobody' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    raw.commit()
    raw.close()
    with SQLiteStore(path) as store:
        with pytest.raises(IntegrityError) as info:
            store.customers.add(customer(2, owner="nobody"))
        assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
        with pytest.raises(DuplicateRecord) as duplicate:
            store.customers.add(first)
        assert not isinstance(duplicate.value, StorageError)
        assert store.customers.count() == 1


def _corrupt(path: Path, sql: str) -> None:
    raw = sqlite3.connect(path)
    raw.execute(sql)
    raw.commit()
    raw.close()


@pytest.mark.parametrize("doc", ['{"schema_version": 1}', "not json at all", "[]"])
def test_a_stored_document_that_cannot_be_decoded_is_a_data_error(tmp_path: Path, doc: str) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        stored = store.customers.add(customer(1))
        lead = store.leads.add(build_lead(1))
        entry = store.interactions.add(interaction(stored.id))
        other = store.customers.add(customer(2))
        merged = merge(store, [stored.id, other.id], survivor=stored.id)
    for table in ("customers", "leads", "interactions", "merges"):
        _corrupt(path, f"UPDATE {table} SET doc = '{doc}'")
    with SQLiteStore(path) as store:
        for read in (
            lambda: store.customers.get(stored.id),
            lambda: store.customers.list(),
            lambda: store.leads.get(lead.id),
            lambda: store.interactions.get(entry.id),
            lambda: store.interactions.list_for(stored.id),
            lambda: store.merges.get(merged.merge_id),
            lambda: store.merges.list_for(stored.id),
        ):
            with pytest.raises(DataError):
                read()


def test_schema_version_is_recorded_and_newer_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
    raw = sqlite3.connect(path)
    raw.execute("UPDATE crmcore_meta SET value = '999' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(StorageError, match="newer crmcore"):
        SQLiteStore(path)


def test_forward_migrations_run_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        stored = store.customers.add(customer(1))
    extra = ("CREATE TABLE crmcore_test_migration (x INTEGER)",)
    monkeypatch.setattr(sqlite_module, "_MIGRATIONS", (*sqlite_module._MIGRATIONS, extra))
    monkeypatch.setattr(sqlite_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with SQLiteStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION + 1
        assert store.customers.get(stored.id) == stored
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT COUNT(*) FROM crmcore_test_migration").fetchone() == (0,)
    raw.close()


def test_a_file_of_the_previous_schema_migrates_and_keeps_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written before the work item tables opens, gains them, and loses nothing."""
    path = tmp_path / "crm.db"
    before = 2  # merges, no work items (and no audit trail: that crmcore wrote none)
    with monkeypatch.context() as old:
        old.setattr(sqlite_module, "_MIGRATIONS", sqlite_module._MIGRATIONS[:before])
        old.setattr(sqlite_module, "SCHEMA_VERSION", before)
        old.setattr(SQLiteStore, "_append_entry", lambda self, conn, entry: None)
        with SQLiteStore(path) as store:
            ada = store.customers.add(customer(1))
            email = store.interactions.add(interaction(ada.id))
            assert store.schema_version() == before
    raw = sqlite3.connect(path)
    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    raw.close()
    assert "opportunities" not in tables
    with SQLiteStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.customers.get(ada.id) == ada
        assert store.interactions.list_for(ada.id).items == (email,)
        deal = opportunity(1, customer_id=ada.id)
        store_referenced(store, [deal])  # its contact and its lead
        deal = store.opportunities.add(deal)
        followup = store.tasks.add(work_task(1, about_id=ada.id))
        ticket = store.cases.add(work_case(1, customer_id=ada.id))
        assert store.opportunities.list(where("customer_id").eq(ada.id)).items == (deal,)
        assert store.tasks.list(where("about_id").eq(ada.id)).items == (followup,)
        assert store.cases.list(where("customer_id").eq(ada.id)).items == (ticket,)
        assert store.integrity_check()


def test_the_file_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        store.customers.add(customer(1))
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_changing_the_key_function_rebuilds_the_key_index(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        a, b = store.customers.add_many([customer(1), customer(2)])
        assert store.customers.find_by_keys(["everyone"]) == []

    def everyone(record: Customer | Lead) -> list[str]:
        return ["everyone"]

    with SQLiteStore(path, key_function=everyone) as store:
        assert store.customers.find_by_keys(["everyone"]) == [a, b]
        assert store.customers.find_by_keys(["email:" + a.emails[0].address.match_key]) == []
        # Lookups by email do not depend on the key function.
        assert store.customers.find_by_email(a.emails[0].address) == [a]
    with SQLiteStore(path) as store:
        assert store.customers.find_by_keys(["everyone"]) == []
        assert store.customers.find_by_keys(["email:" + a.emails[0].address.match_key]) == [a]


def test_a_failing_key_function_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken(record: Customer | Lead) -> list[str]:
        raise ValidationError("key_function", "failed on purpose")

    with SQLiteStore(tmp_path / "crm.db", key_function=broken) as store:
        with pytest.raises(ValidationError):
            store.customers.add_many([customer(1), customer(2)])
        assert store.customers.count() == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "crm.db") as store:
        store.customers.add(customer(1))
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                store.customers.add(customer(2))
                code = 0 if store.customers.count() == 2 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.customers.count() == 2


def test_threads_that_end_do_not_leak_connections(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "crm.db") as store:
        for _ in range(20):
            t = threading.Thread(target=store.customers.count)
            t.start()
            t.join()
        store.customers.count()
        assert len(store._connections) <= 3


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        (  # find_by_email / find_by_phone / find_by_identifier
            "SELECT r.doc FROM customer_lookup l JOIN customers r ON r.id = l.record_id "
            "WHERE l.key = ? AND l.kinds & ? ORDER BY l.record_id",
            ("email:a@example.com", 1),
        ),
        (  # find_by_keys
            "SELECT DISTINCT record_id FROM customer_lookup WHERE key IN (?, ?) AND kinds & 8",
            ("a", "b"),
        ),
        (  # a page of list(order_by="created_at") after a cursor
            "SELECT id, created_at, doc FROM customers WHERE (customers.created_at, customers.id)"
            " > (?, ?) ORDER BY customers.created_at ASC, customers.id ASC LIMIT ?",
            (0, "", 10),
        ),
        (  # a timeline page
            "SELECT p.occurred_at, p.interaction_id, i.doc FROM interaction_participants p "
            "JOIN interactions i ON i.id = p.interaction_id WHERE p.record_id = ? "
            "ORDER BY p.occurred_at DESC, p.interaction_id DESC LIMIT ?",
            ("cus_x", 10),
        ),
        (  # find_by_external_id
            "SELECT doc FROM interactions WHERE external_id = ?",
            ("m-1",),
        ),
        (  # opportunities.list(where("contact_ids").contains(...)): the members table
            "SELECT opportunities.id, opportunities.id, doc FROM opportunities "
            "WHERE opportunities.id IN (SELECT item_id FROM opportunity_members "
            "WHERE field = ? AND value = ?) ORDER BY opportunities.id ASC LIMIT ?",
            ("contact_ids", "cus_x", 10),
        ),
        (  # a merge re-pointing a customer's opportunities, tasks and cases
            "SELECT COUNT(*) FROM opportunities WHERE opportunities.customer_id = ?",
            ("cus_x",),
        ),
        (
            "SELECT COUNT(*) FROM tasks WHERE tasks.about_id = ?",
            ("cus_x",),
        ),
        (
            "SELECT COUNT(*) FROM cases WHERE cases.customer_id = ?",
            ("cus_x",),
        ),
        (  # an assignee's overdue tasks
            "SELECT tasks.id, tasks.id, doc FROM tasks WHERE tasks.assignee = ? "
            "AND tasks.due_at IS NOT NULL AND tasks.due_at < ? ORDER BY tasks.id ASC LIMIT ?",
            ("usr_anna", 5, 10),
        ),
        (  # a case's thread
            "SELECT p.occurred_at, p.interaction_id, i.doc FROM interaction_participants p "
            "JOIN interactions i ON i.id = p.interaction_id WHERE p.record_id = ? "
            "ORDER BY p.occurred_at DESC, p.interaction_id DESC LIMIT ?",
            ("cas_x", 10),
        ),
    ],
)
def test_lookups_and_pages_search_indexes_never_scan(
    tmp_path: Path, sql: str, params: tuple[object, ...]
) -> None:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        store.customers.add_many([customer(i) for i in range(50)])
    raw = sqlite3.connect(path)
    try:
        plan = " | ".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params))
    finally:
        raw.close()
    assert "SEARCH" in plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan


def test_decoded_records_do_not_outlive_their_store(tmp_path: Path) -> None:
    """Decoded customers are cached per store and forgotten on close (no process-wide copy)."""
    store = SQLiteStore(tmp_path / "crm.db")
    ada = store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@example.com"]))
    assert store.customers.get(ada.id) is store.customers.get(ada.id)  # served from the cache
    other = SQLiteStore(tmp_path / "crm.db")
    assert other.customers.get(ada.id) is not store.customers.get(ada.id)
    store.close()
    assert store._decode._cached.cache_info().currsize == 0
    other.close()


def test_a_file_that_is_not_a_database_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    path.write_bytes(b"this is a spreadsheet, not a database\n" * 200)
    with pytest.raises(DataError):
        SQLiteStore(path)


def test_a_missing_table_is_not_worth_retrying(tmp_path: Path) -> None:
    # "no such table" is a sqlite3.OperationalError, but retrying cannot help:
    # it must not be reported as crmcore's (retryable) OperationalError.
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        store.customers.add(customer(1))
        raw = sqlite3.connect(path)
        raw.execute("DROP TABLE interactions")
        raw.commit()
        raw.close()
        with pytest.raises(StorageError) as raised:
            store.interactions.list_for(store.customers.list().items[0].id)
        assert not isinstance(raised.value, OperationalError | DataError)
