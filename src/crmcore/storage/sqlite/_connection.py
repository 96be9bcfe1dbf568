"""The SQLite connection layer: a connection per thread, decoding, driver errors."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any, Final, Protocol, TypeVar

from crmcore._caches import track
from crmcore.audit import AuditAction, AuditTarget
from crmcore.errors import DataError, IntegrityError, OperationalError, StorageError
from crmcore.serialization import from_json
from crmcore.storage.keys import KeyFunction

T = TypeVar("T")

CHUNK: Final = 500  # ids or rows per statement: well under SQLite's variable limit

CACHED_DOCUMENT_LENGTH: Final = 8_192


class Decoder:
    """Decodes stored documents, caching the small ones, for one store.

    Keyed by the document itself, so a cached record is always what is stored:
    entities are immutable, and the same text always decodes to an equal
    record. The cache belongs to its store and is dropped on ``close()``, so
    customers' data does not outlive the store in a process-wide cache.
    """

    def __init__(self) -> None:
        self._cached = lru_cache(maxsize=4_096)(from_json)
        # An erasure empties every process cache over personal data: this one too.
        track(self)

    def __call__(self, cls: Any, doc: str) -> Any:
        # Only small documents are cached (at most ~60 MB in all): a record's notes
        # alone may be 100,000 characters.
        if len(doc) <= CACHED_DOCUMENT_LENGTH:
            return self._cached(cls, doc)
        return from_json(cls, doc)

    def clear(self) -> None:
        """Forget every cached record."""
        self._cached.cache_clear()

    def clear_cache(self) -> None:
        """Forget every cached record (what :func:`crmcore._caches.clear_all` calls)."""
        self._cached.cache_clear()


# SQLite's primary result codes (the low byte of ``sqlite_errorcode``) that
# mean "not now" rather than "never": worth retrying later.
_TRANSIENT: Final = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
_CORRUPT: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def translate(exc: sqlite3.Error) -> StorageError:
    """The crmcore error for a driver error (the caller chains ``exc`` as the cause).

    Busy, locked, unavailable, read-only, full or failing disks are
    :class:`~crmcore.OperationalError` (worth retrying); a file that is not a
    database or is corrupt is a :class:`~crmcore.DataError`; constraint
    failures that are not id collisions (those the repositories turn into
    ``DuplicateRecord`` first) are :class:`~crmcore.IntegrityError`. Anything
    else (a missing table, a bad statement) is a plain ``StorageError``:
    retrying would not help.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    if primary in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED} or "locked" in text:
        return OperationalError("the database stayed locked longer than the busy timeout")
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError("the database refused a write (an integrity constraint)")
    if primary in _CORRUPT:
        return DataError("the database file is not a database or is corrupt")
    if primary in _TRANSIENT:
        return OperationalError(f"the database cannot do this now ({exc.sqlite_errorname})")
    return StorageError(f"the database failed ({type(exc).__name__})")


class State:
    """One thread's connection and how deep its transactions are nested."""

    __slots__ = ("conn", "depth", "pid")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.depth = 0
        self.pid = os.getpid()


def placeholders(count: int) -> str:
    return ", ".join("?" * count)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fetch_doc(conn: sqlite3.Connection, table: str, row_id: str) -> tuple[Any, ...] | None:
    """The ``(doc,)`` row of ``row_id`` in ``table`` (a constant), if any."""
    found: tuple[Any, ...] | None = conn.execute(
        f"SELECT doc FROM {table} WHERE id = ?", (row_id,)
    ).fetchone()
    return found


def fetch_docs(
    conn: sqlite3.Connection, table: str, ids: Sequence[str]
) -> Iterator[tuple[str, str]]:
    """The ``(id, doc)`` rows of ``table`` among ``ids`` (``table`` is a constant)."""
    for chunk in chunks(ids):
        yield from conn.execute(
            f"SELECT id, doc FROM {table} WHERE id IN ({placeholders(len(chunk))})",
            tuple(chunk),
        ).fetchall()


def insert_batch(
    conn: sqlite3.Connection,
    prepared: Iterable[tuple[Sequence[Any], Iterable[Sequence[Any]]]],
    sql: tuple[str, str],
    table: str,
    duplicate: Callable[[], Exception],
) -> None:
    """Insert a batch: its ``(row, side entries)`` pairs as two ``executemany``.

    ``sql`` is the row insert and the side table's (lookups, members); an id
    already in ``table`` raises ``duplicate()`` and the caller's transaction
    undoes the batch.
    """
    rows = []
    entries: list[Sequence[Any]] = []
    for row, side in prepared:
        rows.append(row)
        entries.extend(side)
    try:
        conn.executemany(sql[0], rows)
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc) and f"{table}.id" in str(exc):
            raise duplicate() from None
        raise
    conn.executemany(sql[1], entries)


class Handle(Protocol):
    """What a SQLite repository uses of its store."""

    _keys: KeyFunction
    _decode: Decoder

    def _use(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def _present(self, conn: sqlite3.Connection, probe: Any, values: Sequence[str]) -> set[str]: ...
    def _report(
        self, conn: sqlite3.Connection, action: AuditAction, targets: Sequence[AuditTarget]
    ) -> None: ...
