"""The audit trail, the suppression list and subject requests in SQL (schema version 3).

Tables ``<prefix>audit_entries`` (one row per entry, its targets as compact
JSON), ``<prefix>audit_targets`` (one ``(record_id, entry_id)`` row per record
an entry names), ``<prefix>suppressions`` and ``<prefix>subject_requests``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy import exc as sa_exc

from crmcore.audit import AuditAction, AuditEntry
from crmcore.storage import _audit
from crmcore.storage._common import micros
from crmcore.storage.protocols import Page
from crmcore.storage.sql._connection import Handle, copy_rows, is_id_collision
from crmcore.subject_requests import SubjectRequest

_COLUMNS = ("id", "at", "actor", "action", "operation", "targets")


def append_entry(
    conn: Connection, entries: Table, targets: Table, entry: AuditEntry, *, copy: bool = False
) -> None:
    """Insert an entry: one row, and its index rows in one ``executemany`` (with
    ``copy``, PostgreSQL's ``COPY`` for a batch, as ``add_many`` writes its key rows)."""
    try:
        conn.execute(insert(entries), dict(zip(_COLUMNS, _audit.entry_row(entry), strict=True)))
    except sa_exc.IntegrityError as exc:
        if is_id_collision(exc, entries.name, f"{entries.name}_pkey"):
            raise _audit.AUDIT.duplicate() from None
        raise
    entry_id = entry.id
    ids = entry.record_ids
    if copy and len(ids) > 1:
        copy_rows(conn, targets, ("record_id", "entry_id"), [(r, entry_id) for r in ids])
    elif ids:
        conn.execute(insert(targets), [{"record_id": r, "entry_id": entry_id} for r in ids])


class SQLAudit:
    """The audit trail of a :class:`~crmcore.storage.sql.SQLStore`."""

    def __init__(self, store: Handle, entries: Table, targets: Table) -> None:
        self._store = store
        self._entries = entries
        self._targets = targets

    def append(self, entry: AuditEntry) -> AuditEntry:
        """See :meth:`crmcore.storage.AuditRepository.append`."""
        _audit.check_entry(entry)
        with self._store._write() as conn:
            append_entry(conn, self._entries, self._targets, entry)
        return entry

    def _columns(self) -> builtins.list[Any]:
        return [self._entries.c[name] for name in _COLUMNS]

    def get(self, entry_id: str) -> AuditEntry:
        """See :meth:`crmcore.storage.AuditRepository.get`."""
        if not _audit.is_digest(entry_id):  # printable ASCII: anything else names nothing
            raise _audit.AUDIT.not_found()
        e = self._entries
        with self._store._use() as conn:
            row = conn.execute(select(*self._columns()).where(e.c.id == entry_id)).first()
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
        e, t = self._entries, self._targets
        query = select(*self._columns())
        if q.record_id is not None:
            query = query.where(
                e.c.id.in_(select(t.c.entry_id).where(t.c.record_id == q.record_id))
            )
        if q.action is not None:
            query = query.where(e.c.action == q.action.value)
        if q.since is not None:
            query = query.where(e.c.at >= q.since)
        if q.after is not None:
            query = query.where(e.c.id > q.after)
        query = query.order_by(e.c.id).limit(q.size + 1)
        with self._store._use() as conn:
            rows = conn.execute(query).all()
        entries = [_audit.decode_entry(tuple(row)) for row in rows]
        if len(entries) <= q.size:
            return Page(tuple(entries), None)
        page = entries[: q.size]
        return Page(tuple(page), _audit.audit_cursor(page[-1].id))

    def count(self) -> int:
        """See :meth:`crmcore.storage.AuditRepository.count`."""
        with self._store._use() as conn:
            return int(conn.execute(select(func.count()).select_from(self._entries)).scalar_one())


class SQLSuppressions:
    """The suppression list of a :class:`~crmcore.storage.sql.SQLStore`."""

    def __init__(self, store: Handle, table: Table) -> None:
        self._store = store
        self._table = table

    def add(self, digests: Iterable[str]) -> int:
        """See :meth:`crmcore.storage.SuppressionRepository.add`."""
        batch = _audit.check_digests(digests)
        if not batch:
            return 0
        t = self._table
        with self._store._write() as conn:
            # The digests already listed, then the rest: portable, and the store's
            # transaction makes the two steps one.
            present = set(conn.execute(select(t.c.digest).where(t.c.digest.in_(batch))).scalars())
            new = [d for d in batch if d not in present]
            if new:
                conn.execute(insert(t), [{"digest": d} for d in new])
            return len(new)

    def contains(self, digest: str) -> bool:
        """See :meth:`crmcore.storage.SuppressionRepository.contains`."""
        if not _audit.is_digest(digest):
            return False
        t = self._table
        with self._store._use() as conn:
            return conn.execute(select(t.c.digest).where(t.c.digest == digest)).first() is not None

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.contains(digest)

    def count(self) -> int:
        """See :meth:`crmcore.storage.SuppressionRepository.count`."""
        with self._store._use() as conn:
            return int(conn.execute(select(func.count()).select_from(self._table)).scalar_one())


class SQLRequests:
    """The subject requests of a :class:`~crmcore.storage.sql.SQLStore`."""

    def __init__(self, store: Handle, table: Table) -> None:
        self._store = store
        self._table = table

    def _row(self, request: SubjectRequest) -> dict[str, Any]:
        answered = None if request.answered_at is None else micros(request.answered_at)
        return {
            "id": request.id,
            "version": request.version,
            "answered_at": answered,
            "doc": self._store._doc_in(_audit.request_doc(request)),
        }

    def _read(self, conn: Connection, request_id: object) -> SubjectRequest | None:
        if not _audit.is_digest(request_id):
            return None
        t = self._table
        row = conn.execute(select(t.c.doc).where(t.c.id == request_id)).first()
        return None if row is None else _audit.decode_request(self._store._doc_out(row[0]))

    def add(self, request: SubjectRequest) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.add`."""
        _audit.check_request(request)
        stored = attrs.evolve(request, version=1)
        with self._store._write() as conn:
            try:
                conn.execute(insert(self._table), self._row(stored))
            except sa_exc.IntegrityError as exc:
                if is_id_collision(exc, self._table.name, f"{self._table.name}_pkey"):
                    raise _audit.REQUEST.duplicate() from None
                raise
            self._store._report(conn, AuditAction.ADD, _audit.added("request", [stored]))
        return stored

    def get(self, request_id: str) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.get`."""
        with self._store._use() as conn:
            return _audit.REQUEST.found(self._read(conn, request_id))

    def update(self, request: SubjectRequest) -> SubjectRequest:
        """See :meth:`crmcore.storage.RequestRepository.update`."""
        _audit.check_request(request)
        t = self._table
        with self._store._write() as conn:
            current = _audit.REQUEST.found(self._read(conn, request.id))
            _audit.REQUEST.check_version(current.version, request.version)
            stored = attrs.evolve(request, version=current.version + 1)
            row = self._row(stored)
            del row["id"]
            done = conn.execute(
                t.update().where(t.c.id == request.id, t.c.version == current.version).values(row)
            )
            if done.rowcount != 1:  # a writer in between (the read took no lock)
                raise _audit.REQUEST.conflict(request.version, request.version + 1)
            targets = _audit.updated("request", current, stored)
            self._store._report(conn, AuditAction.UPDATE, targets)
        return stored

    def list(
        self, *, open_only: bool = False, limit: int = 100, cursor: str | None = None
    ) -> Page[SubjectRequest]:
        """See :meth:`crmcore.storage.RequestRepository.list`."""
        q = _audit.check_request_list(open_only, limit, cursor)
        t = self._table
        query = select(t.c.doc)
        if q.after is not None:
            query = query.where(t.c.id > q.after)
        if q.open_only:
            query = query.where(t.c.answered_at.is_(None))
        query = query.order_by(t.c.id).limit(q.size + 1)
        with self._store._use() as conn:
            rows = conn.execute(query).all()
        found = [_audit.decode_request(self._store._doc_out(row[0])) for row in rows]
        if len(found) <= q.size:
            return Page(tuple(found), None)
        page = found[: q.size]
        return Page(tuple(page), _audit.request_cursor(page[-1].id))
