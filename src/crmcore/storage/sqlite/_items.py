"""Opportunities, tasks and support cases in SQLite: a table of documents and filter
columns, and a members table for the set-valued fields (tags, contacts)."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from crmcore.errors import ValidationError
from crmcore.ids import OpportunityId
from crmcore.opportunities import Opportunity
from crmcore.serialization import to_json
from crmcore.storage._common import Condition
from crmcore.storage._database import (
    AmountRow,
    DatabaseItems,
    DatabaseOpportunities,
    ItemTable,
    SumOverflow,
    SumRow,
    W,
)
from crmcore.storage._front import IdT, ListQuery, page_of
from crmcore.storage.protocols import Page
from crmcore.storage.sqlite import _records
from crmcore.storage.sqlite._connection import (
    Handle,
    fetch_doc,
    fetch_docs,
    insert_batch,
    placeholders,
)


class SQLiteItems(DatabaseItems[W, IdT]):
    """One kind of work item in SQLite (tables ``<table>`` and ``<members>``)."""

    _store: Handle

    def __init__(self, store: Handle, layout: ItemTable[W], table: str, members: str) -> None:
        super().__init__(store, layout)
        self._table = table
        self._members = members
        self._names = (*layout.stored_columns(), "version", "doc")
        self._insert_sql = (
            f"INSERT INTO {table} ({', '.join(self._names)}) "
            f"VALUES ({placeholders(len(self._names))})"
        )
        sets = ", ".join(f"{c} = ?" for c in self._names[1:])
        self._update_sql = f"UPDATE {table} SET {sets} WHERE id = ? AND version = ?"
        self._member_sql = f"INSERT INTO {members} (field, value, item_id) VALUES (?, ?, ?)"
        self._unmember_sql = f"DELETE FROM {members} WHERE item_id = ?"

    # ------------------------------------------------------------------ internals

    def _prepare(self, item: W) -> tuple[tuple[Any, ...], list[tuple[str, str, str]]]:
        """The table row of ``item`` (every column, in ``_insert_sql`` order), its members."""
        values, members = self._layout.rows(item)
        return (*values, item.version, to_json(item)), members

    def _decode_rows(self, rows: Iterable[Sequence[Any]]) -> builtins.list[W]:
        cls: Any = self._kind.cls
        try:
            return [self._store._decode(cls, row[-1]) for row in rows]
        except ValidationError as exc:
            raise self._errors.unreadable() from exc

    def _where(self, conditions: Iterable[Condition]) -> tuple[list[str], list[Any]]:
        # Through the module: a test swaps the translation to see the kit catch a wrong one.
        columns = self._layout.columns
        return _records._sql_conditions(conditions, self._table, columns, self._members)

    # ------------------------------------------------------------------ writes

    def _insert_batch(self, conn: sqlite3.Connection, batch: Sequence[W]) -> None:
        prepared = map(self._prepare, batch)
        sql = (self._insert_sql, self._member_sql)
        insert_batch(conn, prepared, sql, self._table, self._errors.duplicate)

    def _place(self, conn: sqlite3.Connection, item: W) -> None:
        """Store ``item`` as it is (version and timestamps kept), replacing its id's row."""
        row, members = self._prepare(item)
        conn.execute(f"DELETE FROM {self._table} WHERE id = ?", (item.id,))
        conn.execute(self._unmember_sql, (item.id,))
        conn.execute(self._insert_sql, row)
        conn.executemany(self._member_sql, members)

    def _rewrite(self, conn: sqlite3.Connection, item: W, stored: W) -> None:
        row, members = self._prepare(stored)
        cursor = conn.execute(self._update_sql, (*row[1:], item.id, item.version))
        if cursor.rowcount != 1:
            self._check_version(conn, item.id, item.version)
        conn.execute(self._unmember_sql, (item.id,))
        conn.executemany(self._member_sql, members)

    def _remove(self, conn: sqlite3.Connection, item_id: str, expected: int | None) -> None:
        self._check_version(conn, item_id, expected)
        conn.execute(f"DELETE FROM {self._table} WHERE id = ?", (item_id,))
        conn.execute(self._unmember_sql, (item_id,))

    def _check_version(self, conn: sqlite3.Connection, item_id: str, expected: int | None) -> None:
        """Raise ``NotFound`` or ``VersionConflict`` unless the stored version is ``expected``."""
        found = conn.execute(
            f"SELECT version FROM {self._table} WHERE id = ?", (item_id,)
        ).fetchone()
        self._errors.check_version(None if found is None else int(found[0]), expected)

    # ------------------------------------------------------------------ reads

    def _doc_row(self, conn: sqlite3.Connection, item_id: str) -> tuple[Any, ...] | None:
        return fetch_doc(conn, self._table, item_id)

    def _fetch(self, ids: builtins.list[str]) -> dict[str, W]:
        with self._store._use() as conn:
            rows = list(fetch_docs(conn, self._table, ids))
        return self._by_id(rows)

    def _count(self, conditions: Sequence[Condition]) -> int:
        parts, params = self._where(conditions)
        sql = f"SELECT COUNT(*) FROM {self._table}"
        if parts:
            sql += " WHERE " + " AND ".join(parts)
        with self._store._use() as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    def _list(self, q: ListQuery) -> Page[W]:
        parts, params = self._where(q.conditions)
        sql, params = _records.page_sql(self._table, parts, params, q)
        with self._store._use() as conn:
            rows = conn.execute(sql, params).fetchall()
        return page_of(rows, q.size, q.tag, self._decode_rows)

    # ------------------------------------------------------------------ totals

    def _grouped(
        self, select: str, conditions: Sequence[Condition], by: tuple[str, ...], extra: str = ""
    ) -> tuple[str, list[Any]]:
        """``SELECT <by>, currency, <select>`` over the items meeting ``conditions``."""
        # ``by`` was checked against the allow-list of totals: column names only.
        keys = ", ".join(f"{self._table}.{c}" for c in (*by, "currency"))
        parts, params = self._where(conditions)
        if extra:
            parts.append(extra)
        sql = f"SELECT {keys}, {select} FROM {self._table}"
        if parts:
            sql += " WHERE " + " AND ".join(parts)
        return sql, params

    def _sums(self, conditions: Sequence[Condition], by: tuple[str, ...]) -> list[SumRow]:
        keys = ", ".join(f"{self._table}.{c}" for c in (*by, "currency"))
        sql, params = self._grouped(
            "COUNT(*), SUM(amount_units), COUNT(currency) - COUNT(amount_units), MIN(amount_exp)",
            conditions,
            by,
        )
        with self._store._use() as conn:
            try:
                return conn.execute(f"{sql} GROUP BY {keys}", params).fetchall()
            except sqlite3.OperationalError as exc:
                if "integer overflow" in str(exc):
                    raise SumOverflow from None
                raise

    def _amounts(
        self, conditions: Sequence[Condition], by: tuple[str, ...], unscaled: bool
    ) -> Iterator[AmountRow]:
        extra = "currency IS NOT NULL AND amount_units IS NULL" if unscaled else ""
        sql, params = self._grouped("amount", conditions, by, extra)
        with self._store._use() as conn:
            rows = conn.execute(sql, params).fetchall()
        return iter(rows)


class SQLiteOpportunities(SQLiteItems[Opportunity, OpportunityId], DatabaseOpportunities):
    """The opportunities of a :class:`~crmcore.storage.SQLiteStore`, with ``totals``."""
