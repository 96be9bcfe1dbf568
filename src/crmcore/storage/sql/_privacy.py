"""The audit trail, the suppression list and subject requests in SQL (schema version 3).

Tables ``<prefix>audit_entries`` (one row per entry, its targets as compact
JSON), ``<prefix>audit_targets`` (one ``(record_id, entry_id)`` row per record
an entry names), ``<prefix>suppressions`` and ``<prefix>subject_requests``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy import exc as sa_exc

from crmcore.audit import AuditEntry
from crmcore.storage import _audit
from crmcore.storage._common import micros
from crmcore.storage._database import DatabaseAudit, DatabaseRequests, DatabaseSuppressions
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


class SQLAudit(DatabaseAudit):
    """The audit trail of a :class:`~crmcore.storage.sql.SQLStore`."""

    _store: Handle

    def __init__(self, store: Handle, entries: Table, targets: Table) -> None:
        self._store = store
        self._entries = entries
        self._targets = targets

    def _insert(self, conn: Connection, entry: AuditEntry) -> None:
        append_entry(conn, self._entries, self._targets, entry)

    def _columns(self) -> builtins.list[Any]:
        return [self._entries.c[name] for name in _COLUMNS]

    def _entry_row(self, conn: Connection, entry_id: str) -> Sequence[Any] | None:
        e = self._entries
        return conn.execute(select(*self._columns()).where(e.c.id == entry_id)).first()

    def _entry_rows(self, conn: Connection, q: _audit.AuditQuery) -> Iterable[Sequence[Any]]:
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
        return [tuple(row) for row in conn.execute(query).all()]

    def _count(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(self._entries)).scalar_one())


class SQLSuppressions(DatabaseSuppressions):
    """The suppression list of a :class:`~crmcore.storage.sql.SQLStore`."""

    _store: Handle

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

    def _has(self, conn: Connection, digest: str) -> bool:
        t = self._table
        return conn.execute(select(t.c.digest).where(t.c.digest == digest)).first() is not None

    def _count(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(self._table)).scalar_one())


class SQLRequests(DatabaseRequests):
    """The subject requests of a :class:`~crmcore.storage.sql.SQLStore`."""

    _store: Handle

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

    def _insert(self, conn: Connection, request: SubjectRequest) -> None:
        try:
            conn.execute(insert(self._table), self._row(request))
        except sa_exc.IntegrityError as exc:
            if is_id_collision(exc, self._table.name, f"{self._table.name}_pkey"):
                raise _audit.REQUEST.duplicate() from None
            raise

    def _doc(self, conn: Connection, request_id: str) -> str | None:
        t = self._table
        row = conn.execute(select(t.c.doc).where(t.c.id == request_id)).first()
        return None if row is None else self._store._doc_out(row[0])

    def _rewrite(self, conn: Connection, current: SubjectRequest, stored: SubjectRequest) -> None:
        t = self._table
        row = self._row(stored)
        del row["id"]
        done = conn.execute(
            t.update().where(t.c.id == stored.id, t.c.version == current.version).values(row)
        )
        if done.rowcount != 1:  # a writer in between (the read took no lock)
            raise _audit.REQUEST.conflict(current.version, current.version + 1)

    def _docs(self, conn: Connection, q: _audit.RequestQuery) -> builtins.list[str]:
        t = self._table
        query = select(t.c.doc)
        if q.after is not None:
            query = query.where(t.c.id > q.after)
        if q.open_only:
            query = query.where(t.c.answered_at.is_(None))
        query = query.order_by(t.c.id).limit(q.size + 1)
        return [self._store._doc_out(row[0]) for row in conn.execute(query).all()]
