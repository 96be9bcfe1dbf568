"""Merge records in SQL (tables ``<prefix>merges`` and ``<prefix>merge_participants``)."""

from __future__ import annotations

import builtins
from typing import Any, Final

import attrs
from sqlalchemy import Connection, Table, delete, insert, select
from sqlalchemy import exc as sa_exc

from crmcore.audit import AuditAction
from crmcore.errors import ValidationError
from crmcore.merge_record import MergeRecord
from crmcore.serialization import from_json, to_json
from crmcore.storage import _audit
from crmcore.storage._common import is_unicode, micros
from crmcore.storage._front import Errors, check_record, check_record_id
from crmcore.storage.sql._connection import Handle, is_id_collision

_MERGE: Final = Errors("merge record")


class SQLMerges:
    """The merge records of a :class:`~crmcore.storage.sql.SQLStore`."""

    def __init__(self, store: Handle, table: Table, participants: Table) -> None:
        self._store = store
        self._table = table
        self._participants = participants

    def _decode(self, doc: str) -> MergeRecord:
        try:
            return from_json(MergeRecord, self._store._doc_out(doc))
        except ValidationError as exc:
            # The caller's input is not at fault: the database is.
            raise _MERGE.unreadable() from exc

    def add(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`crmcore.storage.MergeRepository.add`."""
        check_record(record, MergeRecord)
        stored = attrs.evolve(record, version=1)
        with self._store._write() as conn:
            try:
                conn.execute(insert(self._table), self._row(stored))
            except sa_exc.IntegrityError as exc:
                if is_id_collision(exc, self._table.name, f"{self._table.name}_pkey"):
                    raise _MERGE.duplicate() from None
                raise
            conn.execute(insert(self._participants), self._participant_rows(stored))
            self._store._report(conn, AuditAction.MERGE, _audit.added("merge", [stored]))
        return stored

    def _row(self, record: MergeRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "version": record.version,
            "survivor_id": record.survivor_id,
            "merged_at": micros(record.merged_at),
            "doc": self._store._doc_in(to_json(record)),
        }

    @staticmethod
    def _participant_rows(record: MergeRecord) -> list[dict[str, str]]:
        return [
            {"record_id": rid, "merge_id": record.id}
            for rid in dict.fromkeys(record.participant_ids)
        ]

    def _place(self, conn: Connection, record: MergeRecord) -> None:
        """Store ``record`` as it is (its version kept), replacing its id's row."""
        t, p = self._table, self._participants
        conn.execute(delete(p).where(p.c.merge_id == record.id))
        conn.execute(delete(t).where(t.c.id == record.id))
        conn.execute(insert(t), self._row(record))
        conn.execute(insert(p), self._participant_rows(record))

    def get(self, merge_id: str) -> MergeRecord:
        """See :meth:`crmcore.storage.MergeRepository.get`."""
        if not isinstance(merge_id, str) or not is_unicode(merge_id):
            raise _MERGE.not_found()
        t = self._table
        with self._store._use() as conn:
            row = _MERGE.found(conn.execute(select(t.c.doc).where(t.c.id == merge_id)).first())
        return self._decode(row[0])

    def update(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`crmcore.storage.MergeRepository.update`."""
        check_record(record, MergeRecord)
        stored = attrs.evolve(record, version=record.version + 1)
        t = self._table
        with self._store._write() as conn:
            found = conn.execute(select(t.c.version, t.c.doc).where(t.c.id == record.id)).first()
            _MERGE.check_version(None if found is None else int(found[0]), record.version)
            assert found is not None
            done = conn.execute(
                t.update()
                .where(t.c.id == record.id, t.c.version == record.version)
                .values(version=stored.version, doc=self._store._doc_in(to_json(stored)))
            )
            if done.rowcount != 1:  # a writer in between (no lock was taken by the read)
                now = conn.execute(select(t.c.version).where(t.c.id == record.id)).first()
                _MERGE.check_version(None if now is None else int(now[0]), record.version)
            before = self._decode(found[1])
            self._store._report(conn, AuditAction.UPDATE, _audit.updated("merge", before, stored))
        return stored

    def list_for(self, record_id: str) -> builtins.list[MergeRecord]:
        """See :meth:`crmcore.storage.MergeRepository.list_for`."""
        check_record_id(record_id)
        t, p = self._table, self._participants
        query = (
            select(t.c.doc)
            .join(p, p.c.merge_id == t.c.id)
            .where(p.c.record_id == record_id)
            .order_by(t.c.merged_at.desc(), t.c.id.desc())
        )
        with self._store._use() as conn:
            rows = conn.execute(query).all()
        return [self._decode(row[0]) for row in rows]
