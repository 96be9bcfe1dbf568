"""Merge records in SQLite files (the schema migration) and the merge contract's teeth."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest

import crmcore.storage.sqlite._schema as sqlite_schema
from crmcore import Customer, merge
from crmcore.storage import InMemoryStore, SQLiteStore
from crmcore.testing.merge_contract import MergeContract


def test_a_schema_1_file_gains_merge_records_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    # Write the file as crmcore did before merge records existed: the first schema only.
    with monkeypatch.context() as old:
        old.setattr(sqlite_schema, "_MIGRATIONS", sqlite_schema._MIGRATIONS[:1])
        old.setattr(sqlite_schema, "SCHEMA_VERSION", 1)
        old.setattr(SQLiteStore, "_append_entry", lambda self, conn, entry: None)  # none yet
        with SQLiteStore(path) as store:
            a = store.customers.add(Customer.create(name="Ada"))
            b = store.customers.add(Customer.create(name="Bob"))
    conn = sqlite3.connect(path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "merges" not in tables
    with SQLiteStore(path) as store:
        assert store.schema_version() == sqlite_schema.SCHEMA_VERSION
        result = merge(store, [a.id, b.id], survivor=a.id)
    with SQLiteStore(path) as store:
        assert store.merges.get(result.merge_id) == result.record
        assert store.customers.resolve(b.id).id == a.id


class _ShallowResolve(InMemoryStore):
    """A broken adapter: resolve() follows one merge, not the whole chain."""

    def __init__(self) -> None:
        super().__init__()
        customers = self._customers

        def resolve(record_id: Any) -> Customer:
            record = customers.get(record_id)
            return customers.get(record.merged_into) if record.merged_into else record

        object.__setattr__(customers, "resolve", resolve)


class _ForgetfulMerges(InMemoryStore):
    """A broken adapter: merge records are not kept across a list_for."""

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self._merges, "list_for", lambda record_id: [])


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_ShallowResolve, MergeContract.test_resolve_follows_chains_of_merges),
        (_ForgetfulMerges, MergeContract.test_merges_are_listed_per_participant_newest_first),
    ],
)
def test_the_merge_contract_catches_broken_adapters(
    broken: type[InMemoryStore], check: Any
) -> None:
    with pytest.raises(AssertionError):
        check(MergeContract(), broken())
    # ... while a correct store passes the same check.
    check(MergeContract(), InMemoryStore())


def test_unmerge_survives_reopening_the_file(tmp_path: Path) -> None:
    from crmcore import unmerge

    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        a = store.customers.add(Customer.create(name="Ada", emails=["a@example.com"]))
        b = store.customers.add(Customer.create(name="Bob", emails=["b@example.com"]))
        result = merge(store, [a.id, b.id], survivor=a.id)
    with SQLiteStore(path) as store:
        unmerge(store, result.merge_id)
        assert attrs.evolve(store.customers.get(a.id), version=0, updated_at=a.updated_at) == (
            attrs.evolve(a, version=0)
        )


class _NoMerges(MergeContract):
    supports_merges = False


def test_an_adapter_without_merges_skips_only_the_merge_checks() -> None:
    with pytest.raises(pytest.skip.Exception):
        _NoMerges().test_resolve_leads(InMemoryStore())


def test_the_merge_state_machine_catches_a_shallow_resolve() -> None:
    from hypothesis import Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    from crmcore.storage import Store
    from crmcore.testing.merge_stateful import MergeStoreStateMachine

    class Machine(MergeStoreStateMachine):
        def make_store(self) -> Store:
            return _ShallowResolve()

    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            Machine,
            # Deterministic, and no shrinking: finding the bug is the point here.
            # 60 examples find it in about 8 runs of 10 with random seeds, so a
            # new hypothesis release could draw a fixed seed that misses it
            # (6.170 did); 300 miss it for about one seed in 3,000 (0.2 ** 5).
            settings=settings(
                max_examples=300,
                stateful_step_count=50,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.generate],
            ),
        )


def test_a_rolled_back_merge_record_is_not_served_from_the_cache(tmp_path: Path) -> None:
    from crmcore import unmerge
    from crmcore.events import EventDispatcher, RecordsUnmerged

    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        a = store.customers.add(Customer.create(name="Ada", emails=["a@example.com"]))
        b = store.customers.add(Customer.create(name="Bob", emails=["b@example.com"]))
        merged = merge(store, [a.id, b.id], survivor=a.id)
        events = EventDispatcher()

        def peek_then_fail(event: RecordsUnmerged) -> None:
            store.merges.get(merged.merge_id)  # reads version 2 before it is committed
            raise RuntimeError("subscriber down")

        events.subscribe(RecordsUnmerged, peek_then_fail)
        with pytest.raises(RuntimeError):
            unmerge(store, merged.merge_id, events=events)
        assert store.merges.get(merged.merge_id).is_active
        unmerge(store, merged.merge_id)  # writes version 2 again, with another unmerged_at
        mine = store.merges.get(merged.merge_id)
    with SQLiteStore(path) as fresh:
        assert fresh.merges.get(merged.merge_id) == mine


def test_a_corrupt_merge_record_is_a_storage_error(tmp_path: Path) -> None:
    from crmcore.errors import StorageError

    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        a = store.customers.add(Customer.create(name="Ada", emails=["a@example.com"]))
        b = store.customers.add(Customer.create(name="Bob", emails=["b@example.com"]))
        merged = merge(store, [a.id, b.id], survivor=a.id)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE merges SET doc = '{\"schema_version\": 1}'")
    raw.commit()
    raw.close()
    with SQLiteStore(path) as store:
        with pytest.raises(StorageError):
            store.merges.get(merged.merge_id)
        with pytest.raises(StorageError):
            store.merges.list_for(a.id)
