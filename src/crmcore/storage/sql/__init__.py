"""SQLStore: crmcore's tables in a SQL database through SQLAlchemy Core (extra ``crmcore[sql]``).

Made for PostgreSQL (extra ``crmcore[postgres]``, the psycopg 3 driver), next
to an app's own tables and inside its transactions; it also runs on SQLite,
and nothing prevents other SQLAlchemy dialects.

- Documents are the converter's JSON (``JSONB`` on PostgreSQL, ``JSON`` on
  SQLite) next to indexed columns for filters and ordering, and one key table
  per record type answers every lookup (emails, phones, identifiers, blocking
  keys, tags).
- Every update is compare-and-set (``UPDATE ... WHERE id = :id AND version =
  :v``, checking the row count); batches are multi-row statements.
- Driver errors never escape: they become crmcore's storage errors (by
  SQLSTATE on PostgreSQL), or ``DuplicateRecord`` / ``VersionConflict`` /
  ``NotFound`` where meant.
- :data:`metadata` is the tables as SQLAlchemy ``MetaData`` (for Alembic);
  :meth:`SQLStore.create_all` creates them; a store refuses tables of another
  :data:`SCHEMA_VERSION`.
"""

from crmcore.storage.sql._schema import SCHEMA_VERSION, Document, Tables, build_tables, metadata
from crmcore.storage.sql._store import SQLStore

__all__ = ["SCHEMA_VERSION", "Document", "SQLStore", "Tables", "build_tables", "metadata"]
