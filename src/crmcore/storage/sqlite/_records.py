"""Customers and leads in SQLite: a table of documents and indexed columns, and a lookup table."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from crmcore.errors import ValidationError
from crmcore.serialization import to_json
from crmcore.storage._common import FLAG_KEY, Condition, lookup_flags, stamped
from crmcore.storage._database import ADD_CHUNK, DatabaseRecords, RecordKind
from crmcore.storage._front import IdT, ListQuery, R, page_of
from crmcore.storage.protocols import Op, Page
from crmcore.storage.sqlite._connection import (
    Handle,
    chunks,
    fetch_doc,
    fetch_docs,
    insert_batch,
    placeholders,
)

TAG_SEPARATOR: Final = "\x1f"  # tags are clean text: no control characters


def _tags_text(tags: frozenset[str]) -> str:
    if not tags:
        return ""
    return TAG_SEPARATOR + TAG_SEPARATOR.join(sorted(tags)) + TAG_SEPARATOR


def _sql_conditions(
    conditions: Iterable[Condition],
    table: str,
    columns: Iterable[str],
    members: str | None = None,
) -> tuple[list[str], list[Any]]:
    """Turn checked conditions into SQL: column names come from the allow-list only.

    A ``CONTAINS`` is a search of the ``members`` table (``field``, ``value``,
    ``item_id``) when there is one, else of the records' ``tags`` text.
    """
    allowed = set(columns)
    parts: list[str] = []
    params: list[Any] = []
    for c in conditions:
        if c.op is Op.CONTAINS:
            if members is None:
                parts.append(f"instr({table}.tags, ?) > 0")
                params.append(f"{TAG_SEPARATOR}{c.value}{TAG_SEPARATOR}")
            else:
                parts.append(
                    f"{table}.id IN (SELECT item_id FROM {members} WHERE field = ? AND value = ?)"
                )
                params.extend((c.field, c.value))
            continue
        if c.field not in allowed:
            raise ValidationError("filters", "names a field this store cannot filter on")
        col = f"{table}.{c.field}"
        if c.op is Op.EQ:
            if c.value is None:
                parts.append(f"{col} IS NULL")
            else:
                parts.append(f"{col} = ?")
                params.append(c.value)
        elif c.op is Op.IN:
            if not c.value:
                parts.append("0")
            else:
                parts.append(f"{col} IN ({placeholders(len(c.value))})")
                params.extend(c.value)
        elif c.op is Op.RANGE:
            low, high = c.value
            parts.append(f"{col} IS NOT NULL")
            if low is not None:
                parts.append(f"{col} >= ?")
                params.append(low)
            if high is not None:
                parts.append(f"{col} < ?")
                params.append(high)
        else:  # PREFIX
            parts.append(f"substr({col}, 1, ?) = ?")
            params.extend((len(c.value), c.value))
    return parts, params


def page_sql(
    table: str, parts: list[str], params: list[Any], q: ListQuery
) -> tuple[str, list[Any]]:
    """The keyset query of one page: ``(sort value, id, doc)`` rows, ``q.size + 1`` of them.

    ``parts`` and ``params`` are the page's conditions (they are extended).
    """
    direction = "DESC" if q.descending else "ASC"
    if q.after is not None:
        compare = "<" if q.descending else ">"
        value, last_id = q.after
        if q.order_by == "id":
            parts.append(f"{table}.id {compare} ?")
            params.append(last_id)
        else:
            parts.append(f"({table}.{q.order_by}, {table}.id) {compare} (?, ?)")
            params.extend((value, last_id))
    sql = f"SELECT {table}.{q.order_by}, {table}.id, doc FROM {table}"
    if parts:
        sql += " WHERE " + " AND ".join(parts)
    if q.order_by == "id":
        sql += f" ORDER BY {table}.id {direction} LIMIT ?"
    else:
        sql += f" ORDER BY {table}.{q.order_by} {direction}, {table}.id {direction} LIMIT ?"
    params.append(q.size + 1)
    return sql, params


class SQLRecords(DatabaseRecords[R, IdT]):
    """Customers or leads in SQLite."""

    _store: Handle

    def __init__(self, store: Handle, kind: RecordKind[R], table: str, lookup: str) -> None:
        super().__init__(store, kind)
        self._table = table
        self._lookup = lookup
        names = (*self._columns, "tags", "version", "doc")
        self._insert_sql = (
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders(len(names))})"
        )
        sets = ", ".join(f"{c} = ?" for c in names[1:])
        self._update_sql = f"UPDATE {table} SET {sets} WHERE id = ?"
        self._lookup_sql = f"INSERT INTO {lookup} (key, record_id, kinds) VALUES (?, ?, ?)"
        self._unlookup_sql = f"DELETE FROM {lookup} WHERE key = ? AND record_id = ?"

    # ------------------------------------------------------------------ internals

    def _lookups(self, record: R) -> list[tuple[str, str, int]]:
        rid: str = record.id
        return [(key, rid, kinds) for key, kinds in lookup_flags(record, self._store._keys).items()]

    def _prepare(self, record: R) -> tuple[tuple[Any, ...], list[tuple[str, str, int]]]:
        """The table row of a record (every column, in ``_insert_sql`` order) and its lookups."""
        lookups = self._lookups(record)
        row = self._row(record)
        return (
            *[row[c] for c in self._columns],
            _tags_text(record.tags),
            record.version,
            to_json(record),
        ), lookups

    def _unlookup(self, conn: sqlite3.Connection, doc: str) -> None:
        """Delete the lookup rows of a stored document (the key function must be pure)."""
        old = self._decode_rows([(doc,)])[0]
        conn.executemany(self._unlookup_sql, [(k, rid) for k, rid, _ in self._lookups(old)])

    def _decode_rows(self, rows: Iterable[Sequence[Any]]) -> builtins.list[R]:
        cls: Any = self._cls
        try:
            return [self._store._decode(cls, row[-1]) for row in rows]
        except ValidationError as exc:
            raise self._errors.unreadable() from exc

    def _insert_batch(self, conn: sqlite3.Connection, batch: Sequence[R], now: datetime) -> list[R]:
        stored = [stamped(r, 1, now) for r in batch]
        prepared = map(self._prepare, stored)
        sql = (self._insert_sql, self._lookup_sql)
        insert_batch(conn, prepared, sql, self._table, self._errors.duplicate)
        return stored

    def _place(self, conn: sqlite3.Connection, record: R) -> None:
        """Store ``record`` as it is (version and timestamps kept), replacing its id's row."""
        found = conn.execute(f"SELECT doc FROM {self._table} WHERE id = ?", (record.id,)).fetchone()
        if found is not None:
            self._unlookup(conn, found[0])
            conn.execute(f"DELETE FROM {self._table} WHERE id = ?", (record.id,))
        row, lookups = self._prepare(record)
        conn.execute(self._insert_sql, row)
        conn.executemany(self._lookup_sql, lookups)

    def _rebuild_keys(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"DELETE FROM {self._lookup}")
        last = ""
        while True:
            rows = conn.execute(
                f"SELECT id, doc FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?",
                (last, ADD_CHUNK),
            ).fetchall()
            if not rows:
                return
            conn.executemany(
                self._lookup_sql,
                [entry for record in self._decode_rows(rows) for entry in self._lookups(record)],
            )
            last = rows[-1][0]

    # ------------------------------------------------------------------ writes

    def _current(self, conn: sqlite3.Connection, record_id: str) -> tuple[int, str]:
        found = conn.execute(
            f"SELECT version, doc FROM {self._table} WHERE id = ?", (record_id,)
        ).fetchone()
        found = self._errors.found(found)
        return int(found[0]), str(found[1])

    def _rewrite(self, conn: sqlite3.Connection, record: R, stored: R) -> None:
        row, lookups = self._prepare(stored)
        version, old_doc = self._current(conn, record.id)
        self._errors.check_version(version, record.version)
        conn.execute(self._update_sql, (*row[1:], record.id))
        self._unlookup(conn, old_doc)
        conn.executemany(self._lookup_sql, lookups)

    def _remove(self, conn: sqlite3.Connection, record_id: str, expected: int | None) -> None:
        version, old_doc = self._current(conn, record_id)
        self._errors.check_version(version, expected)
        conn.execute(f"DELETE FROM {self._table} WHERE id = ?", (record_id,))
        self._unlookup(conn, old_doc)

    # ------------------------------------------------------------------ reads

    def _doc_row(self, conn: sqlite3.Connection, record_id: str) -> tuple[Any, ...] | None:
        return fetch_doc(conn, self._table, record_id)

    def _fetch(self, ids: builtins.list[str]) -> dict[str, R]:
        with self._store._use() as conn:
            rows = list(fetch_docs(conn, self._table, ids))
        return self._by_id(rows)

    def _count(self, conditions: Sequence[Condition]) -> int:
        parts, params = _sql_conditions(conditions, self._table, self._columns)
        sql = f"SELECT COUNT(*) FROM {self._table}"
        if parts:
            sql += " WHERE " + " AND ".join(parts)
        with self._store._use() as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    def _list(self, q: ListQuery) -> Page[R]:
        parts, params = _sql_conditions(q.conditions, self._table, self._columns)
        sql, params = page_sql(self._table, parts, params, q)
        with self._store._use() as conn:
            rows = conn.execute(sql, params).fetchall()
        return page_of(rows, q.size, q.tag, self._decode_rows)

    def _lookup_docs(self, flag: int, key: str) -> builtins.list[R]:
        with self._store._use() as conn:
            rows = conn.execute(
                f"SELECT r.doc FROM {self._lookup} l JOIN {self._table} r ON r.id = l.record_id "
                "WHERE l.key = ? AND l.kinds & ? ORDER BY l.record_id",
                (key, flag),
            ).fetchall()
        return self._decode_rows(rows)

    def _key_matches(self, wanted: builtins.list[str], size: int | None) -> builtins.list[R]:
        ids: set[str] = set()
        with self._store._use() as conn:
            for chunk in chunks(wanted):
                rows = conn.execute(
                    f"SELECT DISTINCT record_id FROM {self._lookup} "
                    f"WHERE key IN ({placeholders(len(chunk))}) AND kinds & {FLAG_KEY}",
                    tuple(chunk),
                ).fetchall()
                ids.update(r[0] for r in rows)
        return self._first_of(ids, size)
