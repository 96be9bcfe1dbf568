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

from crmcore.storage.sqlite._schema import SCHEMA_VERSION
from crmcore.storage.sqlite._store import SQLiteStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]
