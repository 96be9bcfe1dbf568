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
from collections.abc import Iterable
from datetime import datetime

import attrs

from crmcore.audit import AuditAction, AuditEntry
from crmcore.storage import _audit
from crmcore.storage._common import micros
from crmcore.storage.protocols import Page
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


class SQLiteAudit:
    """The audit trail of a :class:`~crmcore.storage.SQLiteStore`."""

    def __init__(self, store: Handle) -> None:
        self._store = store

    def append(self, entry: AuditEntry) -> AuditEntry:
        """See :meth:`crmcore.storage.AuditRepository.append`."""
        _audit.check_entry(entry)
        with self._store._write() as conn:
            append_entry(conn, entry)
        return entry

    def get(self, entry_id: str) -> AuditEntry:
        """See :meth:`crmcore.storage.AuditRepository.get`."""
        if not _audit.is_digest(entry_id):  # printable ASCII: anything else names nothing
            raise _audit.AUDIT.not_found()
        with self._store._use() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_entries e WHERE e.id = ?", (entry_id,)
            ).fetchone()
        return _audit.decode_entry(_audit.AUDIT.found(row))

    def list(
        self,
        *,
        record_id: str | None = None,
        action: AuditAction | None = None,
        since: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """See :meth:`crmcore.storage.AuditRepository.list`."""
        q = _audit.check_audit_list(record_id, action, since, limit, cursor)
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
        with self._store._use() as conn:
            rows = conn.execute(sql, params).fetchall()
        entries = [_audit.decode_entry(row) for row in rows]
        if len(entries) <= q.size:
            return Page(tuple(entries), None)
        page = entries[: q.size]
        return Page(tuple(page), _audit.audit_cursor(page[-1].id))

    def count(self) -> int:
        """See :meth:`crmcore.storage.AuditRepository.count`."""
        with self._store._use() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM audit_entries").fetchone()[0])


class SQLiteSuppressions:
    """The suppression list of a :class:`~crmcore.storage.SQLiteStore`."""

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

    def contains(self, digest: str) -> bool:
        """See :meth:`crmcore.storage.SuppressionRepository.contains`."""
        if not _audit.is_digest(digest):
            return False
        with self._store._use() as conn:
            found = conn.execute(
                "SELECT 1 FROM suppressions WHERE digest = ?", (digest,)
            ).fetchone()
        return found is not None

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.contains(digest)

    def count(self) -> int:
        """See :meth:`crmcore.storage.SuppressionRepository.count`."""
        with self._store._use() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM suppressions").fetchone()[0])


class SQLiteRequests:
    """The subject requests of a :class:`~crmcore.storage.SQLiteStore`."""

    def __init__(self, store: Handle) -> None:
        self._store = store

    def add(self, request: SubjectRequest) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.add`."""
        _audit.check_request(request)
        stored = _versioned(request, 1)
        with self._store._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO subject_requests (id, version, answered_at, doc) "
                    "VALUES (?, ?, ?, ?)",
                    _row(stored),
                )
            except sqlite3.IntegrityError as exc:
                if "subject_requests.id" in str(exc):
                    raise _audit.REQUEST.duplicate() from None
                raise
            self._store._report(conn, AuditAction.ADD, _audit.added("request", [stored]))
        return stored

    def _read(self, conn: sqlite3.Connection, request_id: object) -> SubjectRequest | None:
        if not _audit.is_digest(request_id):
            return None
        row = conn.execute(
            "SELECT doc FROM subject_requests WHERE id = ?", (request_id,)
        ).fetchone()
        return None if row is None else _audit.decode_request(row[0])

    def get(self, request_id: str) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.get`."""
        with self._store._use() as conn:
            return _audit.REQUEST.found(self._read(conn, request_id))

    def update(self, request: SubjectRequest) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.update`."""
        _audit.check_request(request)
        with self._store._write() as conn:
            current = _audit.REQUEST.found(self._read(conn, request.id))
            _audit.REQUEST.check_version(current.version, request.version)
            stored = _versioned(request, current.version + 1)
            conn.execute(
                "UPDATE subject_requests SET version = ?, answered_at = ?, doc = ? WHERE id = ?",
                (*_row(stored)[1:], stored.id),
            )
            targets = _audit.updated("request", current, stored)
            self._store._report(conn, AuditAction.UPDATE, targets)
        return stored

    def list(
        self, *, open_only: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page[SubjectRequest]:
        """See :meth:`crmcore.storage.RequestRepository.list`."""
        q = _audit.check_request_list(open_only, limit, cursor)
        sql = "SELECT doc FROM subject_requests WHERE id > ?"
        if q.open_only:
            sql += " AND answered_at IS NULL"
        sql += " ORDER BY id LIMIT ?"
        with self._store._use() as conn:
            rows = conn.execute(sql, (q.after or "", q.size + 1)).fetchall()
        found = [_audit.decode_request(row[0]) for row in rows]
        if len(found) <= q.size:
            return Page(tuple(found), None)
        page = found[: q.size]
        return Page(tuple(page), _audit.request_cursor(page[-1].id))


def _versioned(request: SubjectRequest, version: int) -> SubjectRequest:
    return attrs.evolve(request, version=version)


def _row(request: SubjectRequest) -> tuple[object, ...]:
    answered = None if request.answered_at is None else micros(request.answered_at)
    return (request.id, request.version, answered, _audit.request_doc(request))
