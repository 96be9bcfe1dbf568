"""Merge records in a store, and resolving a merged-away id to its survivor.

A store keeps every :class:`~crmcore.merge.MergeRecord` in its ``merges``
repository (:class:`MergeRepository`). Customer and lead repositories answer
``resolve(id)`` by following ``merged_into`` (:func:`resolve_chain`).
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from crmcore.customers import Customer
from crmcore.errors import (
    DuplicateRecord,
    NotFound,
    StorageError,
    ValidationError,
    VersionConflict,
)
from crmcore.ids import MergeId
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.serialization import from_json, to_json
from crmcore.storage._common import check_record, micros
from crmcore.storage.protocols import MergeRepository

if TYPE_CHECKING:
    from crmcore.storage.memory import InMemoryStore
    from crmcore.storage.sqlite import SQLiteStore

__all__ = ["MERGES_MIGRATION", "MergeRepository", "resolve_chain"]

R = TypeVar("R", bound=Customer | Lead)

MAX_CHAIN: Final = 1_000
"""How many merges deep ``resolve`` follows before calling the chain broken."""

MERGES_MIGRATION: Final[tuple[str, ...]] = (
    "CREATE TABLE merges ("
    "id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, survivor_id TEXT NOT NULL, "
    "merged_at INTEGER NOT NULL, doc TEXT NOT NULL)",
    "CREATE TABLE merge_participants ("
    "record_id TEXT NOT NULL, "
    "merge_id TEXT NOT NULL REFERENCES merges (id) ON DELETE CASCADE, "
    "PRIMARY KEY (record_id, merge_id)) WITHOUT ROWID",
)
"""The SQLite schema migration that adds merge records."""


def _check_record_id(record_id: object) -> None:
    # A list reached SQLite as a bad parameter (a StorageError) while the
    # in-memory store answered [] for it: refuse it the same way everywhere.
    if not isinstance(record_id, str):
        raise ValidationError("record_id", "must be a customer or lead id")


def resolve_chain(get: Callable[[Any], R], record_id: Any) -> R:
    """Follow ``merged_into`` from ``record_id`` to the live record.

    Raises:
        NotFound: a record on the chain is not stored.
        StorageError: the chain loops or is absurdly long (a corrupt store).
    """
    record = get(record_id)
    seen = {record.id}
    while record.merged_into is not None:
        record = get(record.merged_into)
        if record.id in seen or len(seen) > MAX_CHAIN:
            raise StorageError("the chain of merges from this record loops")
        seen.add(record.id)
    return record


_CACHE_SIZE: Final = 64
"""How many decoded merge records a SQLite store keeps."""


def _order(records: builtins.list[MergeRecord]) -> builtins.list[MergeRecord]:
    return sorted(records, key=lambda m: (m.merged_at, m.id), reverse=True)


class MemoryMerges:
    """The merge records of an :class:`~crmcore.storage.InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._records: dict[str, MergeRecord] = {}

    def _restore(self, record_id: str, record: Any) -> None:
        if record is None:
            self._records.pop(record_id, None)
        else:
            self._records[record_id] = record

    def _put(self, record: MergeRecord) -> None:
        self._store._log(self, record.id, self._records.get(record.id))
        self._records[record.id] = record

    def add(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.add`."""
        check_record(record, MergeRecord)
        with self._store._write():
            if record.id in self._records:
                raise DuplicateRecord("a merge record with this id is already stored")
            stored = attrs.evolve(record, version=1)
            self._put(stored)
            return stored

    def get(self, merge_id: MergeId | str) -> MergeRecord:
        """See :meth:`MergeRepository.get`."""
        with self._store._read():
            found = self._records.get(merge_id) if isinstance(merge_id, str) else None
        if found is None:
            raise NotFound("no merge with this id is stored")
        return found

    def update(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.update`."""
        check_record(record, MergeRecord)
        with self._store._write():
            current = self._records.get(record.id)
            if current is None:
                raise NotFound("no merge with this id is stored")
            if current.version != record.version:
                raise VersionConflict(
                    "the merge record changed since this copy was read",
                    expected=record.version,
                    actual=current.version,
                )
            stored = attrs.evolve(record, version=current.version + 1)
            self._put(stored)
            return stored

    def list_for(self, record_id: str) -> builtins.list[MergeRecord]:
        """See :meth:`MergeRepository.list_for`."""
        _check_record_id(record_id)
        with self._store._read():
            return _order([m for m in self._records.values() if record_id in m.participant_ids])

    def clear(self) -> None:
        """Forget every record (the store is closing)."""
        self._records.clear()


class SQLiteMerges:
    """The merge records of a :class:`~crmcore.storage.SQLiteStore` (tables ``merges``,
    ``merge_participants``)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._cache: OrderedDict[tuple[str, int], MergeRecord] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.add`."""
        check_record(record, MergeRecord)
        stored = attrs.evolve(record, version=1)
        doc = to_json(stored)
        with self._store._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO merges (id, version, survivor_id, merged_at, doc) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (stored.id, 1, stored.survivor_id, micros(stored.merged_at), doc),
                )
            except sqlite3.IntegrityError:
                raise DuplicateRecord("a merge record with this id is already stored") from None
            conn.executemany(
                "INSERT INTO merge_participants (record_id, merge_id) VALUES (?, ?)",
                [(rid, stored.id) for rid in dict.fromkeys(stored.participant_ids)],
            )
        return stored

    def get(self, merge_id: MergeId | str) -> MergeRecord:
        """See :meth:`MergeRepository.get`."""
        if not isinstance(merge_id, str):
            raise NotFound("no merge with this id is stored")
        with self._store._use() as conn:
            row = conn.execute(
                "SELECT id, version FROM merges WHERE id = ?", (merge_id,)
            ).fetchone()
            if row is None:
                raise NotFound("no merge with this id is stored")
            return self._load(conn, [(row[0], row[1])])[0]

    def update(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.update`."""
        check_record(record, MergeRecord)
        stored = attrs.evolve(record, version=record.version + 1)
        with self._store._write() as conn:
            cursor = conn.execute(
                "UPDATE merges SET version = ?, doc = ? WHERE id = ? AND version = ?",
                (stored.version, to_json(stored), record.id, record.version),
            )
            if cursor.rowcount != 1:
                found = conn.execute(
                    "SELECT version FROM merges WHERE id = ?", (record.id,)
                ).fetchone()
                if found is None:
                    raise NotFound("no merge with this id is stored")
                raise VersionConflict(
                    "the merge record changed since this copy was read",
                    expected=record.version,
                    actual=found[0],
                )
        return stored

    def forget(self) -> None:
        """Drop every decoded copy: the store calls this when a transaction rolls back.

        The cache is keyed by (id, version); a version written and read inside a
        transaction that then rolls back may later be written again with other
        content, so nothing read inside it may outlive it.
        """
        with self._lock:
            self._cache.clear()

    def list_for(self, record_id: str) -> builtins.list[MergeRecord]:
        """See :meth:`MergeRepository.list_for`."""
        _check_record_id(record_id)
        with self._store._use() as conn:
            rows = conn.execute(
                "SELECT m.id, m.version FROM merge_participants p "
                "JOIN merges m ON m.id = p.merge_id "
                "WHERE p.record_id = ? ORDER BY m.merged_at DESC, m.id DESC",
                (record_id,),
            ).fetchall()
            return self._load(conn, [(r[0], r[1]) for r in rows])

    def _load(
        self, conn: sqlite3.Connection, keys: builtins.list[tuple[str, int]]
    ) -> builtins.list[MergeRecord]:
        # Merge records carry full snapshots and can be large; a record never
        # changes without its version changing, so a copy decoded once is
        # reused while the stored version matches (timelines read the same
        # records page after page).
        found: dict[tuple[str, int], MergeRecord] = {}
        with self._lock:
            for key in keys:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    found[key] = self._cache[key]
        missing = [key for key in keys if key not in found]
        for key in missing:
            row = conn.execute(
                "SELECT doc FROM merges WHERE id = ? AND version = ?", key
            ).fetchone()
            if row is None:  # changed between the two reads: decode what is there now
                row = conn.execute("SELECT doc FROM merges WHERE id = ?", (key[0],)).fetchone()
            if row is None:
                raise NotFound("no merge with this id is stored")
            try:
                found[key] = from_json(MergeRecord, row[0])
            except ValidationError as exc:
                # The caller's input is not at fault: the file is.
                raise StorageError("a stored merge record cannot be read") from exc
        with self._lock:
            for key in missing:
                self._cache[key] = found[key]
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return [found[key] for key in keys]
