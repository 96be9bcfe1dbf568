"""Interactions in SQL, with a participants table for timelines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, tuple_
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from crmcore.errors import ValidationError
from crmcore.interactions import Interaction
from crmcore.serialization import to_json
from crmcore.storage._common import micros, stamped
from crmcore.storage._database import INTERACTION, DatabaseInteractions, thread_ids
from crmcore.storage._front import TIMELINE_TAG, Timeline, external_id_taken, page_of
from crmcore.storage.protocols import Page
from crmcore.storage.sql._connection import (
    Handle,
    delete_versioned,
    fetch_docs,
    is_id_collision,
    update_versioned,
)


class SQLInteractions(DatabaseInteractions):
    """Interactions in a SQL database, with a participants table for timelines."""

    _store: Handle

    def __init__(self, store: Handle, table: Table, participants: Table) -> None:
        self._store = store
        self._table = table
        self._participants = participants
        self._insert = insert(table)
        # Two workers ingesting the same external id at once: the second one's
        # insert waits for the first, then does nothing, and returns the first's.
        self._insert_new = _insert_unless_external_id_taken(table, store._dialect)
        self._insert_participants = insert(participants)
        t = table
        self._get_many = select(t.c.id, t.c.doc).where(t.c.id.in_(bindparam("ids", expanding=True)))

    def _decode_rows(self, rows: Iterable[Sequence[Any]]) -> list[Interaction]:
        out = self._store._doc_out
        try:
            return [self._store._decode(Interaction, out(row[-1])) for row in rows]
        except ValidationError as exc:
            raise INTERACTION.unreadable() from exc

    def _row(self, i: Interaction) -> dict[str, Any]:
        return {
            "id": i.id,
            "version": i.version,
            "channel": i.channel.value,
            "occurred_at": micros(i.occurred_at),
            "external_id": i.external_id,
            "created_at": micros(i.created_at),
            "updated_at": micros(i.updated_at),
            "doc": self._store._doc_in(to_json(i)),
        }

    @staticmethod
    def _participant_rows(i: Interaction) -> list[dict[str, Any]]:
        at = micros(i.occurred_at)
        return [
            {
                "record_id": rid,
                "occurred_at": at,
                "interaction_id": i.id,
                "channel": i.channel.value,
            }
            for rid in thread_ids(i)
        ]

    def _by_external(self, conn: Connection, external_id: str) -> Interaction | None:
        t = self._table
        row = conn.execute(select(t.c.doc).where(t.c.external_id == external_id)).first()
        return None if row is None else self._decode_rows([row])[0]

    def _refuse_taken_external_id(self, conn: Connection, interaction: Interaction) -> None:
        """Raise DuplicateRecord if another interaction holds this one's external id."""
        t, ext = self._table, interaction.external_id
        if ext is None:
            return
        other = conn.execute(
            select(t.c.id).where(t.c.external_id == ext, t.c.id != interaction.id)
        ).first()
        if other is not None:
            raise external_id_taken()

    def _add(self, conn: Connection, interaction: Interaction, now: datetime) -> Interaction:
        if interaction.external_id is not None:
            existing = self._by_external(conn, interaction.external_id)
            if existing is not None:
                return existing
        stored = stamped(interaction, 1, now)
        guarded = interaction.external_id is not None and self._insert_new is not None
        try:
            done = conn.execute(self._insert_new if guarded else self._insert, self._row(stored))
        except sa_exc.IntegrityError as exc:
            if is_id_collision(exc, self._table.name, f"{self._table.name}_pkey"):
                raise INTERACTION.duplicate() from None
            raise
        # RETURNING says whether the row went in: the row count is not reliable here.
        if guarded and done.first() is None:
            assert interaction.external_id is not None
            existing = self._by_external(conn, interaction.external_id)
            if existing is not None:
                return existing
        participants = self._participant_rows(stored)
        if participants:
            conn.execute(self._insert_participants, participants)
        return stored

    def _place(self, conn: Connection, interaction: Interaction) -> None:
        """Store ``interaction`` as it is (version and timestamps kept), replacing its id's row."""
        t, p = self._table, self._participants
        self._refuse_taken_external_id(conn, interaction)
        conn.execute(delete(p).where(p.c.interaction_id == interaction.id))
        conn.execute(delete(t).where(t.c.id == interaction.id))
        conn.execute(self._insert, self._row(interaction))
        participants = self._participant_rows(interaction)
        if participants:
            conn.execute(self._insert_participants, participants)

    def _doc_row(self, conn: Connection, interaction_id: str) -> Sequence[Any] | None:
        t = self._table
        return conn.execute(select(t.c.doc).where(t.c.id == interaction_id)).first()

    def _fetch(self, ids: list[str]) -> dict[str, Interaction]:
        with self._store._use() as conn:
            rows = fetch_docs(conn, self._get_many, ids)
        return self._by_id(rows)

    def _rewrite(self, conn: Connection, interaction: Interaction, stored: Interaction) -> None:
        row = self._row(stored)
        del row["id"]
        p = self._participants
        self._refuse_taken_external_id(conn, interaction)
        update_versioned(conn, self._table, INTERACTION, interaction, row)
        conn.execute(delete(p).where(p.c.interaction_id == interaction.id))
        participants = self._participant_rows(stored)
        if participants:
            conn.execute(self._insert_participants, participants)

    def _remove(self, conn: Connection, interaction_id: str, expected: int | None) -> None:
        delete_versioned(conn, self._table, INTERACTION, interaction_id, expected)

    def _timeline(self, record_id: str, q: Timeline) -> Page[Interaction]:
        t, p = self._table, self._participants
        parts = [p.c.record_id == record_id]
        if q.since is not None:
            parts.append(p.c.occurred_at >= q.since)
        if q.until is not None:
            parts.append(p.c.occurred_at < q.until)
        if q.channel is not None:
            parts.append(p.c.channel == q.channel.value)
        if q.after is not None:
            parts.append(tuple_(p.c.occurred_at, p.c.interaction_id) < tuple_(*q.after))
        query = (
            select(p.c.occurred_at, p.c.interaction_id, t.c.doc)
            .join(t, t.c.id == p.c.interaction_id)
            .where(*parts)
            .order_by(p.c.occurred_at.desc(), p.c.interaction_id.desc())
        )
        if q.size is not None:
            query = query.limit(q.size + 1)
        with self._store._use() as conn:
            rows = conn.execute(query).all()
        return page_of(rows, q.size, TIMELINE_TAG, self._decode_rows)


def _insert_unless_external_id_taken(table: Table, dialect: str) -> Any:
    """``INSERT ... ON CONFLICT (external_id) DO NOTHING RETURNING id`` where the dialect has it."""
    statement: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        statement = postgresql.insert(table)
    elif dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        statement = sqlite.insert(table)
    else:
        return None
    return statement.on_conflict_do_nothing(index_elements=[table.c.external_id]).returning(
        table.c.id
    )
