"""SQLiteStore: the embedded default store, on the standard library's sqlite3.

- WAL journal, a busy timeout, foreign keys on, and explicit ``BEGIN IMMEDIATE``
  transactions (never Python's implicit ones): writers queue instead of
  failing, and several threads and processes can share one file.
- One connection per thread (per process: a forked child opens its own). An
  in-memory database (``":memory:"``) has a single connection shared under a
  lock, since each connection to ``:memory:`` would be a different database.
- Entities are JSON documents written by crmcore's converter, next to indexed
  columns for filters and ordering and one lookup table per record type for
  emails, phones, identifiers, tags and blocking keys.
- The schema carries a version; forward migrations run when a file is opened.
- ``sqlite3`` errors never escape: they become :class:`~crmcore.StorageError`
  (or ``DuplicateRecord`` / ``VersionConflict`` / ``NotFound`` where meant).
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from datetime import datetime
from functools import lru_cache
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

import attrs

from crmcore._validation import items_of, utcnow
from crmcore.customers import Customer
from crmcore.errors import (
    StorageError,
    ValidationError,
)
from crmcore.ids import CustomerId, InteractionId, LeadId, MergeId, RecordId
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.serialization import from_json, to_json
from crmcore.storage._common import (
    CUSTOMER_FIELDS,
    FLAG_EMAIL,
    FLAG_IDENTIFIER,
    FLAG_KEY,
    FLAG_PHONE,
    IDENTIFIER_SEPARATOR,
    LEAD_FIELDS,
    Condition,
    FieldSpec,
    compile_filters,
    customer_row,
    identifier_key,
    lead_row,
    lookup_keys,
    micros,
    stamped,
)
from crmcore.storage._front import (
    TIMELINE_TAG,
    Errors,
    check_batch_size,
    check_expected_version,
    check_external_id,
    check_interaction,
    check_keys,
    check_limit,
    check_list_args,
    check_record,
    check_record_id,
    check_timeline_args,
    external_id_taken,
    page_of,
    resolve_chain,
)
from crmcore.storage.keys import KeyFunction, check_key_function, key_function_name
from crmcore.storage.protocols import DEFAULT_PAGE_SIZE, Filter, Op, Page
from crmcore.values import EmailAddress, PhoneNumber

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

R = TypeVar("R", bound=Customer | Lead)
IdT = TypeVar("IdT", bound=str)
T = TypeVar("T")

_CHUNK: Final = 500  # ids or rows per statement: well under SQLite's variable limit
_ADD_CHUNK: Final = 1_000

_CUSTOMER_COLUMNS: Final = (
    "id",
    "kind",
    "stage",
    "owner",
    "organization_id",
    "merged_into",
    "birth_date",
    "created_at",
    "updated_at",
)
_LEAD_COLUMNS: Final = (
    "id",
    "status",
    "source",
    "owner",
    "company",
    "score",
    "converted_customer_id",
    "merged_into",
    "created_at",
    "updated_at",
)


def _record_tables(table: str, lookup: str, columns: str, indexes: Sequence[str]) -> list[str]:
    return [
        # tags: "\x1ftag\x1fother\x1f" (tags hold no control characters), for filters.
        f"CREATE TABLE {table} ("
        f"id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, {columns}, "
        "created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, tags TEXT NOT NULL, "
        "doc TEXT NOT NULL)",
        f"CREATE INDEX {table}_created ON {table} (created_at, id)",
        f"CREATE INDEX {table}_updated ON {table} (updated_at, id)",
        *(f"CREATE INDEX {table}_{name} ON {table} {spec}" for name, spec in _pairs(indexes)),
        # One table answers every lookup: a key, a record, and what the key stands for
        # (kinds: FLAG_* bits: email, phone, identifier, blocking key).
        # No foreign key and no index on record_id: the store writes and deletes these
        # rows itself, in the record's transaction (an update or a delete recomputes the
        # old rows from the stored document); each would cost a tenth of add_many.
        f"CREATE TABLE {lookup} ("
        "key TEXT NOT NULL, record_id TEXT NOT NULL, kinds INTEGER NOT NULL, "
        "PRIMARY KEY (key, record_id)) WITHOUT ROWID",
    ]


def _pairs(items: Sequence[str]) -> Iterator[tuple[str, str]]:
    for i in range(0, len(items), 2):
        yield items[i], items[i + 1]


MERGES_MIGRATION: Final[tuple[str, ...]] = (
    "CREATE TABLE merges ("
    "id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, survivor_id TEXT NOT NULL, "
    "merged_at INTEGER NOT NULL, doc TEXT NOT NULL)",
    "CREATE TABLE merge_participants ("
    "record_id TEXT NOT NULL, "
    "merge_id TEXT NOT NULL REFERENCES merges (id) ON DELETE CASCADE, "
    "PRIMARY KEY (record_id, merge_id)) WITHOUT ROWID",
)
"""The SQLite schema migration that adds merge records."""


_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 0 -> 1: the first schema.
    (
        *_record_tables(
            "customers",
            "customer_lookup",
            "kind TEXT NOT NULL, stage TEXT NOT NULL, owner TEXT, organization_id TEXT, "
            "merged_into TEXT, birth_date TEXT",
            (
                "owner",
                "(owner)",
                "organization",
                "(organization_id) WHERE organization_id IS NOT NULL",
                "merged",
                "(merged_into) WHERE merged_into IS NOT NULL",
            ),
        ),
        *_record_tables(
            "leads",
            "lead_lookup",
            "status TEXT NOT NULL, source TEXT, owner TEXT, company TEXT, score INTEGER, "
            "converted_customer_id TEXT, merged_into TEXT",
            (
                "owner",
                "(owner)",
                "converted",
                "(converted_customer_id) WHERE converted_customer_id IS NOT NULL",
                "merged",
                "(merged_into) WHERE merged_into IS NOT NULL",
            ),
        ),
        "CREATE TABLE interactions ("
        "id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, channel TEXT NOT NULL, "
        "occurred_at INTEGER NOT NULL, external_id TEXT UNIQUE, "
        "created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, doc TEXT NOT NULL)",
        "CREATE TABLE interaction_participants ("
        "record_id TEXT NOT NULL, occurred_at INTEGER NOT NULL, "
        "interaction_id TEXT NOT NULL REFERENCES interactions (id) ON DELETE CASCADE, "
        "channel TEXT NOT NULL, "
        "PRIMARY KEY (record_id, occurred_at, interaction_id)) WITHOUT ROWID",
        "CREATE INDEX interaction_participants_interaction "
        "ON interaction_participants (interaction_id)",
    ),
    # 1 -> 2: merge records (crmcore.merge).
    MERGES_MIGRATION,
)

SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this crmcore writes; older files are migrated forward on open."""


_CACHED_DOCUMENT_LENGTH: Final = 8_192


class _Decoder:
    """Decodes stored documents, caching the small ones, for one store.

    Keyed by the document itself, so a cached record is always what is stored:
    entities are immutable, and the same text always decodes to an equal
    record. The cache belongs to its store and is dropped on ``close()``, so
    customers' data does not outlive the store in a process-wide cache.
    """

    def __init__(self) -> None:
        self._cached = lru_cache(maxsize=4_096)(from_json)

    def __call__(self, cls: Any, doc: str) -> Any:
        # Only small documents are cached (at most ~60 MB in all): a record's notes
        # alone may be 100,000 characters.
        if len(doc) <= _CACHED_DOCUMENT_LENGTH:
            return self._cached(cls, doc)
        return from_json(cls, doc)

    def clear(self) -> None:
        """Forget every cached record."""
        self._cached.cache_clear()


def _translate(exc: sqlite3.Error) -> StorageError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StorageError("the database stayed locked longer than the busy timeout")
    if isinstance(exc, sqlite3.IntegrityError):
        return StorageError("the database refused a write (an integrity constraint)")
    return StorageError(f"the database failed ({type(exc).__name__})")


_INTERACTION: Final = Errors("interaction")
_MERGE: Final = Errors("merge record")


class _State:
    """One thread's connection and how deep its transactions are nested."""

    __slots__ = ("conn", "depth", "pid")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.depth = 0
        self.pid = os.getpid()


class SQLiteStore:
    """A store in one SQLite file (or in memory with ``":memory:"``).

    Args:
        path: the database file (created if missing), or ``":memory:"``.
        key_function: computes a record's blocking keys for ``find_by_keys``;
            :func:`~crmcore.storage.default_keys` when ``None``. When a file
            was last written with another key function (see
            :func:`~crmcore.storage.keys.key_function_name`), its key index is
            rebuilt on open.
        timeout: seconds a writer waits for another one before
            :class:`~crmcore.StorageError`.
        durable: ``synchronous=FULL`` (every commit survives a power cut)
            instead of WAL's ``NORMAL`` (commits survive a crash of the
            process; a power cut may lose the last ones, never corrupts).

    Example:
        >>> from crmcore import Customer
        >>> with SQLiteStore(":memory:") as store:
        ...     stored = store.customers.add(Customer.create(name="Ada Lovelace"))
        ...     store.customers.get(stored.id).version
        1
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        key_function: KeyFunction | None = None,
        timeout: float = 30.0,
        durable: bool = False,
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise ValidationError("path", "must be a file path or ':memory:'")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 <= timeout < 1e9  # also refuses NaN and infinity
        ):
            raise ValidationError("timeout", "must be a non-negative number of seconds")
        self._path = os.fspath(path)
        if not isinstance(self._path, str) or "\x00" in self._path:
            # sqlite3.connect would raise a bare ValueError (embedded null byte).
            raise ValidationError("path", "must be text without NUL characters")
        self._in_memory = self._path in (":memory:", "")
        self._timeout = float(timeout)
        self._durable = bool(durable)
        self._keys = check_key_function(key_function)
        self._local = threading.local()
        self._registry_lock = threading.Lock()
        self._connections: list[tuple[int, threading.Thread, sqlite3.Connection]] = []
        self._closed = False
        self._decode = _Decoder()
        self._shared: _State | None = None
        self._shared_lock: threading.RLock | None = None
        if self._in_memory:
            self._shared_lock = threading.RLock()
            self._shared = _State(self._connect())
        self._customers: _SQLRecords[Customer, CustomerId] = _SQLRecords(
            self, Customer, "customer", "customers", "customer_lookup", CUSTOMER_FIELDS,
            _CUSTOMER_COLUMNS, customer_row,
        )  # fmt: skip
        self._leads: _SQLRecords[Lead, LeadId] = _SQLRecords(
            self, Lead, "lead", "leads", "lead_lookup", LEAD_FIELDS, _LEAD_COLUMNS, lead_row
        )
        self._interactions = _SQLInteractions(self)
        self._merges = SQLiteMerges(self)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ repositories

    @property
    def customers(self) -> _SQLRecords[Customer, CustomerId]:
        """The customers."""
        return self._customers

    @property
    def leads(self) -> _SQLRecords[Lead, LeadId]:
        """The leads."""
        return self._leads

    @property
    def interactions(self) -> _SQLInteractions:
        """The interactions."""
        return self._interactions

    @property
    def merges(self) -> SQLiteMerges:
        """The merge records."""
        return self._merges

    @property
    def path(self) -> str:
        """The database file (``":memory:"`` for an in-memory database)."""
        return self._path

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StorageError("the database file cannot be opened") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self._durable else 'NORMAL'}")
            # A bigger page cache keeps the lookup index's hot pages in memory during
            # large batches (SQLite's default is 2 MiB; memory is only used as needed).
            conn.execute("PRAGMA cache_size = -32768")
        except sqlite3.Error as exc:
            conn.close()
            raise _translate(exc) from exc
        with self._registry_lock:
            alive = []
            for pid, thread, other in self._connections:
                if pid == os.getpid() and not thread.is_alive():
                    other.close()  # its thread is gone: nobody else may use it
                else:
                    alive.append((pid, thread, other))
            alive.append((os.getpid(), threading.current_thread(), conn))
            self._connections = alive
        return conn

    def _state(self) -> _State:
        if self._closed:
            raise StorageError("the store is closed")
        if self._shared is not None:
            return self._shared
        state: _State | None = getattr(self._local, "state", None)
        if state is None or state.pid != os.getpid():
            # A new thread, or a forked child: connections must never cross a fork.
            state = _State(self._connect())
            self._local.state = state
        return state

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation, with every driver error translated."""
        lock = self._shared_lock if self._shared_lock is not None else nullcontext()
        with lock:
            state = self._state()
            try:
                yield state.conn
            except sqlite3.Error as exc:
                raise _translate(exc) from exc
            except UnicodeEncodeError:
                raise ValidationError("", "holds text that is not valid Unicode") from None
            except OverflowError:
                raise ValidationError("", "holds a number too large for SQLite") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write: ``BEGIN IMMEDIATE`` at the outermost level, a savepoint inside."""
        with self._use() as conn:
            state = self._state()
            if state.depth == 0:
                conn.execute("BEGIN IMMEDIATE")
                state.depth = 1
                try:
                    yield conn
                except BaseException:
                    state.depth = 0
                    self._rollback(conn)
                    self._merges.forget()
                    raise
                try:
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    self._merges.forget()
                    raise
                finally:
                    state.depth = 0
            else:
                name = f"crmcore_{state.depth}"
                conn.execute(f"SAVEPOINT {name}")
                state.depth += 1
                try:
                    yield conn
                except BaseException:
                    self._merges.forget()
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                    raise
                else:
                    conn.execute(f"RELEASE {name}")
                finally:
                    state.depth -= 1

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            # The original error matters more; SQLite rolls back on close anyway.
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: ``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on an exception.

        Nested transactions are savepoints: an inner block that fails is
        undone alone when its exception is caught inside the outer block.
        A transaction belongs to the thread that opened it.
        """
        with self._write():
            yield

    # ------------------------------------------------------------------ opening

    def _open(self) -> None:
        with self._use() as conn:
            if not self._in_memory:
                self._set_wal(conn)
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS crmcore_meta "
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            found = conn.execute(
                "SELECT value FROM crmcore_meta WHERE key = 'schema_version'"
            ).fetchone()
            current = int(found[0]) if found else 0
            if current > SCHEMA_VERSION:
                raise StorageError("the database was written by a newer crmcore")
            for version in range(current, SCHEMA_VERSION):
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
            self._set_meta(conn, "schema_version", str(SCHEMA_VERSION))
            name = key_function_name(self._keys)
            found = conn.execute(
                "SELECT value FROM crmcore_meta WHERE key = 'key_function'"
            ).fetchone()
            if found is None or found[0] != name:
                if found is not None:
                    self._customers._rebuild_keys(conn)
                    self._leads._rebuild_keys(conn)
                self._set_meta(conn, "key_function", name)

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment alone with the file; another process
        # opening it at the same time may hold it briefly.
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                continue
            if str(mode).lower() != "wal":
                raise StorageError("the database cannot use write-ahead logging")
            return

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO crmcore_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def schema_version(self) -> int:
        """The schema version of the open database."""
        with self._use() as conn:
            found = conn.execute(
                "SELECT value FROM crmcore_meta WHERE key = 'schema_version'"
            ).fetchone()
        return int(found[0])

    def rebuild_keys(self) -> None:
        """Recompute every record's blocking keys with the store's key function."""
        with self._write() as conn:
            self._customers._rebuild_keys(conn)
            self._leads._rebuild_keys(conn)

    def integrity_check(self) -> bool:
        """Run ``PRAGMA integrity_check`` and ``foreign_key_check``; ``True`` when both pass."""
        with self._use() as conn:
            ok = conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            return ok and not conn.execute("PRAGMA foreign_key_check").fetchall()

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Close every connection this process opened; the store refuses further use."""
        self._closed = True
        self._decode.clear()
        with self._registry_lock:
            mine = [c for pid, _, c in self._connections if pid == os.getpid()]
            self._connections = []
        for conn in mine:
            with suppress(sqlite3.Error):  # best effort: the process may be exiting
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return "SQLiteStore(:memory:)" if self._in_memory else "SQLiteStore(<file>)"


TAG_SEPARATOR: Final = "\x1f"  # tags are clean text: no control characters


def _tags_text(tags: frozenset[str]) -> str:
    if not tags:
        return ""
    return TAG_SEPARATOR + TAG_SEPARATOR.join(sorted(tags)) + TAG_SEPARATOR


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sql_conditions(
    conditions: Iterable[Condition], table: str, lookup: str, columns: Iterable[str]
) -> tuple[list[str], list[Any]]:
    """Turn checked conditions into SQL: column names come from the allow-list only."""
    allowed = set(columns)
    parts: list[str] = []
    params: list[Any] = []
    for c in conditions:
        if c.op is Op.CONTAINS:
            parts.append(f"instr({table}.tags, ?) > 0")
            params.append(f"{TAG_SEPARATOR}{c.value}{TAG_SEPARATOR}")
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
                parts.append(f"{col} IN ({_placeholders(len(c.value))})")
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


class _SQLRecords(Generic[R, IdT]):
    """Customers or leads in SQLite."""

    def __init__(
        self,
        store: SQLiteStore,
        cls: type[R],
        entity: str,
        table: str,
        lookup: str,
        fields: Mapping[str, FieldSpec],
        columns: Sequence[str],
        row: Callable[[R], dict[str, Any]],
    ) -> None:
        self._store = store
        self._cls = cls
        self._entity = entity
        self._table = table
        self._lookup = lookup
        self._fields = fields
        self._columns = tuple(columns)
        self._row = row
        self._errors = Errors(entity)
        names = (*self._columns, "tags", "version", "doc")
        self._insert_sql = (
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({_placeholders(len(names))})"
        )
        sets = ", ".join(f"{c} = ?" for c in names[1:])
        self._update_sql = f"UPDATE {table} SET {sets} WHERE id = ?"
        self._lookup_sql = f"INSERT INTO {lookup} (key, record_id, kinds) VALUES (?, ?, ?)"
        self._unlookup_sql = f"DELETE FROM {lookup} WHERE key = ? AND record_id = ?"

    # ------------------------------------------------------------------ internals

    def _lookups(self, record: R) -> list[tuple[str, str, int]]:
        rid: str = record.id
        return [(key, rid, kinds) for key, kinds in lookup_keys(record, self._store._keys).items()]

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

    def _check(self, record: object) -> R:
        check_record(record, self._cls, self._entity)
        return record  # type: ignore[return-value]

    def _decode_rows(self, rows: Iterable[tuple[Any, ...]]) -> builtins.list[R]:
        cls: Any = self._cls
        try:
            return [self._store._decode(cls, row[-1]) for row in rows]
        except ValidationError as exc:
            raise StorageError(f"a stored {self._entity} cannot be read") from exc

    def _insert(self, conn: sqlite3.Connection, batch: Sequence[R], now: datetime) -> list[R]:
        stored = [stamped(r, 1, now) for r in batch]
        rows = []
        lookups: list[tuple[str, str, int]] = []
        for record in stored:
            row, entries = self._prepare(record)
            rows.append(row)
            lookups.extend(entries)
        try:
            conn.executemany(self._insert_sql, rows)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc) and f"{self._table}.id" in str(exc):
                raise self._errors.duplicate() from None
            raise
        conn.executemany(self._lookup_sql, lookups)
        return stored

    def _rebuild_keys(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"DELETE FROM {self._lookup}")
        last = ""
        while True:
            rows = conn.execute(
                f"SELECT id, doc FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?",
                (last, _ADD_CHUNK),
            ).fetchall()
            if not rows:
                return
            conn.executemany(
                self._lookup_sql,
                [entry for record in self._decode_rows(rows) for entry in self._lookups(record)],
            )
            last = rows[-1][0]

    # ------------------------------------------------------------------ writes

    def add(self, record: R) -> R:
        """See :meth:`crmcore.storage.RecordRepository.add`."""
        self._check(record)
        with self._store._write() as conn:
            return self._insert(conn, [record], utcnow())[0]

    def add_many(self, records: Iterable[R]) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.add_many`."""
        batch = [self._check(r) for r in items_of(records, "records")]
        result: list[R] = []
        with self._store._write() as conn:
            now = utcnow()
            for chunk in _chunks(batch, _ADD_CHUNK):
                result.extend(self._insert(conn, chunk, now))
        return result

    def _current(self, conn: sqlite3.Connection, record_id: str) -> tuple[int, str]:
        found = conn.execute(
            f"SELECT version, doc FROM {self._table} WHERE id = ?", (record_id,)
        ).fetchone()
        found = self._errors.found(found)
        return int(found[0]), str(found[1])

    def update(self, record: R) -> R:
        """See :meth:`crmcore.storage.RecordRepository.update`."""
        self._check(record)
        stored = stamped(record, record.version + 1, utcnow())
        row, lookups = self._prepare(stored)
        with self._store._write() as conn:
            version, old_doc = self._current(conn, record.id)
            self._errors.check_version(version, record.version)
            conn.execute(self._update_sql, (*row[1:], record.id))
            self._unlookup(conn, old_doc)
            conn.executemany(self._lookup_sql, lookups)
        return stored

    def delete(self, record_id: IdT, *, expected_version: int | None = None) -> None:
        """See :meth:`crmcore.storage.RecordRepository.delete`."""
        expected = check_expected_version(expected_version)
        if not isinstance(record_id, str):
            raise self._errors.not_found()
        with self._store._write() as conn:
            version, old_doc = self._current(conn, record_id)
            self._errors.check_version(version, expected)
            conn.execute(f"DELETE FROM {self._table} WHERE id = ?", (record_id,))
            self._unlookup(conn, old_doc)

    # ------------------------------------------------------------------ reads

    def get(self, record_id: IdT) -> R:
        """See :meth:`crmcore.storage.RecordRepository.get`."""
        if not isinstance(record_id, str):
            raise self._errors.not_found()
        with self._store._use() as conn:
            row = conn.execute(
                f"SELECT doc FROM {self._table} WHERE id = ?", (record_id,)
            ).fetchone()
        return self._decode_rows([self._errors.found(row)])[0]

    def resolve(self, record_id: IdT) -> R:
        """See :meth:`crmcore.storage.RecordRepository.resolve`."""
        return resolve_chain(self.get, record_id)

    def get_many(self, record_ids: Iterable[IdT]) -> dict[IdT, R]:
        """See :meth:`crmcore.storage.RecordRepository.get_many`."""
        ids: list[IdT] = items_of(record_ids, "record_ids")
        wanted = list(dict.fromkeys(i for i in ids if isinstance(i, str)))
        found: dict[str, R] = {}
        with self._store._use() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    f"SELECT id, doc FROM {self._table} WHERE id IN ({_placeholders(len(chunk))})",
                    tuple(chunk),
                ).fetchall()
                for row, record in zip(rows, self._decode_rows(rows), strict=True):
                    found[row[0]] = record
        return {i: found[i] for i in wanted if i in found}

    def _where(self, filters: Sequence[Filter]) -> tuple[list[str], list[Any]]:
        conditions = compile_filters(self._fields, filters)
        return _sql_conditions(conditions, self._table, self._lookup, self._columns)

    def count(self, *filters: Filter) -> int:
        """See :meth:`crmcore.storage.RecordRepository.count`."""
        parts, params = self._where(filters)
        sql = f"SELECT COUNT(*) FROM {self._table}"
        if parts:
            sql += " WHERE " + " AND ".join(parts)
        with self._store._use() as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    def list(
        self,
        *filters: Filter,
        order_by: str = "id",
        descending: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[R]:
        """See :meth:`crmcore.storage.RecordRepository.list`."""
        q = check_list_args(
            self._entity, self._fields, filters, order_by, descending, limit, cursor
        )
        table = self._table
        parts, params = _sql_conditions(q.conditions, table, self._lookup, self._columns)
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
        with self._store._use() as conn:
            rows = conn.execute(sql, params).fetchall()
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
            rows = conn.execute(
                f"SELECT r.doc FROM {self._lookup} l JOIN {self._table} r ON r.id = l.record_id "
                "WHERE l.key = ? AND l.kinds & ? ORDER BY l.record_id",
                (key, flag),
            ).fetchall()
        return self._decode_rows(rows)

    def find_by_email(self, email: EmailAddress | str) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_email`."""
        match_key = EmailAddress.parse(email, field="email").match_key
        return self._lookup_docs(FLAG_EMAIL, "email:" + match_key)

    def find_by_phone(
        self, phone: PhoneNumber | str, region: str | None = None
    ) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_phone`."""
        e164 = PhoneNumber.parse(phone, region, field="phone").e164
        return self._lookup_docs(FLAG_PHONE, "phone:" + e164)

    def find_by_identifier(self, scheme: str, value: str) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_identifier`."""
        scheme, _, folded = identifier_key(scheme, value).partition(IDENTIFIER_SEPARATOR)
        found = self._lookup_docs(FLAG_IDENTIFIER, f"id:{scheme}:{folded}")
        # "id:a:b:c" is both (a, b:c) and (a:b, c): keep the records that really match.
        return [r for r in found if isinstance(r, Customer) and r.identifiers.get(scheme) == folded]

    def find_by_keys(self, keys: Iterable[str], *, limit: int | None = None) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_keys`."""
        wanted = check_keys(keys)
        size = check_limit(limit, optional=True)
        ids: set[str] = set()
        with self._store._use() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    f"SELECT DISTINCT record_id FROM {self._lookup} "
                    f"WHERE key IN ({_placeholders(len(chunk))}) AND kinds & {FLAG_KEY}",
                    tuple(chunk),
                ).fetchall()
                ids.update(r[0] for r in rows)
        chosen = sorted(ids)
        if size is not None:
            chosen = chosen[:size]
        # Read the documents in one go; a record deleted in between is simply left out.
        return list(self.get_many(chosen).values())  # type: ignore[arg-type]


class _SQLInteractions:
    """Interactions in SQLite, with a participants table for timelines."""

    _INSERT = (
        "INSERT INTO interactions (id, version, channel, occurred_at, external_id, "
        "created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    _PARTICIPANT = (
        "INSERT INTO interaction_participants (record_id, occurred_at, interaction_id, channel) "
        "VALUES (?, ?, ?, ?)"
    )

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def _decode_rows(self, rows: Iterable[tuple[Any, ...]]) -> list[Interaction]:
        try:
            return [self._store._decode(Interaction, row[-1]) for row in rows]
        except ValidationError as exc:
            raise StorageError("a stored interaction cannot be read") from exc

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
        return [(rid, at, i.id, i.channel.value) for rid in i.record_ids]

    def _by_external(self, conn: sqlite3.Connection, external_id: str) -> Interaction | None:
        row = conn.execute(
            "SELECT doc FROM interactions WHERE external_id = ?", (external_id,)
        ).fetchone()
        return None if row is None else self._decode_rows([row])[0]

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
                raise _INTERACTION.duplicate() from None
            raise
        conn.executemany(self._PARTICIPANT, self._participants(stored))
        return stored

    def add(self, interaction: Interaction) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.add`."""
        check_interaction(interaction)
        with self._store._write() as conn:
            return self._add(conn, interaction, utcnow())

    def add_many(self, interactions: Iterable[Interaction]) -> builtins.list[Interaction]:
        """See :meth:`crmcore.storage.InteractionRepository.add_many`."""
        batch = [check_interaction(i) for i in items_of(interactions, "interactions")]
        with self._store._write() as conn:
            now = utcnow()
            return [self._add(conn, i, now) for i in batch]

    def get(self, interaction_id: InteractionId) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.get`."""
        if not isinstance(interaction_id, str):
            raise _INTERACTION.not_found()
        with self._store._use() as conn:
            row = conn.execute(
                "SELECT doc FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
        return self._decode_rows([_INTERACTION.found(row)])[0]

    def get_many(
        self, interaction_ids: Iterable[InteractionId]
    ) -> dict[InteractionId, Interaction]:
        """See :meth:`crmcore.storage.InteractionRepository.get_many`."""
        ids: list[InteractionId] = items_of(interaction_ids, "interaction_ids")
        wanted = list(dict.fromkeys(i for i in ids if isinstance(i, str)))
        found: dict[str, Interaction] = {}
        with self._store._use() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    f"SELECT id, doc FROM interactions WHERE id IN ({_placeholders(len(chunk))})",
                    tuple(chunk),
                ).fetchall()
                for row, record in zip(rows, self._decode_rows(rows), strict=True):
                    found[row[0]] = record
        return {InteractionId(i): found[i] for i in wanted if i in found}

    def update(self, interaction: Interaction) -> Interaction:
        """See :meth:`crmcore.storage.InteractionRepository.update`."""
        check_interaction(interaction)
        stored = stamped(interaction, interaction.version + 1, utcnow())
        row = self._row(stored)
        with self._store._write() as conn:
            ext = interaction.external_id
            if ext is not None:
                other = conn.execute(
                    "SELECT id FROM interactions WHERE external_id = ? AND id != ?",
                    (ext, interaction.id),
                ).fetchone()
                if other is not None:
                    raise external_id_taken()
            cursor = conn.execute(
                "UPDATE interactions SET version = ?, channel = ?, occurred_at = ?, "
                "external_id = ?, created_at = ?, updated_at = ?, doc = ? "
                "WHERE id = ? AND version = ?",
                (*row[1:], interaction.id, interaction.version),
            )
            if cursor.rowcount != 1:
                found = conn.execute(
                    "SELECT version FROM interactions WHERE id = ?", (interaction.id,)
                ).fetchone()
                actual = None if found is None else int(found[0])
                _INTERACTION.check_version(actual, interaction.version)
            conn.execute(
                "DELETE FROM interaction_participants WHERE interaction_id = ?", (interaction.id,)
            )
            conn.executemany(self._PARTICIPANT, self._participants(stored))
        return stored

    def delete(self, interaction_id: InteractionId, *, expected_version: int | None = None) -> None:
        """See :meth:`crmcore.storage.InteractionRepository.delete`."""
        expected = check_expected_version(expected_version)
        if not isinstance(interaction_id, str):
            raise _INTERACTION.not_found()
        with self._store._write() as conn:
            found = conn.execute(
                "SELECT version FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
            _INTERACTION.check_version(None if found is None else int(found[0]), expected)
            conn.execute("DELETE FROM interactions WHERE id = ?", (interaction_id,))

    def list_for(
        self,
        record_id: RecordId,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        channel: Channel | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Interaction]:
        """See :meth:`crmcore.storage.InteractionRepository.list_for`."""
        low, high, chan, size, after = check_timeline_args(
            record_id, since, until, channel, limit, cursor
        )
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

    def find_by_external_id(self, external_id: str) -> Interaction | None:
        """See :meth:`crmcore.storage.InteractionRepository.find_by_external_id`."""
        check_external_id(external_id)
        with self._store._use() as conn:
            return self._by_external(conn, external_id)


_MERGE_CACHE_SIZE: Final = 64
"""How many decoded merge records a SQLite store keeps."""


class SQLiteMerges:
    """The merge records of a :class:`~crmcore.storage.SQLiteStore` (tables ``merges``,
    ``merge_participants``)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._cache: OrderedDict[tuple[str, int], MergeRecord] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.add`."""
        check_record(record, MergeRecord)
        stored = attrs.evolve(record, version=1)
        doc = to_json(stored)
        with self._store._write() as conn:
            try:
                conn.execute(
                    "INSERT INTO merges (id, version, survivor_id, merged_at, doc) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (stored.id, 1, stored.survivor_id, micros(stored.merged_at), doc),
                )
            except sqlite3.IntegrityError:
                raise _MERGE.duplicate() from None
            conn.executemany(
                "INSERT INTO merge_participants (record_id, merge_id) VALUES (?, ?)",
                [(rid, stored.id) for rid in dict.fromkeys(stored.participant_ids)],
            )
        return stored

    def get(self, merge_id: MergeId | str) -> MergeRecord:
        """See :meth:`MergeRepository.get`."""
        if not isinstance(merge_id, str):
            raise _MERGE.not_found()
        with self._store._use() as conn:
            row = _MERGE.found(
                conn.execute("SELECT id, version FROM merges WHERE id = ?", (merge_id,)).fetchone()
            )
            return self._load(conn, [(row[0], row[1])])[0]

    def update(self, record: MergeRecord) -> MergeRecord:
        """See :meth:`MergeRepository.update`."""
        check_record(record, MergeRecord)
        stored = attrs.evolve(record, version=record.version + 1)
        with self._store._write() as conn:
            cursor = conn.execute(
                "UPDATE merges SET version = ?, doc = ? WHERE id = ? AND version = ?",
                (stored.version, to_json(stored), record.id, record.version),
            )
            if cursor.rowcount != 1:
                found = conn.execute(
                    "SELECT version FROM merges WHERE id = ?", (record.id,)
                ).fetchone()
                _MERGE.check_version(None if found is None else int(found[0]), record.version)
        return stored

    def forget(self) -> None:
        """Drop every decoded copy: the store calls this when a transaction rolls back.

        The cache is keyed by (id, version); a version written and read inside a
        transaction that then rolls back may later be written again with other
        content, so nothing read inside it may outlive it.
        """
        with self._lock:
            self._cache.clear()

    def list_for(self, record_id: str) -> builtins.list[MergeRecord]:
        """See :meth:`MergeRepository.list_for`."""
        check_record_id(record_id)
        with self._store._use() as conn:
            rows = conn.execute(
                "SELECT m.id, m.version FROM merge_participants p "
                "JOIN merges m ON m.id = p.merge_id "
                "WHERE p.record_id = ? ORDER BY m.merged_at DESC, m.id DESC",
                (record_id,),
            ).fetchall()
            return self._load(conn, [(r[0], r[1]) for r in rows])

    def _load(
        self, conn: sqlite3.Connection, keys: builtins.list[tuple[str, int]]
    ) -> builtins.list[MergeRecord]:
        # Merge records carry full snapshots and can be large; a record never
        # changes without its version changing, so a copy decoded once is
        # reused while the stored version matches (timelines read the same
        # records page after page).
        found: dict[tuple[str, int], MergeRecord] = {}
        with self._lock:
            for key in keys:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    found[key] = self._cache[key]
        missing = [key for key in keys if key not in found]
        for key in missing:
            row = conn.execute(
                "SELECT doc FROM merges WHERE id = ? AND version = ?", key
            ).fetchone()
            if row is None:  # changed between the two reads: decode what is there now
                row = conn.execute("SELECT doc FROM merges WHERE id = ?", (key[0],)).fetchone()
            row = _MERGE.found(row)
            try:
                found[key] = from_json(MergeRecord, row[0])
            except ValidationError as exc:
                # The caller's input is not at fault: the file is.
                raise StorageError("a stored merge record cannot be read") from exc
        with self._lock:
            for key in missing:
                self._cache[key] = found[key]
            while len(self._cache) > _MERGE_CACHE_SIZE:
                self._cache.popitem(last=False)
        return [found[key] for key in keys]
