"""Merge records in SQLite (tables ``merges`` and ``merge_participants``)."""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections import OrderedDict
from typing import Final

import attrs

from crmcore.audit import AuditAction
from crmcore.errors import ValidationError
from crmcore.merge_record import MergeRecord
from crmcore.serialization import from_json, to_json
from crmcore.storage import _audit
from crmcore.storage._common import is_unicode, micros
from crmcore.storage._front import (
    Errors,
    check_record,
    check_record_id,
)
from crmcore.storage.sqlite._connection import Handle

_MERGE: Final = Errors("merge record")

_MERGE_CACHE_SIZE: Final = 64
"""How many decoded merge records a SQLite store keeps."""


class SQLiteMerges:
    """The merge records of a :class:`~crmcore.storage.SQLiteStore` (tables ``merges``,
    ``merge_participants``)."""

    def __init__(self, store: Handle) -> None:
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
                raise _MERGE.duplicate() from None
            conn.executemany(
                "INSERT INTO merge_participants (record_id, merge_id) VALUES (?, ?)",
                [(rid, stored.id) for rid in dict.fromkeys(stored.participant_ids)],
            )
            self._store._report(conn, AuditAction.MERGE, _audit.added("merge", [stored]))
        return stored

    def _place(self, conn: sqlite3.Connection, record: MergeRecord) -> None:
        """Store ``record`` as it is (its version kept), replacing its id's row."""
        # The participants go with the row (ON DELETE CASCADE); a decoded copy
        # of the replaced row may share its (id, version) key.
        conn.execute("DELETE FROM merges WHERE id = ?", (record.id,))
        self.forget()
        conn.execute(
            "INSERT INTO merges (id, version, survivor_id, merged_at, doc) VALUES (?, ?, ?, ?, ?)",
            (record.id, record.version, record.survivor_id, micros(record.merged_at),
             to_json(record)),
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO merge_participants (record_id, merge_id) VALUES (?, ?)",
            [(rid, record.id) for rid in dict.fromkeys(record.participant_ids)],
        )

    def get(self, merge_id: str) -> MergeRecord:
        """See :meth:`MergeRepository.get`."""
        if not isinstance(merge_id, str) or not is_unicode(merge_id):
            raise _MERGE.not_found()
        with self._store._use() as conn:
            row = _MERGE.found(
                conn.execute("SELECT id, version FROM merges WHERE id = ?", (merge_id,)).fetchone()
            )
            return self._load(conn, [(row[0], row[1])])[0]

    def update(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.update`."""
        check_record(record, MergeRecord)
        stored = attrs.evolve(record, version=record.version + 1)
        with self._store._write() as conn:
            found = conn.execute("SELECT version FROM merges WHERE id = ?", (record.id,)).fetchone()
            _MERGE.check_version(None if found is None else int(found[0]), record.version)
            # The stored copy (usually cached: unmerge and erasure have just read it),
            # for the names of the fields the update changes.
            before = self._load(conn, [(record.id, record.version)])[0]
            conn.execute(
                "UPDATE merges SET version = ?, doc = ? WHERE id = ? AND version = ?",
                (stored.version, to_json(stored), record.id, record.version),
            )
            self._store._report(conn, AuditAction.UPDATE, _audit.updated("merge", before, stored))
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
        check_record_id(record_id)
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
            row = _MERGE.found(row)
            try:
                found[key] = from_json(MergeRecord, row[0])
            except ValidationError as exc:
                # The caller's input is not at fault: the file is.
                raise _MERGE.unreadable() from exc
        with self._lock:
            for key in missing:
                self._cache[key] = found[key]
            while len(self._cache) > _MERGE_CACHE_SIZE:
                self._cache.popitem(last=False)
        return [found[key] for key in keys]
