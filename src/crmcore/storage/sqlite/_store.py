"""The SQLiteStore class: connections, transactions, opening and migrating a file."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress

from crmcore.audit import AuditAction, AuditEntry
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import (
    DataError,
    OperationalError,
    StorageError,
    ValidationError,
)
from crmcore.ids import CaseId, CustomerId, LeadId, TaskId
from crmcore.leads import Lead
from crmcore.storage import _audit
from crmcore.storage._database import (
    CASE_TABLE,
    CUSTOMERS,
    LEADS,
    OPPORTUNITY_TABLE,
    TASK_TABLE,
    DatabaseStore,
)
from crmcore.storage._integrity import Probe
from crmcore.storage.keys import KeyFunction, check_key_function, key_function_name
from crmcore.storage.sqlite import _references as references
from crmcore.storage.sqlite import _schema
from crmcore.storage.sqlite._connection import Decoder, State, translate
from crmcore.storage.sqlite._interactions import SQLInteractions
from crmcore.storage.sqlite._items import SQLiteItems, SQLiteOpportunities
from crmcore.storage.sqlite._merges import SQLiteMerges
from crmcore.storage.sqlite._privacy import (
    SQLiteAudit,
    SQLiteRequests,
    SQLiteSuppressions,
    append_entry,
)
from crmcore.storage.sqlite._records import SQLRecords
from crmcore.tasks import Task


class SQLiteStore(
    DatabaseStore[
        SQLRecords[Customer, CustomerId],
        SQLRecords[Lead, LeadId],
        SQLInteractions,
        SQLiteMerges,
    ]
):
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
        self._decode = Decoder()
        self._shared: State | None = None
        self._shared_lock: threading.RLock | None = None
        if self._in_memory:
            self._shared_lock = threading.RLock()
            self._shared = State(self._connect())
        self._customers: SQLRecords[Customer, CustomerId] = SQLRecords(
            self, CUSTOMERS, "customers", "customer_lookup"
        )
        self._leads: SQLRecords[Lead, LeadId] = SQLRecords(self, LEADS, "leads", "lead_lookup")
        self._interactions = SQLInteractions(self)
        self._merges = SQLiteMerges(self)
        self._opportunities = SQLiteOpportunities(
            self, OPPORTUNITY_TABLE, "opportunities", "opportunity_members"
        )
        self._tasks: SQLiteItems[Task, TaskId] = SQLiteItems(
            self, TASK_TABLE, "tasks", "task_members"
        )
        self._cases: SQLiteItems[Case, CaseId] = SQLiteItems(
            self, CASE_TABLE, "cases", "case_members"
        )
        self._audit = SQLiteAudit(self)
        self._suppressions = SQLiteSuppressions(self)
        self._requests = SQLiteRequests(self)
        self._secret = b""
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ repositories

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
            raise OperationalError("the database file cannot be opened") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            # Deleted content is overwritten with zeros, not left in free pages: an
            # erased person's bytes must not stay readable in the file (issue 11).
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self._durable else 'NORMAL'}")
            # A bigger page cache keeps the lookup index's hot pages in memory during
            # large batches (SQLite's default is 2 MiB; memory is only used as needed).
            conn.execute("PRAGMA cache_size = -32768")
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc) from exc
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

    def _state(self) -> State:
        if self._closed:
            raise StorageError("the store is closed")
        if self._shared is not None:
            return self._shared
        state: State | None = getattr(self._local, "state", None)
        if state is None or state.pid != os.getpid():
            # A new thread, or a forked child: connections must never cross a fork.
            state = State(self._connect())
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
                raise translate(exc) from exc
            except UnicodeEncodeError:
                raise ValidationError("", "holds text that is not valid Unicode") from None
            except OverflowError:
                raise ValidationError("", "holds a number too large for SQLite") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write: ``BEGIN IMMEDIATE`` at the outermost level, a savepoint inside."""
        with self._use() as conn:
            state = self._state()
            # A savepoint that rolls back inside an audited block takes its targets back.
            mark = _audit.audit_mark(self)
            if state.depth == 0:
                conn.execute("BEGIN IMMEDIATE")
                state.depth = 1
                try:
                    yield conn
                except BaseException:
                    state.depth = 0
                    self._rollback(conn)
                    self._merges.forget()
                    _audit.rewind(mark)
                    raise
                try:
                    conn.execute("COMMIT")
                except BaseException:
                    self._rollback(conn)
                    self._merges.forget()
                    _audit.rewind(mark)
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
                    _audit.rewind(mark)
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                    raise
                else:
                    conn.execute(f"RELEASE {name}")
                finally:
                    state.depth -= 1

    @staticmethod
    def _present(conn: sqlite3.Connection, probe: Probe, values: Sequence[str]) -> set[str]:
        """Which of ``values`` the probed column holds (referential integrity)."""
        return references.present(conn, probe, values)

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
            current = _schema_version(found[0]) if found else 0
            if current > _schema.SCHEMA_VERSION:
                raise StorageError("the database was written by a newer crmcore")
            for version in range(current, _schema.SCHEMA_VERSION):
                for statement in _schema._MIGRATIONS[version]:
                    conn.execute(statement)
            self._set_meta(conn, "schema_version", str(_schema.SCHEMA_VERSION))
            self._secret = self._load_secret(conn)
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

    @staticmethod
    def _load_secret(conn: sqlite3.Connection) -> bytes:
        """The file's privacy secret, created on first open (hex in ``crmcore_meta``)."""
        found = conn.execute(
            "SELECT value FROM crmcore_meta WHERE key = 'privacy_secret'"
        ).fetchone()
        if found is None:
            secret = os.urandom(_audit.SECRET_BYTES)
            SQLiteStore._set_meta(conn, "privacy_secret", secret.hex())
            return secret
        try:
            secret = bytes.fromhex(str(found[0]))
        except ValueError:
            raise _audit.unreadable_secret() from None
        if len(secret) != _audit.SECRET_BYTES:
            raise _audit.unreadable_secret()
        return secret

    # ------------------------------------------------------------------ privacy

    def _append_entry(self, conn: sqlite3.Connection, entry: AuditEntry) -> None:
        append_entry(conn, entry)

    @property
    def audit(self) -> SQLiteAudit:
        """The audit trail (see :class:`~crmcore.storage.SupportsPrivacy`)."""
        return self._audit

    @property
    def suppressions(self) -> SQLiteSuppressions:
        """The suppression list."""
        return self._suppressions

    @property
    def requests(self) -> SQLiteRequests:
        """The subject requests."""
        return self._requests

    def privacy_secret(self) -> bytes:
        """See :meth:`crmcore.storage.SupportsPrivacy.privacy_secret` (kept in ``crmcore_meta``)."""
        self._state()  # refuses a closed store
        return self._secret

    def forget_merge(self, merge_id: str) -> None:
        """See :meth:`crmcore.storage.SupportsPrivacy.forget_merge`."""
        if not isinstance(merge_id, str) or not _audit.is_digest(merge_id):
            raise _audit.MERGE.not_found()
        with self._write() as conn:
            # The participants go with the row (ON DELETE CASCADE).
            cursor = conn.execute("DELETE FROM merges WHERE id = ?", (merge_id,))
            if cursor.rowcount != 1:
                raise _audit.MERGE.not_found()
            self._merges.forget()
            self._report(conn, AuditAction.DELETE, _audit.deleted("merge", merge_id))

    def compact(self) -> None:
        """``VACUUM`` the file, then ``wal_checkpoint(TRUNCATE)``: no deleted byte is left
        in a free page, the old copy of a page, or the ``-wal`` file.

        ``secure_delete`` already zeroes what a delete frees; ``VACUUM`` rebuilds
        the file from live rows only, and the checkpoint copies the result into
        the main file and truncates the write-ahead log to nothing.

        Raises:
            StorageError: inside a transaction (``VACUUM`` cannot run in one).
        """
        with self._use() as conn:
            if self._state().depth:
                raise StorageError("compact() cannot run inside a transaction")
            conn.execute("VACUUM")
            if not self._in_memory:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def schema_version(self) -> int:
        """The schema version of the open database."""
        with self._use() as conn:
            found = conn.execute(
                "SELECT value FROM crmcore_meta WHERE key = 'schema_version'"
            ).fetchone()
        return _schema_version(found[0])

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

    def __repr__(self) -> str:
        return "SQLiteStore(:memory:)" if self._in_memory else "SQLiteStore(<file>)"


def _schema_version(value: object) -> int:
    """The ``schema_version`` a file's meta table holds: a non-negative integer.

    Anything else (``'abc'``, ``'-1'``, a blob) means the file is corrupt or not
    crmcore's, which is the store's fault, not the caller's: a ``DataError``
    rather than the bare ``ValueError`` of ``int()``, and never a migration
    run from a negative version.
    """
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise DataError("the database's schema version is unreadable")
    return int(text)
