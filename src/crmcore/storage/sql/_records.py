"""Customers and leads in SQL: a table of documents and indexed columns, and a key table."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
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

from crmcore._validation import items_of, utcnow
from crmcore.customers import Customer
from crmcore.errors import ValidationError
from crmcore.serialization import to_json
from crmcore.storage._common import (
    FLAG_EMAIL,
    FLAG_IDENTIFIER,
    FLAG_KEY,
    FLAG_PHONE,
    IDENTIFIER_SEPARATOR,
    Condition,
    FieldSpec,
    compile_filters,
    identifier_index_key,
    is_unicode,
    lookup_flags,
    stamped,
)
from crmcore.storage._front import (
    IdT,
    ListQuery,
    R,
    TypedRecords,
    check_batch_size,
    check_expected_version,
    check_keys,
    check_limit,
    get_many_of,
    page_of,
    resolve_chain,
)
from crmcore.storage.keys import email_key, identifier_key, phone_key
from crmcore.storage.protocols import Filter, Op, Page
from crmcore.storage.sql._connection import (
    ADD_CHUNK,
    CHUNK,
    LONG_KEY,
    Handle,
    chunks,
    copy_rows,
    is_id_collision,
    stored_key,
)
from crmcore.values import EmailAddress, PhoneNumber

FLAG_TAG: Final = 16
"""A key-table row standing for a tag (``list(where("tags").contains(...))``)."""
TAG_PREFIX: Final = "tag:"


class SQLRecords(TypedRecords[R, IdT]):
    """Customers or leads in a SQL database (SQLAlchemy Core)."""

    def __init__(
        self,
        store: Handle,
        cls: type[R],
        entity: str,
        table: Table,
        keys: Table,
        fields: Mapping[str, FieldSpec],
        columns: Sequence[str],
        row: Callable[[R], dict[str, Any]],
    ) -> None:
        super().__init__(cls, entity, fields, row)
        self._store = store
        self._table = table
        self._key_table = keys
        self._columns = tuple(columns)
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

    def add(self, record: R) -> R:
        """See :meth:`crmcore.storage.RecordRepository.add`."""
        self._check(record)
        with self._store._write() as conn:
            return self._insert_batch(conn, [record], utcnow())[0]

    def add_many(self, records: Iterable[R]) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.add_many`."""
        batch = [
            self._check(r, f"records[{i}]") for i, r in enumerate(items_of(records, "records"))
        ]
        result: list[R] = []
        with self._store._write() as conn:
            now = utcnow()
            for chunk in chunks(batch, ADD_CHUNK):
                result.extend(self._insert_batch(conn, chunk, now))
        return result

    def _check_version(self, conn: Connection, record_id: str, expected: int | None) -> None:
        t = self._table
        found = conn.execute(select(t.c.version).where(t.c.id == record_id)).first()
        self._errors.check_version(None if found is None else int(found[0]), expected)

    def _drop_keys(self, conn: Connection, record_id: str) -> None:
        k = self._key_table
        conn.execute(delete(k).where(k.c.record_id == record_id))

    def update(self, record: R) -> R:
        """See :meth:`crmcore.storage.RecordRepository.update`."""
        self._check(record)
        stored = stamped(record, record.version + 1, utcnow())
        row = self._prepare(stored)
        del row["id"]
        t = self._table
        with self._store._write() as conn:
            # Compare-and-set: the row changes only if nobody wrote it since it was read.
            done = conn.execute(
                t.update().where(t.c.id == record.id, t.c.version == record.version).values(row)
            )
            if done.rowcount != 1:
                self._check_version(conn, record.id, record.version)
            self._drop_keys(conn, record.id)
            self._write_keys(conn, self._key_rows(stored), False)
        return stored

    def delete(self, record_id: str, *, expected_version: int | None = None) -> None:
        """See :meth:`crmcore.storage.RecordRepository.delete`."""
        expected = check_expected_version(expected_version)
        if not isinstance(record_id, str) or not is_unicode(record_id):
            raise self._errors.not_found()
        t = self._table
        with self._store._write() as conn:
            where = t.c.id == record_id
            if expected is not None:
                where = and_(where, t.c.version == expected)
            if conn.execute(delete(t).where(where)).rowcount != 1:
                self._check_version(conn, record_id, expected)
            self._drop_keys(conn, record_id)

    # ------------------------------------------------------------------ reads

    def get(self, record_id: str) -> R:
        """See :meth:`crmcore.storage.RecordRepository.get`."""
        if not isinstance(record_id, str) or not is_unicode(record_id):
            raise self._errors.not_found()
        with self._store._use() as conn:
            row = conn.execute(self._get, {"id": record_id}).first()
        return self._decode_rows([self._errors.found(row)])[0]

    def resolve(self, record_id: str) -> R:
        """See :meth:`crmcore.storage.RecordRepository.resolve`."""
        return resolve_chain(self.get, record_id)

    def get_many(self, record_ids: Iterable[str]) -> dict[IdT, R]:
        """See :meth:`crmcore.storage.RecordRepository.get_many`."""
        return get_many_of(record_ids, "record_ids", self._fetch)

    def _fetch(self, ids: builtins.list[str]) -> dict[str, R]:
        rows: list[Sequence[Any]] = []
        with self._store._use() as conn:
            for chunk in chunks(ids):
                rows.extend(conn.execute(self._get_many, {"ids": list(chunk)}).all())
        return {row[0]: record for row, record in zip(rows, self._decode_rows(rows), strict=True)}

    def _conditions(self, conditions: Iterable[Condition]) -> list[ColumnElement[bool]]:
        """Checked conditions as SQL: column names come from the allow-list only."""
        t, k = self._table, self._key_table
        parts: list[ColumnElement[bool]] = []
        for c in conditions:
            if c.op is Op.CONTAINS:
                tagged = select(k.c.record_id).where(
                    k.c.key == stored_key(TAG_PREFIX + c.value), k.c.kinds.op("&")(FLAG_TAG) != 0
                )
                parts.append(t.c.id.in_(tagged))
                continue
            if c.field not in self._columns:
                raise ValidationError("filters", "names a field this store cannot filter on")
            col = t.c[c.field]
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

    def count(self, *filters: Filter) -> int:
        """See :meth:`crmcore.storage.RecordRepository.count`."""
        parts = self._conditions(compile_filters(self._fields, filters))
        query = select(func.count()).select_from(self._table).where(*parts)
        with self._store._use() as conn:
            return int(conn.execute(query).scalar_one())

    def _list(self, q: ListQuery) -> Page[R]:
        t = self._table
        parts = self._conditions(q.conditions)
        order = t.c[q.order_by]
        if q.after is not None:
            value, last_id = q.after
            if q.order_by == "id":
                parts.append(t.c.id < last_id if q.descending else t.c.id > last_id)
            else:
                pair, after = tuple_(order, t.c.id), tuple_(value, last_id)
                parts.append(pair < after if q.descending else pair > after)
        keys = [order] if q.order_by == "id" else [order, t.c.id]
        query = (
            select(order, t.c.id, t.c.doc)
            .where(*parts)
            .order_by(*(key.desc() if q.descending else key.asc() for key in keys))
            .limit(q.size + 1)
        )
        with self._store._use() as conn:
            rows = conn.execute(query).all()
        return page_of(rows, q.size, q.tag, self._decode_rows)

    def iter_all(self, *, batch_size: int = 500) -> Iterator[R]:
        """See :meth:`crmcore.storage.RecordRepository.iter_all`."""
        size = check_batch_size(batch_size)
        cursor = None
        while True:
            page = self.list(limit=size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _lookup_docs(self, flag: int, key: str) -> builtins.list[R]:
        with self._store._use() as conn:
            rows = conn.execute(self._by_key, {"key": stored_key(key), "flag": flag}).all()
        return self._decode_rows(rows)

    def find_by_email(self, email: EmailAddress | str) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_email`."""
        match_key = EmailAddress.parse(email, field="email").match_key
        return self._lookup_docs(FLAG_EMAIL, email_key(match_key))

    def find_by_phone(
        self, phone: PhoneNumber | str, region: str | None = None
    ) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_phone`."""
        e164 = PhoneNumber.parse(phone, region, field="phone").e164
        return self._lookup_docs(FLAG_PHONE, phone_key(e164))

    def find_by_identifier(self, scheme: str, value: str) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_identifier`."""
        scheme, _, folded = identifier_index_key(scheme, value).partition(IDENTIFIER_SEPARATOR)
        found = self._lookup_docs(FLAG_IDENTIFIER, identifier_key(scheme, folded))
        # "id:a:b:c" is both (a, b:c) and (a:b, c), and a long key is a digest:
        # keep the records that really match.
        return [r for r in found if isinstance(r, Customer) and r.identifiers.get(scheme) == folded]

    def find_by_keys(self, keys: Iterable[str], *, limit: int | None = None) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_keys`."""
        wanted = check_keys(keys)
        size = check_limit(limit, optional=True)
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
        chosen = sorted(ids)
        if size is not None:
            chosen = chosen[:size]
        # Read the documents in one go; a record deleted in between is simply left out.
        return list(self.get_many(chosen).values())
