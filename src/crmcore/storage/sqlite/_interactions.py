"""Interactions in SQLite, with a participants table for timelines."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from crmcore.errors import ValidationError
from crmcore.interactions import Interaction
from crmcore.serialization import to_json
from crmcore.storage._common import micros, stamped
from crmcore.storage._database import INTERACTION, DatabaseInteractions, thread_ids
from crmcore.storage._front import TIMELINE_TAG, Timeline, external_id_taken, page_of
from crmcore.storage.protocols import Page
from crmcore.storage.sqlite._connection import Handle, fetch_doc, fetch_docs


class SQLInteractions(DatabaseInteractions):
    """Interactions in SQLite, with a participants table for timelines."""

    _store: Handle

    _INSERT = (
        "INSERT INTO interactions (id, version, channel, occurred_at, external_id, "
        "created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    _PARTICIPANT = (
        "INSERT INTO interaction_participants (record_id, occurred_at, interaction_id, channel) "
        "VALUES (?, ?, ?, ?)"
    )

    def __init__(self, store: Handle) -> None:
        self._store = store

    def _decode_rows(self, rows: Iterable[Sequence[Any]]) -> list[Interaction]:
        try:
            return [self._store._decode(Interaction, row[-1]) for row in rows]
        except ValidationError as exc:
            raise INTERACTION.unreadable() from exc

    @staticmethod
    def _row(i: Interaction) -> tuple[Any, ...]:
        return (
            i.id,
            i.version,
            i.channel.value,
            micros(i.occurred_at),
            i.external_id,
            micros(i.created_at),
            micros(i.updated_at),
            to_json(i),
        )

    @staticmethod
    def _participants(i: Interaction) -> list[tuple[Any, ...]]:
        at = micros(i.occurred_at)
        # The case is one more participant: its thread is a timeline (newest first).
        return [(rid, at, i.id, i.channel.value) for rid in thread_ids(i)]

    def _by_external(self, conn: sqlite3.Connection, external_id: str) -> Interaction | None:
        row = conn.execute(
            "SELECT doc FROM interactions WHERE external_id = ?", (external_id,)
        ).fetchone()
        return None if row is None else self._decode_rows([row])[0]

    @staticmethod
    def _refuse_taken_external_id(conn: sqlite3.Connection, interaction: Interaction) -> None:
        """Raise DuplicateRecord if another interaction holds this one's external id."""
        if interaction.external_id is None:
            return
        other = conn.execute(
            "SELECT id FROM interactions WHERE external_id = ? AND id != ?",
            (interaction.external_id, interaction.id),
        ).fetchone()
        if other is not None:
            raise external_id_taken()

    def _add(
        self, conn: sqlite3.Connection, interaction: Interaction, now: datetime
    ) -> Interaction:
        if interaction.external_id is not None:
            existing = self._by_external(conn, interaction.external_id)
            if existing is not None:
                return existing
        stored = stamped(interaction, 1, now)
        try:
            conn.execute(self._INSERT, self._row(stored))
        except sqlite3.IntegrityError as exc:
            if "interactions.id" in str(exc):
                raise INTERACTION.duplicate() from None
            raise
        conn.executemany(self._PARTICIPANT, self._participants(stored))
        return stored

    def _place(self, conn: sqlite3.Connection, interaction: Interaction) -> None:
        """Store ``interaction`` as it is (version and timestamps kept), replacing its id's row."""
        self._refuse_taken_external_id(conn, interaction)
        # The participants go with the row (ON DELETE CASCADE).
        conn.execute("DELETE FROM interactions WHERE id = ?", (interaction.id,))
        conn.execute(self._INSERT, self._row(interaction))
        conn.executemany(self._PARTICIPANT, self._participants(interaction))

    @staticmethod
    def _doc_row(conn: sqlite3.Connection, interaction_id: str) -> tuple[Any, ...] | None:
        return fetch_doc(conn, "interactions", interaction_id)

    def _fetch(self, ids: list[str]) -> dict[str, Interaction]:
        with self._store._use() as conn:
            rows = list(fetch_docs(conn, "interactions", ids))
        return self._by_id(rows)

    def _rewrite(
        self, conn: sqlite3.Connection, interaction: Interaction, stored: Interaction
    ) -> None:
        row = self._row(stored)
        self._refuse_taken_external_id(conn, interaction)
        cursor = conn.execute(
            "UPDATE interactions SET version = ?, channel = ?, occurred_at = ?, "
            "external_id = ?, created_at = ?, updated_at = ?, doc = ? "
            "WHERE id = ? AND version = ?",
            (*row[1:], interaction.id, interaction.version),
        )
        if cursor.rowcount != 1:
            self._check_version(conn, interaction.id, interaction.version)
        conn.execute(
            "DELETE FROM interaction_participants WHERE interaction_id = ?", (interaction.id,)
        )
        conn.executemany(self._PARTICIPANT, self._participants(stored))

    def _remove(self, conn: sqlite3.Connection, interaction_id: str, expected: int | None) -> None:
        self._check_version(conn, interaction_id, expected)
        conn.execute("DELETE FROM interactions WHERE id = ?", (interaction_id,))

    @staticmethod
    def _check_version(conn: sqlite3.Connection, interaction_id: str, expected: int | None) -> None:
        """Raise ``NotFound`` or ``VersionConflict`` unless the stored version is ``expected``."""
        found = conn.execute(
            "SELECT version FROM interactions WHERE id = ?", (interaction_id,)
        ).fetchone()
        INTERACTION.check_version(None if found is None else int(found[0]), expected)

    def _timeline(self, record_id: str, q: Timeline) -> Page[Interaction]:
        low, high, chan, size, after = q.since, q.until, q.channel, q.size, q.after
        parts = ["p.record_id = ?"]
        params: list[Any] = [record_id]
        if low is not None:
            parts.append("p.occurred_at >= ?")
            params.append(low)
        if high is not None:
            parts.append("p.occurred_at < ?")
            params.append(high)
        if chan is not None:
            parts.append("p.channel = ?")
            params.append(chan.value)
        if after is not None:
            parts.append("(p.occurred_at, p.interaction_id) < (?, ?)")
            params.extend(after)
        sql = (
            "SELECT p.occurred_at, p.interaction_id, i.doc FROM interaction_participants p "
            "JOIN interactions i ON i.id = p.interaction_id WHERE "
            + " AND ".join(parts)
            + " ORDER BY p.occurred_at DESC, p.interaction_id DESC"
        )
        if size is not None:
            sql += " LIMIT ?"
            params.append(size + 1)
        with self._store._use() as conn:
            rows = conn.execute(sql, params).fetchall()
        return page_of(rows, size, TIMELINE_TAG, self._decode_rows)
