"""The SQL store's driver layer: error translation, documents PostgreSQL can hold, engines."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Final, Protocol, TypeVar

from sqlalchemy import Table, and_, delete, event, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from crmcore.audit import AuditAction, AuditTarget
from crmcore.errors import DataError, IntegrityError, OperationalError, StorageError
from crmcore.storage._front import Errors
from crmcore.storage.keys import KeyFunction
from crmcore.storage.sqlite._connection import Decoder
from crmcore.storage.sqlite._connection import translate as translate_sqlite

T = TypeVar("T")

CHUNK: Final = 500
"""Ids or rows per statement: well under every driver's parameter limit."""

# PostgreSQL's SQLSTATE classes (the first two characters) and codes that mean
# "not now" rather than "never": connection trouble, resources, lock waits and
# serialisation failures, an administrator's shutdown. Worth retrying.
_TRANSIENT_CLASSES: Final = frozenset({"08", "53", "57", "58", "40"})
_TRANSIENT_CODES: Final = frozenset({"55P03", "55006", "25P03"})


def _sqlstate(exc: BaseException) -> str | None:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return code if isinstance(code, str) and len(code) == 5 else None


def translate(exc: sa_exc.SQLAlchemyError) -> StorageError:
    """The crmcore error for a SQLAlchemy or driver error (the caller chains ``exc``).

    On PostgreSQL by SQLSTATE: connection failures, lack of resources,
    cancelled statements, lock timeouts, deadlocks and serialisation failures
    are :class:`~crmcore.OperationalError` (retry); integrity violations
    (class 23) are :class:`~crmcore.IntegrityError`; data exceptions and
    corruption (classes 22, XX) are :class:`~crmcore.DataError`. SQLite's
    errors are translated as :class:`~crmcore.storage.SQLiteStore` does. A
    pool that stayed exhausted, or a connection that went away, is an
    ``OperationalError``; anything else (a missing table, a bad statement) a
    plain ``StorageError``.
    """
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.Error):
        return translate_sqlite(orig)
    code = None if orig is None else _sqlstate(orig)
    if code is not None:
        if code[:2] in _TRANSIENT_CLASSES or code in _TRANSIENT_CODES:
            return OperationalError(f"the database cannot do this now (SQLSTATE {code})")
        if code[:2] == "23":
            return IntegrityError(f"the database refused a write (SQLSTATE {code})")
        if code[:2] in ("22", "XX"):
            return DataError(f"the database refused or cannot read a value (SQLSTATE {code})")
        if code == "42P01":
            return StorageError("the crmcore tables are missing: call SQLStore.create_all()")
        return StorageError(f"the database failed (SQLSTATE {code})")
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return OperationalError("no database connection could be had in time")
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return OperationalError("the database cannot do this now")
    if isinstance(exc, sa_exc.IntegrityError):
        return IntegrityError("the database refused a write (an integrity constraint)")
    if isinstance(exc, sa_exc.DataError):
        return DataError("the database refused or cannot read a value")
    return StorageError(f"the database failed ({type(exc).__name__})")


def is_id_collision(exc: sa_exc.IntegrityError, table: str, constraint: str) -> bool:
    """Whether an integrity error is a second row with the same primary key."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name is not None:
        return bool(name == constraint)
    text = str(orig)
    return "UNIQUE" in text and f"{table}.id" in text


# PostgreSQL's text and jsonb cannot hold U+0000, which notes and custom fields
# may. A document holding it is stored with every U+0000 written as MARK + "0",
# and every MARK (a private-use character) as MARK + "1": reversible for any text.
MARK: Final = "\ue000"
_ESCAPED: Final = re.compile(MARK + "([01])")


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    if isinstance(value, dict):
        return {change(k): _walk(v, change) for k, v in value.items()}
    return value


def _hide(text: str) -> str:
    return text.replace(MARK, MARK + "1").replace("\x00", MARK + "0")


def _show(text: str) -> str:
    return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "0" else MARK, text)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# jsonb keeps a number as numeric: 1e+16, a float, would come back as the integer
# 10000000000000000. Written out in plain decimals with a point, it stays a float.
_EXPONENT: Final = re.compile(r"\d[eE][-+]?\d")
_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?[eE][-+]?\d+')


def _plain(match: re.Match[str]) -> str:
    token = match.group(0)
    if token[0] == '"':
        return token
    plain = format(Decimal(token), "f")
    return plain if "." in plain else plain + ".0"


def escape_document(doc: str) -> str:
    """A converter document jsonb stores exactly (most documents are returned as they are)."""
    # The converter writes U+0000 as the escape \u0000; a text holding a backslash
    # before "u0000" also matches, and is merely walked for nothing.
    if "\\u0000" in doc or MARK in doc:
        doc = _dumps(_walk(json.loads(doc), _hide))
    # json writes every exponent with a sign: most documents skip the search.
    if ("e+" in doc or "e-" in doc) and _EXPONENT.search(doc) is not None:
        doc = _TOKEN.sub(_plain, doc)
    return doc


def unescape_document(doc: str) -> str:
    """The converter document that :func:`escape_document` stored."""
    if MARK not in doc:
        return doc
    return _dumps(_walk(json.loads(doc), _show))


def lock_ids(namespace: str, keys: Sequence[str]) -> list[int]:
    """Signed 64-bit advisory-lock ids of ``keys`` (within ``namespace``), sorted, distinct."""
    ids = set()
    for key in keys:
        digest = hashlib.blake2b(
            key.encode("utf-8", "surrogatepass"), digest_size=8, person=b"crmcore-lock"
        )
        digest.update(namespace.encode())
        ids.add(int.from_bytes(digest.digest(), "big", signed=True))
    return sorted(ids)


LONG_KEY: Final = 400
"""Keys longer than this many characters are indexed by a digest (a btree row is < 2,704 bytes)."""


def stored_key(key: str) -> str:
    """The form of an index key in a key table: itself, or a digest when it is long."""
    if len(key) <= LONG_KEY:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return "\x1e" + digest


def sqlite_immediate(engine: Engine) -> None:
    """SQLAlchemy's documented pysqlite recipe: real ``BEGIN`` (here ``IMMEDIATE``), savepoints.

    Python's sqlite3 module otherwise begins transactions on its own, late (so
    a transaction holds no write lock until its first write) and breaks
    ``SAVEPOINT``. With this, a transaction holds SQLite's write lock from its
    start: writers queue, and a duplicate check is atomic with its write.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Reads outside a transaction run in autocommit mode: no lock at all.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fetch_docs(conn: Connection, get_many: Any, ids: Sequence[str]) -> list[Sequence[Any]]:
    """The ``(id, doc)`` rows among ``ids``: ``get_many`` binds them as ``ids``, a chunk a time."""
    rows: list[Sequence[Any]] = []
    for chunk in chunks(ids):
        rows.extend(conn.execute(get_many, {"ids": list(chunk)}).all())
    return rows


class _Versioned(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...


def check_stored_version(
    conn: Connection, table: Table, errors: Errors, record_id: str, expected: int | None
) -> None:
    """Raise ``NotFound`` or ``VersionConflict`` unless ``record_id`` is stored at ``expected``."""
    found = conn.execute(select(table.c.version).where(table.c.id == record_id)).first()
    errors.check_version(None if found is None else int(found[0]), expected)


def update_versioned(
    conn: Connection, table: Table, errors: Errors, record: _Versioned, row: dict[str, Any]
) -> None:
    """Compare-and-set: write ``row`` only if nobody wrote ``record``'s row since it was read."""
    done = conn.execute(
        table.update().where(table.c.id == record.id, table.c.version == record.version).values(row)
    )
    if done.rowcount != 1:
        check_stored_version(conn, table, errors, record.id, record.version)


def delete_versioned(
    conn: Connection, table: Table, errors: Errors, record_id: str, expected: int | None
) -> None:
    """Delete ``record_id``'s row, at version ``expected`` unless that is None."""
    where = table.c.id == record_id
    if expected is not None:
        where = and_(where, table.c.version == expected)
    if conn.execute(delete(table).where(where)).rowcount != 1:
        check_stored_version(conn, table, errors, record_id, expected)


class Handle(Protocol):
    """What a SQL repository uses of its store."""

    _keys: KeyFunction
    _decode: Decoder
    _postgres: bool
    _copy: bool
    _dialect: str

    def _use(self) -> AbstractContextManager[Connection]: ...

    def _write(self) -> AbstractContextManager[Connection]: ...

    def _doc_in(self, doc: str) -> str: ...

    def _doc_out(self, doc: str) -> str: ...

    def _present(self, conn: Connection, probe: Any, values: Sequence[str]) -> set[str]: ...
    def _report(
        self, conn: Connection, action: AuditAction, targets: Sequence[AuditTarget]
    ) -> None: ...


def copy_rows(
    conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Write ``rows`` (values in ``names``' order) with PostgreSQL's ``COPY``, in ``conn``'s
    transaction, through psycopg.

    Several times faster than an ``executemany`` of inserts, for the big
    batches of ``add_many``. A driver error is raised as SQLAlchemy would
    raise it (``IntegrityError`` for class 23), so callers treat both alike.
    """
    from psycopg import sql

    target = (
        sql.Identifier(table.schema, table.name) if table.schema else sql.Identifier(table.name)
    )
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        target, sql.SQL(", ").join(sql.Identifier(n) for n in names)
    )
    driver: Any = conn.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except Exception as exc:
        code = _sqlstate(exc)
        if code is None:
            raise
        error = sa_exc.IntegrityError if code[:2] == "23" else sa_exc.DBAPIError
        raise error("COPY", None, exc) from exc
