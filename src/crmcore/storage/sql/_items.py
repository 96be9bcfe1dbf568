"""Opportunities, tasks and support cases in SQL: a table of documents and filter columns,
and a members table for the set-valued fields (tags, contacts)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, func, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

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
from crmcore.storage.sql._connection import (
    Handle,
    copy_rows,
    delete_versioned,
    fetch_docs,
    is_id_collision,
    update_versioned,
)
from crmcore.storage.sql._records import page_query, sql_conditions


class SQLItems(DatabaseItems[W, IdT]):
    """One kind of work item in a SQL database (a table and its members table)."""

    _store: Handle

    def __init__(self, store: Handle, layout: ItemTable[W], table: Table, members: Table) -> None:
        super().__init__(store, layout)
        self._table = table
        self._member_table = members
        self._pkey = f"{table.name}_pkey"
        self._names = (*layout.stored_columns(), "version", "doc")
        self._insert_rows = insert(table)
        self._insert_members = insert(members)
        t = table
        self._get = select(t.c.doc).where(t.c.id == bindparam("id"))
        self._get_many = select(t.c.id, t.c.doc).where(t.c.id.in_(bindparam("ids", expanding=True)))

    # ------------------------------------------------------------------ internals

    def _prepare(self, item: W) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
        """The table row of ``item`` (by column name) and its members table rows."""
        values, members = self._layout.rows(item)
        values.extend((item.version, self._store._doc_in(to_json(item))))
        return dict(zip(self._names, values, strict=True)), members

    def _decode_rows(self, rows: Iterable[Sequence[Any]]) -> builtins.list[W]:
        cls: Any = self._layout.kind.cls
        out = self._store._doc_out
        try:
            return [self._store._decode(cls, out(row[-1])) for row in rows]
        except ValidationError as exc:
            raise self._errors.unreadable() from exc

    def _where(self, conditions: Iterable[Condition]) -> list[ColumnElement[bool]]:
        t, m = self._table, self._member_table

        def member(c: Condition) -> ColumnElement[bool]:
            found = select(m.c.item_id).where(m.c.field == c.field, m.c.value == c.value)
            return t.c.id.in_(found)

        return sql_conditions(conditions, t, self._layout.columns, member)

    def _write_members(
        self, conn: Connection, rows: Sequence[tuple[str, str, str]], bulk: bool
    ) -> None:
        if not rows:
            return
        if bulk:
            copy_rows(conn, self._member_table, ("field", "value", "item_id"), rows)
        else:
            conn.execute(
                self._insert_members, [{"field": f, "value": v, "item_id": i} for f, v, i in rows]
            )

    def _drop_members(self, conn: Connection, item_id: str) -> None:
        m = self._member_table
        conn.execute(delete(m).where(m.c.item_id == item_id))

    # ------------------------------------------------------------------ writes

    def _insert_batch(self, conn: Connection, batch: Sequence[W]) -> None:
        rows = []
        members: list[tuple[str, str, str]] = []
        for item in batch:
            row, entries = self._prepare(item)
            rows.append(row)
            members.extend(entries)
        bulk = self._store._copy and len(rows) > 1
        try:
            if bulk:
                copy_rows(conn, self._table, self._names, [tuple(r.values()) for r in rows])
            else:
                conn.execute(self._insert_rows, rows)
        except sa_exc.IntegrityError as exc:
            if is_id_collision(exc, self._table.name, self._pkey):
                raise self._errors.duplicate() from None
            raise
        self._write_members(conn, members, bulk)

    def _place(self, conn: Connection, item: W) -> None:
        """Store ``item`` as it is (version and timestamps kept), replacing its id's row."""
        t = self._table
        row, members = self._prepare(item)
        conn.execute(delete(t).where(t.c.id == item.id))
        self._drop_members(conn, item.id)
        conn.execute(self._insert_rows, [row])
        self._write_members(conn, members, False)

    def _rewrite(self, conn: Connection, item: W, stored: W) -> None:
        row, members = self._prepare(stored)
        del row["id"]
        update_versioned(conn, self._table, self._errors, item, row)
        self._drop_members(conn, item.id)
        self._write_members(conn, members, False)

    def _remove(self, conn: Connection, item_id: str, expected: int | None) -> None:
        delete_versioned(conn, self._table, self._errors, item_id, expected)
        self._drop_members(conn, item_id)

    # ------------------------------------------------------------------ reads

    def _doc_row(self, conn: Connection, item_id: str) -> Sequence[Any] | None:
        return conn.execute(self._get, {"id": item_id}).first()

    def _fetch(self, ids: builtins.list[str]) -> dict[str, W]:
        with self._store._use() as conn:
            rows = fetch_docs(conn, self._get_many, ids)
        return self._by_id(rows)

    def _count(self, conditions: Sequence[Condition]) -> int:
        query = select(func.count()).select_from(self._table).where(*self._where(conditions))
        with self._store._use() as conn:
            return int(conn.execute(query).scalar_one())

    def _list(self, q: ListQuery) -> Page[W]:
        query = page_query(self._table, self._where(q.conditions), q)
        with self._store._use() as conn:
            rows = conn.execute(query).all()
        return page_of(rows, q.size, q.tag, self._decode_rows)

    # ------------------------------------------------------------------ totals

    def _grouped(
        self, conditions: Sequence[Condition], by: tuple[str, ...], *values: Any
    ) -> Select[Any]:
        """``SELECT <by>, currency, <values>`` over the items meeting ``conditions``."""
        # ``by`` was checked against the allow-list of totals: column names only.
        keys = [self._table.c[name] for name in (*by, "currency")]
        return select(*keys, *values).where(*self._where(conditions))

    def _sums(self, conditions: Sequence[Condition], by: tuple[str, ...]) -> list[SumRow]:
        t = self._table
        query = self._grouped(
            conditions,
            by,
            func.count(),
            # PostgreSQL sums bigints as numeric: exact, never an overflow.
            func.sum(t.c.amount_units),
            func.count(t.c.currency) - func.count(t.c.amount_units),
            func.min(t.c.amount_exp),
        ).group_by(*(t.c[name] for name in (*by, "currency")))
        with self._store._use() as conn:
            try:
                return [tuple(row) for row in conn.execute(query).all()]
            except sa_exc.OperationalError as exc:
                if "integer overflow" in str(exc.orig):
                    raise SumOverflow from None
                raise

    def _amounts(
        self, conditions: Sequence[Condition], by: tuple[str, ...], unscaled: bool
    ) -> list[AmountRow]:
        t = self._table
        query = self._grouped(conditions, by, t.c.amount)
        if unscaled:
            query = query.where(t.c.currency.is_not(None), t.c.amount_units.is_(None))
        with self._store._use() as conn:
            return [tuple(row) for row in conn.execute(query).all()]


class SQLOpportunities(SQLItems[Opportunity, OpportunityId], DatabaseOpportunities):
    """The opportunities of a :class:`~crmcore.storage.sql.SQLStore`, with ``totals``."""
