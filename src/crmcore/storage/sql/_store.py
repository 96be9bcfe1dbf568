"""The SQLStore class: connections, transactions, the schema check, key locks."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import bindparam, delete, func, insert, inspect, select, text, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from crmcore.audit import AuditAction, AuditEntry
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import DataError, IntegrityError, StorageError, ValidationError
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
from crmcore.storage._front import check_keys
from crmcore.storage._integrity import Probe
from crmcore.storage.keys import KeyFunction, check_key_function, key_function_name
from crmcore.storage.sql._connection import (
    escape_document,
    lock_ids,
    translate,
    unescape_document,
)
from crmcore.storage.sql._interactions import SQLInteractions
from crmcore.storage.sql._items import SQLItems, SQLOpportunities
from crmcore.storage.sql._merges import SQLMerges
from crmcore.storage.sql._privacy import SQLAudit, SQLRequests, SQLSuppressions, append_entry
from crmcore.storage.sql._records import SQLRecords
from crmcore.storage.sql._references import References
from crmcore.storage.sql._schema import (
    SCHEMA_VERSION,
    UPGRADABLE,
    Tables,
    build_tables,
)
from crmcore.storage.sqlite._connection import Decoder
from crmcore.tasks import Task

_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,29}")
_PREFIX: Final = re.compile(r"[a-z_][a-z0-9_]{0,29}|")


class _State:
    """A connection in use by crmcore and how deep its transactions are nested."""

    __slots__ = ("conn", "depth")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.depth = 0


class SQLStore(
    DatabaseStore[
        SQLRecords[Customer, CustomerId],
        SQLRecords[Lead, LeadId],
        SQLInteractions,
        SQLMerges,
    ]
):
    """A store in a SQL database through SQLAlchemy Core: PostgreSQL, SQLite, and others.

    Args:
        engine_or_connection: an ``Engine``, and the store opens a connection
            per operation (or per :meth:`transaction`, on the thread that
            opened it) and commits its own transactions; or the app's
            ``Connection``, and the store joins the transaction open on it:
            each crmcore write runs in a ``SAVEPOINT`` inside it, and the
            store never commits or rolls back the app's transaction (when
            the connection has no transaction open, each crmcore operation
            begins and commits its own on it). A ``Connection`` is used by
            one thread at a time.
        schema: the database schema holding the tables (``None``: the
            connection's default, ``public`` on PostgreSQL).
        table_prefix: put in front of every table name (lower-case letters,
            digits and ``_``).
        key_function: computes a record's blocking keys for ``find_by_keys``;
            :func:`~crmcore.storage.default_keys` when ``None``. When the
            tables were last written with another one, their key index is
            rebuilt when the store is opened.

    Raises:
        ValidationError: naming the argument that is not one of these.
        StorageError: the tables are missing (call :meth:`create_all`, or
            let the app's migrations create them) or hold another schema
            version than this crmcore's.

    On an error inside a crmcore write, the write's savepoint (or its own
    transaction) is rolled back and a crmcore error raised: the app's
    transaction stays usable, holding everything but that write. An
    exception leaving :meth:`transaction` rolls back what the block wrote.
    """

    def __init__(
        self,
        engine_or_connection: Engine | Connection,
        *,
        schema: str | None = None,
        table_prefix: str = "crm_",
        key_function: KeyFunction | None = None,
    ) -> None:
        self._closed = True
        if isinstance(engine_or_connection, Engine):
            self._engine: Engine | None = engine_or_connection
            self._joined: Connection | None = None
            dialect = engine_or_connection.dialect
        elif isinstance(engine_or_connection, Connection):
            self._engine = None
            self._joined = engine_or_connection
            dialect = engine_or_connection.dialect
        else:
            raise ValidationError(
                "engine_or_connection", "must be a SQLAlchemy Engine or Connection"
            )
        if schema is not None and (not isinstance(schema, str) or not _NAME.fullmatch(schema)):
            raise ValidationError("schema", "must be a name of lower-case letters, digits and _")
        if not isinstance(table_prefix, str) or not _PREFIX.fullmatch(table_prefix):
            raise ValidationError("table_prefix", "must be lower-case letters, digits and _")
        self._keys = check_key_function(key_function)
        self._dialect = dialect.name
        self._postgres = dialect.name == "postgresql"
        # add_many writes big batches with COPY where the driver is psycopg 3.
        self._copy = self._postgres and dialect.driver == "psycopg"
        self._tables: Tables = build_tables(schema, table_prefix)
        self._lock_namespace = f"{schema or ''}.{table_prefix}"
        self._owns_engine = False
        # Reads outside a transaction need none: no BEGIN and no ROLLBACK round trips,
        # which are most of a lookup's time on a server. The same pool.
        self._reader = (
            None
            if self._engine is None
            else self._engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._local = threading.local()
        self._joined_lock = threading.RLock()
        self._joined_state = None if self._joined is None else _State(self._joined)
        self._decode = Decoder()
        t = self._tables
        self._customers: SQLRecords[Customer, CustomerId] = SQLRecords(
            self, CUSTOMERS, t.customers, t.customer_keys
        )
        self._leads: SQLRecords[Lead, LeadId] = SQLRecords(self, LEADS, t.leads, t.lead_keys)
        self._interactions = SQLInteractions(self, t.interactions, t.participants)
        self._merges = SQLMerges(self, t.merges, t.merge_participants)
        self._opportunities = SQLOpportunities(
            self, OPPORTUNITY_TABLE, t.opportunities, t.opportunity_members
        )
        self._tasks: SQLItems[Task, TaskId] = SQLItems(self, TASK_TABLE, t.tasks, t.task_members)
        self._cases: SQLItems[Case, CaseId] = SQLItems(self, CASE_TABLE, t.cases, t.case_members)
        self._audit = SQLAudit(self, t.audit_entries, t.audit_targets)
        self._suppressions = SQLSuppressions(self, t.suppressions)
        self._requests = SQLRequests(self, t.requests)
        self._secret: bytes | None = None
        self._lock_statement = select(func.pg_advisory_xact_lock(bindparam("lock_id")))
        self._references = References(t, self._postgres)
        self._closed = False
        self._check_schema()

    # ------------------------------------------------------------------ documents

    def _doc_in(self, doc: str) -> str:
        return escape_document(doc) if self._postgres else doc

    def _doc_out(self, doc: str) -> str:
        if not isinstance(doc, str):
            # A JSONB value a driver decoded itself (the store reads text; an app's
            # type hooks may differ): back to text for the converter.
            doc = json.dumps(doc, ensure_ascii=False)
        return unescape_document(doc) if self._postgres else doc

    # ------------------------------------------------------------------ connections

    def _state(self) -> _State | None:
        """The connection crmcore is using on this thread, inside a transaction, if any."""
        if self._closed:
            raise StorageError("the store is closed")
        if self._joined_state is not None:
            return self._joined_state
        state: _State | None = getattr(self._local, "state", None)
        return state

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sa_exc.SQLAlchemyError as exc:
            raise translate(exc) from exc
        except UnicodeEncodeError:
            raise ValidationError("", "holds text that is not valid Unicode") from None

    @contextmanager
    def _use(self) -> Iterator[Connection]:
        """A connection for one read, with every driver error translated."""
        state = self._state()
        with self._translated():
            if self._joined is not None:
                with self._joined_lock:
                    if self._joined.in_transaction():
                        yield self._joined
                    else:
                        with self._joined.begin():
                            yield self._joined
            elif state is not None and state.depth > 0:
                yield state.conn
            else:
                assert self._reader is not None
                with self._reader.connect() as conn:
                    yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write: a transaction of its own, or a savepoint inside the one that is open."""
        # A savepoint that rolls back inside an audited block takes its targets back.
        mark = _audit.audit_mark(self)
        try:
            with self._writing() as conn:
                yield conn
        except BaseException:
            _audit.rewind(mark)
            raise

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._translated():
            if self._joined is not None:
                with self._joined_lock:
                    yield from self._nest(self._joined, self._joined_state)
                return
            state = self._state()
            if state is not None and state.depth > 0:
                yield from self._nest(state.conn, state)
                return
            assert self._engine is not None
            with self._engine.connect() as conn:
                state = _State(conn)
                self._local.state = state
                try:
                    with conn.begin():
                        state.depth = 1
                        yield conn
                finally:
                    state.depth = 0
                    self._local.state = None

    def _present(self, conn: Connection, probe: Probe, values: Sequence[str]) -> set[str]:
        """Which of ``values`` the probed column holds (referential integrity)."""
        return self._references.present(conn, probe, values)

    @staticmethod
    def _nest(conn: Connection, state: _State | None) -> Iterator[Connection]:
        assert state is not None
        if conn.in_transaction():
            # A savepoint: a failing statement aborts a PostgreSQL transaction, and
            # rolling back to the savepoint keeps the outer one usable.
            manager: Any = conn.begin_nested()
        else:
            manager = conn.begin()
        state.depth += 1
        try:
            with manager:
                yield conn
        finally:
            state.depth -= 1

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: the block's writes commit together, or roll back on an exception.

        Given an ``Engine``, the outermost block is a database transaction on
        one connection, held by the thread that opened it; nested blocks are
        savepoints. Given a ``Connection`` inside the app's transaction, every
        block is a savepoint in it: nothing is committed until the app
        commits, and an app's rollback undoes crmcore's writes too.
        """
        with self._write():
            yield

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Hold an exclusive lock on each of ``keys`` until the current transaction ends.

        On PostgreSQL, ``pg_advisory_xact_lock`` on a 64-bit hash of each key
        (and of the store's schema and prefix), taken in sorted order so that
        two writers cannot deadlock; other writers locking a common key wait.
        On other databases it takes the database's write lock (SQLite: one
        writer at a time), which serialises every checked write.

        Raises:
            StorageError: called outside :meth:`transaction`.
            ValidationError: naming ``keys`` when one is not text.
        """
        wanted = check_keys(keys)
        state = self._state()
        in_transaction = (
            self._joined.in_transaction()
            if self._joined is not None
            else state is not None and state.depth > 0
        )
        if not in_transaction:
            raise StorageError("lock_keys needs an open transaction (store.transaction())")
        with self._write() as conn:
            if self._postgres:
                # One statement per key, in sorted order: the order the locks are taken.
                for lock_id in lock_ids(self._lock_namespace, wanted):
                    conn.execute(self._lock_statement, {"lock_id": lock_id})
            else:
                meta = self._tables.meta
                conn.execute(
                    update(meta).where(meta.c.key == "schema_version").values(value=meta.c.value)
                )

    # ------------------------------------------------------------------ schema

    @property
    def tables(self) -> Tables:
        """The SQLAlchemy tables this store reads and writes."""
        return self._tables

    def create_all(self) -> None:
        """Create the crmcore tables and indexes that are missing, and record the schema version.

        Idempotent. Apps that manage their schema with Alembic run their
        migrations instead (see ``docs/postgresql.md``) and never call this.
        Tables of an older version that differs only by missing tables
        (:data:`~crmcore.storage.sql._schema.UPGRADABLE`: version 1, before
        the work item tables) are upgraded: the missing tables are created
        and the version recorded.
        """
        with self._write() as conn:
            if self._postgres:
                # Workers starting at once on a new database: one creates, the others wait.
                (lock_id,) = lock_ids(self._lock_namespace, ["create_all"])
                conn.execute(self._lock_statement, {"lock_id": lock_id})
            self._tables.metadata.create_all(conn, checkfirst=True)
            meta = self._tables.meta
            found = dict(conn.execute(select(meta.c.key, meta.c.value)).all())
            rows = []
            if "schema_version" not in found:
                rows.append({"key": "schema_version", "value": str(SCHEMA_VERSION)})
            elif found["schema_version"] in {str(v) for v in UPGRADABLE}:
                conn.execute(
                    update(meta)
                    .where(meta.c.key == "schema_version")
                    .values(value=str(SCHEMA_VERSION))
                )
            if "key_function" not in found:
                rows.append({"key": "key_function", "value": key_function_name(self._keys)})
            if "privacy_secret" not in found:
                rows.append({"key": "privacy_secret", "value": os.urandom(32).hex()})
            if rows:
                conn.execute(meta.insert(), rows)
        self._check_schema()

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        meta = self._tables.meta
        if not self._tables_exist():
            raise StorageError(
                "the crmcore tables are missing: call SQLStore.create_all() "
                "or run the migrations that create them"
            )
        with self._use() as conn:
            found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
        if found is None:
            raise StorageError("the crmcore tables hold no schema version: call create_all()")
        value = str(found[0])
        if not (value.isascii() and value.isdigit() and len(value) <= 9):
            raise DataError("the crmcore schema version in the database is unreadable")
        return int(value)

    def _check_schema(self) -> None:
        if not self._tables_exist():
            return  # no tables yet: create_all() makes them; every use until then fails
        version = self.schema_version()
        # An upgradable version's tables are all still right: what it lacks (the
        # work item tables) fails with "call create_all()" until that adds them.
        if version != SCHEMA_VERSION and version not in UPGRADABLE:
            raise StorageError(
                f"the crmcore tables are schema version {version}, this crmcore needs "
                f"{SCHEMA_VERSION}: migrate the database first"
            )
        meta = self._tables.meta
        name = key_function_name(self._keys)
        which = select(meta.c.value).where(meta.c.key == "key_function")
        with self._use() as conn:
            found = conn.execute(which).first()
        if found is not None and found[0] == name:
            return
        with self._write() as conn:
            found = conn.execute(which).first()
            self._customers._rebuild_keys(conn)
            self._leads._rebuild_keys(conn)
            if found is None:
                conn.execute(meta.insert().values(key="key_function", value=name))
            else:
                conn.execute(update(meta).where(meta.c.key == "key_function").values(value=name))

    def _tables_exist(self) -> bool:
        meta = self._tables.meta
        with self._use() as conn:
            return bool(inspect(conn).has_table(meta.name, schema=meta.schema))

    def rebuild_keys(self) -> None:
        """Recompute every record's blocking keys with the store's key function."""
        with self._write() as conn:
            self._customers._rebuild_keys(conn)
            self._leads._rebuild_keys(conn)

    # ------------------------------------------------------------------ privacy

    def _append_entry(self, conn: Connection, entry: AuditEntry) -> None:
        t = self._tables
        append_entry(conn, t.audit_entries, t.audit_targets, entry, copy=self._copy)

    @property
    def audit(self) -> SQLAudit:
        """The audit trail (see :class:`~crmcore.storage.SupportsPrivacy`)."""
        return self._audit

    @property
    def suppressions(self) -> SQLSuppressions:
        """The suppression list."""
        return self._suppressions

    @property
    def requests(self) -> SQLRequests:
        """The subject requests."""
        return self._requests

    def privacy_secret(self) -> bytes:
        """See :meth:`crmcore.storage.SupportsPrivacy.privacy_secret`.

        Kept in the ``<prefix>meta`` table under ``privacy_secret``:
        :meth:`create_all` writes it; tables made by an app's own migrations get
        it on first use (the first writer wins, every store then reads the same).
        """
        self._state()  # refuses a closed store
        if self._secret is None:
            meta = self._tables.meta
            which = select(meta.c.value).where(meta.c.key == "privacy_secret")
            with self._use() as conn:
                found = conn.execute(which).first()
            if found is None:
                try:
                    with self._write() as conn:
                        value = os.urandom(_audit.SECRET_BYTES).hex()
                        conn.execute(insert(meta).values(key="privacy_secret", value=value))
                except IntegrityError:
                    pass  # another store wrote it first: read theirs
                with self._use() as conn:
                    found = conn.execute(which).first()
            try:
                secret = bytes.fromhex(str(_audit.AUDIT.found(found)[0]))
            except ValueError:
                raise _audit.unreadable_secret() from None
            if len(secret) != _audit.SECRET_BYTES:
                raise _audit.unreadable_secret()
            self._secret = secret
        return self._secret

    def forget_merge(self, merge_id: str) -> None:
        """See :meth:`crmcore.storage.SupportsPrivacy.forget_merge`."""
        if not _audit.is_digest(merge_id):
            raise _audit.MERGE.not_found()
        t, p = self._tables.merges, self._tables.merge_participants
        with self._write() as conn:
            conn.execute(delete(p).where(p.c.merge_id == merge_id))
            if conn.execute(delete(t).where(t.c.id == merge_id)).rowcount != 1:
                raise _audit.MERGE.not_found()
            self._report(conn, AuditAction.DELETE, _audit.deleted("merge", merge_id))

    def compact(self) -> None:
        """Make deleted rows' bytes leave the database files.

        PostgreSQL: ``VACUUM FULL`` of every crmcore table (it rewrites each
        table from its live rows; it takes an exclusive lock on each while it
        runs). SQLite through SQLAlchemy: ``VACUUM`` and
        ``wal_checkpoint(TRUNCATE)``. Given a ``Connection`` (the app's
        transaction), nothing can run: ``VACUUM`` needs to be outside any
        transaction, so the app runs it after committing (``store.tables``
        lists the tables).

        Raises:
            StorageError: inside a :meth:`transaction`.
        """
        state = self._state()
        if self._joined is not None:
            return
        if state is not None and state.depth > 0:
            raise StorageError("compact() cannot run inside a transaction")
        assert self._reader is not None
        with self._translated(), self._reader.connect() as conn:
            if self._postgres:
                prepare = conn.dialect.identifier_preparer
                names = ", ".join(prepare.format_table(t) for t in self._tables.all())
                conn.execute(text(f"VACUUM FULL {names}"))
            elif self._dialect == "sqlite":
                conn.execute(text("VACUUM"))
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Release the store; it refuses further use. An engine it created itself is disposed."""
        self._closed = True
        self._decode.clear()
        if self._owns_engine and self._engine is not None:
            self._engine.dispose()

    def __repr__(self) -> str:
        bind = self._engine if self._engine is not None else self._joined
        return f"SQLStore(<{'closed' if bind is None or self._closed else bind.dialect.name}>)"


def open_url(url: str, **options: Any) -> SQLStore:
    """A :class:`SQLStore` on a new engine for a SQLAlchemy URL; closing the store disposes it.

    A SQLite URL gets the ``BEGIN IMMEDIATE`` recipe; missing tables are
    created (the store owns its engine, as a :class:`~crmcore.storage.SQLiteStore`
    owns its file).

    Raises:
        ValidationError: naming ``url`` when SQLAlchemy cannot read it or has
            no driver for it (the URL is never repeated: it may hold a
            password), or ``options`` for an option the store does not take.
        OperationalError: the database cannot be reached.
    """
    from sqlalchemy import create_engine

    from crmcore.storage.sql._connection import sqlite_immediate

    unknown = set(options) - {"schema", "table_prefix", "key_function"}
    if unknown:
        raise ValidationError("options", "holds an option this store does not take")
    try:
        engine = create_engine(url)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ValueError):
        raise ValidationError("url", "is not a database URL SQLAlchemy can open") from None
    except ImportError:
        raise ValidationError(
            "url", "names a driver that is not installed (pip install 'crmcore[postgres]')"
        ) from None
    if engine.dialect.name == "sqlite":
        sqlite_immediate(engine)
    try:
        store = SQLStore(engine, **options)
        store._owns_engine = True
        if not store._tables_exist() or store.schema_version() in UPGRADABLE:
            store.create_all()
    except BaseException:
        engine.dispose()
        raise
    return store
