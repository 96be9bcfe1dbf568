"""The SQL store's tables as SQLAlchemy ``MetaData``: one builder, any schema and prefix."""

from __future__ import annotations

import functools
from typing import Any, Final

import attrs
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import TypeEngine, UserDefinedType

SCHEMA_VERSION: Final = 1
"""The version of the tables this crmcore writes (kept in the ``<prefix>meta`` table)."""


class Document(UserDefinedType[str]):
    """A JSON document: ``JSONB`` on PostgreSQL, ``JSON`` on SQLite, text elsewhere.

    Bound and read as the converter's JSON text: the store never lets the
    driver parse a document into Python objects only to serialise it again.
    """

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        """The column type in DDL for dialects without their own rule."""
        return "TEXT"


@compiles(Document, "postgresql")
def _jsonb(element: Document, compiler: Any, **kw: Any) -> str:
    return "JSONB"


@compiles(Document, "sqlite")
def _json(element: Document, compiler: Any, **kw: Any) -> str:
    return "JSON"


def _ordered_text() -> TypeEngine[str]:
    # Ids and keys sort by code point, as in memory and SQLite: a database whose
    # default collation is a language's (en_US) would otherwise page in another order.
    return Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


@attrs.frozen
class Tables:
    """The crmcore tables of one schema and prefix."""

    metadata: MetaData
    meta: Table
    customers: Table
    customer_keys: Table
    leads: Table
    lead_keys: Table
    interactions: Table
    participants: Table
    merges: Table
    merge_participants: Table

    def all(self) -> tuple[Table, ...]:
        """Every table, parents before children."""
        return tuple(self.metadata.sorted_tables)


def _document_table(metadata: MetaData, name: str, *columns: Column[Any]) -> Table:
    """A table of documents: ``id`` and ``version``, ``columns`` (indexed copies), ``doc``.

    Every stored entity has this shape; the column order is the one the
    tables were first created with.
    """
    return Table(
        name,
        metadata,
        Column("id", _ordered_text(), nullable=False),
        Column("version", BigInteger, nullable=False),
        *columns,
        Column("doc", Document(), nullable=False),
        PrimaryKeyConstraint("id", name=f"{name}_pkey"),
    )


def _stamps() -> tuple[Column[Any], Column[Any]]:
    """``created_at`` and ``updated_at`` (microseconds), new for each table."""
    return (
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
    )


def _record_tables(
    metadata: MetaData, prefix: str, name: str, columns: list[Column[Any]]
) -> tuple[Table, Table]:
    table = _document_table(metadata, f"{prefix}{name}s", *columns, *_stamps())
    Index(f"{prefix}{name}s_created", table.c.created_at, table.c.id)
    Index(f"{prefix}{name}s_updated", table.c.updated_at, table.c.id)
    Index(f"{prefix}{name}s_owner", table.c.owner)
    Index(f"{prefix}{name}s_merged", table.c.merged_into)
    # One key table answers every lookup of the record type: a key, a record, and
    # what the key stands for (kinds: the FLAG_* bits: email, phone, identifier,
    # blocking key, tag). The index on record_id lets an update or a delete drop a
    # record's rows without recomputing them.
    keys = Table(
        f"{prefix}{name}_keys",
        metadata,
        Column("key", _ordered_text(), nullable=False),
        Column("record_id", _ordered_text(), nullable=False),
        Column("kinds", Integer, nullable=False),
        PrimaryKeyConstraint("key", "record_id", name=f"{prefix}{name}_keys_pkey"),
    )
    Index(f"{prefix}{name}_keys_record", keys.c.record_id)
    return table, keys


def build_tables(schema: str | None = None, prefix: str = "crm_") -> Tables:
    """The crmcore tables under ``schema`` (``None``: the connection's default) and ``prefix``."""
    return _build(schema, prefix)


@functools.cache
def _build(schema: str | None, prefix: str) -> Tables:
    metadata = MetaData(schema=schema)
    meta = Table(
        f"{prefix}meta",
        metadata,
        Column("key", Text, nullable=False),
        Column("value", Text, nullable=False),
        PrimaryKeyConstraint("key", name=f"{prefix}meta_pkey"),
    )
    customers, customer_keys = _record_tables(
        metadata,
        prefix,
        "customer",
        [
            Column("kind", Text, nullable=False),
            Column("stage", Text, nullable=False),
            Column("owner", Text),
            Column("organization_id", _ordered_text()),
            Column("merged_into", _ordered_text()),
            Column("birth_date", Text),
        ],
    )
    Index(f"{prefix}customers_organization", customers.c.organization_id)
    leads, lead_keys = _record_tables(
        metadata,
        prefix,
        "lead",
        [
            Column("status", Text, nullable=False),
            Column("source", Text),
            Column("owner", Text),
            Column("company", Text),
            Column("score", BigInteger),
            Column("converted_customer_id", _ordered_text()),
            Column("merged_into", _ordered_text()),
        ],
    )
    Index(f"{prefix}leads_converted", leads.c.converted_customer_id)
    interactions = _document_table(
        metadata,
        f"{prefix}interactions",
        Column("channel", Text, nullable=False),
        Column("occurred_at", BigInteger, nullable=False),
        Column("external_id", Text, unique=True),
        *_stamps(),
    )
    participants = Table(
        f"{prefix}interaction_participants",
        metadata,
        Column("record_id", _ordered_text(), nullable=False),
        Column("occurred_at", BigInteger, nullable=False),
        Column("interaction_id", _ordered_text(), nullable=False),
        Column("channel", Text, nullable=False),
        PrimaryKeyConstraint(
            "record_id", "occurred_at", "interaction_id", name=f"{prefix}participants_pkey"
        ),
        ForeignKeyConstraint(
            ["interaction_id"],
            [interactions.c.id],
            ondelete="CASCADE",
            name=f"{prefix}participants_interaction_fkey",
        ),
    )
    Index(f"{prefix}participants_interaction", participants.c.interaction_id)
    merges = _document_table(
        metadata,
        f"{prefix}merges",
        Column("survivor_id", _ordered_text(), nullable=False),
        Column("merged_at", BigInteger, nullable=False),
    )
    merge_participants = Table(
        f"{prefix}merge_participants",
        metadata,
        Column("record_id", _ordered_text(), nullable=False),
        Column("merge_id", _ordered_text(), nullable=False),
        PrimaryKeyConstraint("record_id", "merge_id", name=f"{prefix}merge_participants_pkey"),
        ForeignKeyConstraint(
            ["merge_id"],
            [merges.c.id],
            ondelete="CASCADE",
            name=f"{prefix}merge_participants_merge_fkey",
        ),
    )
    return Tables(
        metadata,
        meta,
        customers,
        customer_keys,
        leads,
        lead_keys,
        interactions,
        participants,
        merges,
        merge_participants,
    )


metadata: Final = build_tables().metadata
"""The crmcore tables with the default prefix ``crm_`` in the default schema.

Hand it to Alembic (``target_metadata = [app_metadata, crmcore.storage.sql.metadata]``)
so that autogenerate sees crmcore's tables next to the app's.
"""
