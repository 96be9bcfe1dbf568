"""Customers and leads in SQL: a table of documents and indexed columns, and a key table."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    delete,
    false,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from crmcore.errors import ValidationError
from crmcore.serialization import to_json
from crmcore.storage._common import FLAG_KEY, Condition, lookup_flags, stamped
from crmcore.storage._database import ADD_CHUNK, DatabaseRecords, RecordKind
from crmcore.storage._front import IdT, ListQuery, R, page_of
from crmcore.storage.protocols import Op, Page
from crmcore.storage.sql._connection import (
    CHUNK,
    LONG_KEY,
    Handle,
    chunks,
    copy_rows,
    delete_versioned,
    fetch_docs,
    is_id_collision,
    stored_key,
    update_versioned,
)

FLAG_TAG: Final = 16
"""A key-table row standing for a tag (``list(where("tags").contains(...))``)."""
TAG_PREFIX: Final = "tag:"


def sql_conditions(
    conditions: Iterable[Condition],
    table: Table,
    columns: Iterable[str],
    contains: Callable[[Condition], ColumnElement[bool]],
) -> list[ColumnElement[bool]]:
    """Checked conditions as SQL: column names come from the allow-list only.

    ``contains`` turns a ``CONTAINS`` condition into SQL (a search of a side table).
    """
    allowed = set(columns)
    parts: list[ColumnElement[bool]] = []
    for c in conditions:
        if c.op is Op.CONTAINS:
            parts.append(contains(c))
            continue
        if c.field not in allowed:
            raise ValidationError("filters", "names a field this store cannot filter on")
        col = table.c[c.field]
        if c.op is Op.EQ:
            parts.append(col.is_(None) if c.value is None else col == c.value)
        elif c.op is Op.IN:
            parts.append(col.in_(c.value) if c.value else false())
        elif c.op is Op.RANGE:
            low, high = c.value
            parts.append(col.is_not(None))
            if low is not None:
                parts.append(col >= low)
            if high is not None:
                parts.append(col < high)
        else:  # PREFIX
            parts.append(func.substr(col, 1, len(c.value)) == c.value)
    return parts


def page_query(table: Table, parts: list[ColumnElement[bool]], q: ListQuery) -> Select[Any]:
    """The keyset query of one page: ``(sort value, id, doc)`` rows, ``q.size + 1`` of them."""
    t = table
    order = t.c[q.order_by]
    if q.after is not None:
        value, last_id = q.after
        if q.order_by == "id":
            parts.append(t.c.id < last_id if q.descending else t.c.id > last_id)
        else:
            pair, after = tuple_(order, t.c.id), tuple_(value, last_id)
            parts.append(pair < after if q.descending else pair > after)
    keys = [order] if q.order_by == "id" else [order, t.c.id]
    return (
        select(order, t.c.id, t.c.doc)
        .where(*parts)
        .order_by(*(key.desc() if q.descending else key.asc() for key in keys))
        .limit(q.size + 1)
    )


class SQLRecords(DatabaseRecords[R, IdT]):
    """Customers or leads in a SQL database (SQLAlchemy Core)."""

    _store: Handle

    def __init__(self, store: Handle, kind: RecordKind[R], table: Table, keys: Table) -> None:
        super().__init__(store, kind)
        self._table = table
        self._key_table = keys
        self._pkey = f"{table.name}_pkey"
        self._insert = insert(table)
        self._insert_keys = insert(keys)
        # The hot reads, built once: building a statement costs more than running it.
        t, k = table, keys
        self._get = select(t.c.doc).where(t.c.id == bindparam("id"))
        self._get_many = select(t.c.id, t.c.doc).where(t.c.id.in_(bindparam("ids", expanding=True)))
        self._by_key = (
            select(t.c.doc)
            .join(k, k.c.record_id == t.c.id)
            .where(k.c.key == bindparam("key"), k.c.kinds.op("&")(bindparam("flag")) != 0)
            .order_by(k.c.record_id)
        )
        self._by_keys = (
            select(k.c.record_id)
            .distinct()
            .where(k.c.key.in_(bindparam("keys", expanding=True)), k.c.kinds.op("&")(FLAG_KEY) != 0)
        )
        # The usual candidate lookup in one round trip: the first ``limit`` ids by
        # key, and their documents.
        first = self._by_keys.order_by(k.c.record_id).limit(bindparam("limit"))
        self._by_keys_docs = select(t.c.id, t.c.doc).where(t.c.id.in_(first)).order_by(t.c.id)

    # ------------------------------------------------------------------ internals

    def _key_rows(self, record: R) -> list[tuple[str, str, int]]:
        """The key table's rows of a record: ``(key, record_id, kinds)``."""
        rid: str = record.id
        found = lookup_flags(record, self._store._keys)
        for tag in record.tags:
            key = TAG_PREFIX + tag
            found[key] = found.get(key, 0) | FLAG_TAG
        if any(len(key) > LONG_KEY for key in found):
            merged: dict[str, int] = {}
            for key, kinds in found.items():
                short = stored_key(key)
                merged[short] = merged.get(short, 0) | kinds
            found = merged
        return [(key, rid, kinds) for key, kinds in found.items()]

    def _write_keys(self, conn: Connection, rows: list[tuple[str, str, int]], bulk: bool) -> None:
        if not rows:
            return
        if bulk:
            copy_rows(conn, self._key_table, ("key", "record_id", "kinds"), rows)
        else:
            conn.execute(
                self._insert_keys, [{"key": k, "record_id": r, "kinds": n} for k, r, n in rows]
            )

    def _prepare(self, record: R) -> dict[str, Any]:
        full = self._row(record)
        row = {c: full[c] for c in self._columns}
        row["version"] = record.version
        row["doc"] = self._store._doc_in(to_json(record))
        return row

    def _decode_rows(self, rows: Iterable[Sequence[Any]]) -> builtins.list[R]:
        cls: Any = self._cls
        out = self._store._doc_out
        try:
            return [self._store._decode(cls, out(row[-1])) for row in rows]
        except ValidationError as exc:
            raise self._errors.unreadable() from exc

    def _insert_batch(self, conn: Connection, batch: Sequence[R], now: datetime) -> list[R]:
        stored = [stamped(r, 1, now) for r in batch]
        rows = [self._prepare(r) for r in stored]
        keys = [entry for r in stored for entry in self._key_rows(r)]
        bulk = self._store._copy and len(rows) > 1
        try:
            if bulk:
                names = tuple(rows[0])
                copy_rows(conn, self._table, names, [tuple(r.values()) for r in rows])
            else:
                conn.execute(self._insert, rows)
        except sa_exc.IntegrityError as exc:
            if is_id_collision(exc, self._table.name, self._pkey):
                raise self._errors.duplicate() from None
            raise
        self._write_keys(conn, keys, bulk)
        return stored

    def _place(self, conn: Connection, record: R) -> None:
        """Store ``record`` as it is (version and timestamps kept), replacing its id's row."""
        t = self._table
        conn.execute(delete(t).where(t.c.id == record.id))
        self._drop_keys(conn, record.id)
        conn.execute(self._insert, [self._prepare(record)])
        self._write_keys(conn, self._key_rows(record), False)

    def _rebuild_keys(self, conn: Connection) -> None:
        t = self._table
        conn.execute(delete(self._key_table))
        last = ""
        while True:
            rows = conn.execute(
                select(t.c.id, t.c.doc).where(t.c.id > last).order_by(t.c.id).limit(ADD_CHUNK)
            ).all()
            if not rows:
                return
            entries = [e for record in self._decode_rows(rows) for e in self._key_rows(record)]
            self._write_keys(conn, entries, self._store._copy)
            last = rows[-1][0]

    # ------------------------------------------------------------------ writes

    def _drop_keys(self, conn: Connection, record_id: str) -> None:
        k = self._key_table
        conn.execute(delete(k).where(k.c.record_id == record_id))

    def _rewrite(self, conn: Connection, record: R, stored: R) -> None:
        row = self._prepare(stored)
        del row["id"]
        update_versioned(conn, self._table, self._errors, record, row)
        self._drop_keys(conn, record.id)
        self._write_keys(conn, self._key_rows(stored), False)

    def _remove(self, conn: Connection, record_id: str, expected: int | None) -> None:
        delete_versioned(conn, self._table, self._errors, record_id, expected)
        self._drop_keys(conn, record_id)

    # ------------------------------------------------------------------ reads

    def _doc_row(self, conn: Connection, record_id: str) -> Sequence[Any] | None:
        return conn.execute(self._get, {"id": record_id}).first()

    def _fetch(self, ids: builtins.list[str]) -> dict[str, R]:
        with self._store._use() as conn:
            rows = fetch_docs(conn, self._get_many, ids)
        return self._by_id(rows)

    def _conditions(self, conditions: Iterable[Condition]) -> list[ColumnElement[bool]]:
        """Checked conditions as SQL; a tag is a search of the key table."""
        t, k = self._table, self._key_table

        def tagged(c: Condition) -> ColumnElement[bool]:
            key = stored_key(TAG_PREFIX + c.value)
            return t.c.id.in_(
                select(k.c.record_id).where(k.c.key == key, k.c.kinds.op("&")(FLAG_TAG) != 0)
            )

        return sql_conditions(conditions, t, self._columns, tagged)

    def _count(self, conditions: Sequence[Condition]) -> int:
        parts = self._conditions(conditions)
        query = select(func.count()).select_from(self._table).where(*parts)
        with self._store._use() as conn:
            return int(conn.execute(query).scalar_one())

    def _list(self, q: ListQuery) -> Page[R]:
        query = page_query(self._table, self._conditions(q.conditions), q)
        with self._store._use() as conn:
            rows = conn.execute(query).all()
        return page_of(rows, q.size, q.tag, self._decode_rows)

    def _lookup_docs(self, flag: int, key: str) -> builtins.list[R]:
        with self._store._use() as conn:
            rows = conn.execute(self._by_key, {"key": stored_key(key), "flag": flag}).all()
        return self._decode_rows(rows)

    def _key_matches(self, wanted: builtins.list[str], size: int | None) -> builtins.list[R]:
        stored = [stored_key(key) for key in wanted]
        if not stored:
            return []
        if size is not None and len(stored) <= CHUNK:
            with self._store._use() as conn:
                rows = conn.execute(self._by_keys_docs, {"keys": stored, "limit": size}).all()
            return self._decode_rows(rows)
        ids: set[str] = set()
        with self._store._use() as conn:
            for chunk in chunks(stored):
                ids.update(r[0] for r in conn.execute(self._by_keys, {"keys": list(chunk)}))
        return self._first_of(ids, size)
