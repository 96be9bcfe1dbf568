"""The audit trail, the suppression list and subject requests in SQLite.

Tables (schema migration 3 -> 4): ``audit_entries`` (one row per entry, its
targets as compact JSON), ``audit_targets`` (one ``(record_id, entry_id)``
row per record an entry names, for ``list(record_id=...)``), ``suppressions``
(the digests) and ``subject_requests`` (a document, and ``answered_at`` for
``open_only``).
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from crmcore.audit import AuditEntry
from crmcore.storage import _audit
from crmcore.storage._common import micros
from crmcore.storage._database import DatabaseAudit, DatabaseRequests, DatabaseSuppressions
from crmcore.storage.sqlite._connection import Handle
from crmcore.subject_requests import SubjectRequest

_ENTRY_SQL = (
    "INSERT INTO audit_entries (id, at, actor, action, operation, targets) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# One statement for every index row of an entry: SQLite reads the JSON array of ids
# itself, three times faster than an executemany of 10,000 pairs from Python.
_TARGETS_SQL = (
    "INSERT OR IGNORE INTO audit_targets (record_id, entry) SELECT value, ? FROM json_each(?)"
)
_COLUMNS = "e.id, e.at, e.actor, e.action, e.operation, e.targets"


def append_entry(conn: sqlite3.Connection, entry: AuditEntry) -> None:
    """Insert an entry: one row, and its index rows in one statement."""
    row = (*_audit.entry_row(entry)[:5], _audit.pack_targets(entry.targets))
    try:
        seq = conn.execute(_ENTRY_SQL, row).lastrowid
    except sqlite3.IntegrityError as exc:
        if "audit_entries.id" in str(exc):
            raise _audit.AUDIT.duplicate() from None
        raise
    try:
        conn.execute(_TARGETS_SQL, (seq, _audit.record_ids_json(entry)))
    except sqlite3.OperationalError as exc:
        if "json_each" not in str(exc):
            raise
        # A SQLite built without JSON (before 3.38, or with it left out): row by row.
        conn.executemany(
            "INSERT OR IGNORE INTO audit_targets (record_id, entry) VALUES (?, ?)",
            [(rid, seq) for rid in entry.record_ids],
        )


class SQLiteAudit(DatabaseAudit):
    """The audit trail of a :class:`~crmcore.storage.SQLiteStore`."""

    _store: Handle

    def __init__(self, store: Handle) -> None:
        self._store = store

    def _insert(self, conn: sqlite3.Connection, entry: AuditEntry) -> None:
        append_entry(conn, entry)

    def _entry_row(self, conn: sqlite3.Connection, entry_id: str) -> Sequence[Any] | None:
        row: Sequence[Any] | None = conn.execute(
            f"SELECT {_COLUMNS} FROM audit_entries e WHERE e.id = ?", (entry_id,)
        ).fetchone()
        return row

    def _entry_rows(
        self, conn: sqlite3.Connection, q: _audit.AuditQuery
    ) -> Iterable[Sequence[Any]]:
        parts: builtins.list[str] = []
        params: builtins.list[object] = []
        if q.record_id is not None:
            parts.append("e.seq IN (SELECT entry FROM audit_targets WHERE record_id = ?)")
            params.append(q.record_id)
        if q.action is not None:
            parts.append("e.action = ?")
            params.append(q.action.value)
        if q.since is not None:
            parts.append("e.at >= ?")
            params.append(q.since)
        if q.after is not None:
            parts.append("e.id > ?")
            params.append(q.after)
        sql = f"SELECT {_COLUMNS} FROM audit_entries e"
        if parts:
            sql += " WHERE " + " AND ".join(parts)
        sql += " ORDER BY e.id LIMIT ?"
        params.append(q.size + 1)
        rows: builtins.list[Sequence[Any]] = conn.execute(sql, params).fetchall()
        return rows

    def _count(self, conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT COUNT(*) FROM audit_entries").fetchone()[0])


class SQLiteSuppressions(DatabaseSuppressions):
    """The suppression list of a :class:`~crmcore.storage.SQLiteStore`."""

    _store: Handle

    def __init__(self, store: Handle) -> None:
        self._store = store

    def add(self, digests: Iterable[str]) -> int:
        """See :meth:`crmcore.storage.SuppressionRepository.add`."""
        batch = _audit.check_digests(digests)
        with self._store._write() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO suppressions (digest) VALUES (?)", [(d,) for d in batch]
            )
            return conn.total_changes - before

    def _has(self, conn: sqlite3.Connection, digest: str) -> bool:
        found = conn.execute("SELECT 1 FROM suppressions WHERE digest = ?", (digest,)).fetchone()
        return found is not None

    def _count(self, conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT COUNT(*) FROM suppressions").fetchone()[0])


class SQLiteRequests(DatabaseRequests):
    """The subject requests of a :class:`~crmcore.storage.SQLiteStore`."""

    _store: Handle

    def __init__(self, store: Handle) -> None:
        self._store = store

    def _insert(self, conn: sqlite3.Connection, request: SubjectRequest) -> None:
        try:
            conn.execute(
                "INSERT INTO subject_requests (id, version, answered_at, doc) VALUES (?, ?, ?, ?)",
                _row(request),
            )
        except sqlite3.IntegrityError as exc:
            if "subject_requests.id" in str(exc):
                raise _audit.REQUEST.duplicate() from None
            raise

    def _doc(self, conn: sqlite3.Connection, request_id: str) -> str | None:
        row = conn.execute(
            "SELECT doc FROM subject_requests WHERE id = ?", (request_id,)
        ).fetchone()
        return None if row is None else row[0]

    def _rewrite(
        self, conn: sqlite3.Connection, current: SubjectRequest, stored: SubjectRequest
    ) -> None:
        # No writer in between: the write transaction holds SQLite's write lock.
        conn.execute(
            "UPDATE subject_requests SET version = ?, answered_at = ?, doc = ? WHERE id = ?",
            (*_row(stored)[1:], stored.id),
        )

    def _docs(self, conn: sqlite3.Connection, q: _audit.RequestQuery) -> builtins.list[str]:
        sql = "SELECT doc FROM subject_requests WHERE id > ?"
        if q.open_only:
            sql += " AND answered_at IS NULL"
        sql += " ORDER BY id LIMIT ?"
        rows = conn.execute(sql, (q.after or "", q.size + 1)).fetchall()
        return [row[0] for row in rows]


def _row(request: SubjectRequest) -> tuple[object, ...]:
    answered = None if request.answered_at is None else micros(request.answered_at)
    return (request.id, request.version, answered, _audit.request_doc(request))
