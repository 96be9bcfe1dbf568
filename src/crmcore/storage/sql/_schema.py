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

SCHEMA_VERSION: Final = 3
"""The version of the tables this crmcore writes (kept in the ``<prefix>meta`` table).

Version 2 added the work item tables (opportunities, tasks, cases, and their
members), version 3 the audit trail, suppression list and subject requests
(issue 11); :meth:`~crmcore.storage.sql.SQLStore.create_all` upgrades version
1 and 2 tables in place, since each only added tables."""
UPGRADABLE: Final = frozenset({1, 2})
"""Older versions :meth:`~crmcore.storage.sql.SQLStore.create_all` upgrades by adding tables."""


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
    opportunities: Table
    opportunity_members: Table
    tasks: Table
    task_members: Table
    cases: Table
    case_members: Table
    audit_entries: Table
    audit_targets: Table
    suppressions: Table
    requests: Table

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


def _item_tables(
    metadata: MetaData, prefix: str, name: str, plural: str, columns: list[Column[Any]]
) -> tuple[Table, Table]:
    """A work item's table (its filter columns) and its members table (tags, contacts)."""
    table = _document_table(metadata, f"{prefix}{plural}", *columns, *_stamps())
    Index(f"{prefix}{plural}_created", table.c.created_at, table.c.id)
    Index(f"{prefix}{plural}_updated", table.c.updated_at, table.c.id)
    # (field, value, item): one tag or contact of an item, so that every CONTAINS
    # filter is an index search; the index on item_id drops an item's rows.
    members = Table(
        f"{prefix}{name}_members",
        metadata,
        Column("field", Text, nullable=False),
        Column("value", _ordered_text(), nullable=False),
        Column("item_id", _ordered_text(), nullable=False),
        PrimaryKeyConstraint("field", "value", "item_id", name=f"{prefix}{name}_members_pkey"),
    )
    Index(f"{prefix}{name}_members_item", members.c.item_id)
    return table, members


def _work_tables(metadata: MetaData, prefix: str) -> tuple[Table, ...]:
    opportunities, opportunity_members = _item_tables(
        metadata,
        prefix,
        "opportunity",
        "opportunities",
        [
            Column("customer_id", _ordered_text(), nullable=False),
            Column("pipeline_id", Text, nullable=False),
            Column("stage_id", Text, nullable=False),
            Column("status", Text, nullable=False),
            Column("owner", Text),
            Column("lead_id", _ordered_text()),
            Column("source", Text),
            Column("currency", Text),
            Column("close_date", Text),
            Column("closed_at", BigInteger),
            # What totals groups and sums on: the probability as decimal text, the
            # close month ("YYYY-MM"), the exact amount text, the amount in
            # 10**-AMOUNT_SCALE when that is an integer within 64 bits (summed by
            # the database), and the amount's exponent (the places of a sum).
            Column("probability", Text, nullable=False),
            Column("close_month", Text),
            Column("amount", Text),
            Column("amount_units", BigInteger),
            Column("amount_exp", Integer),
        ],
    )
    Index(f"{prefix}opportunities_customer", opportunities.c.customer_id)
    Index(f"{prefix}opportunities_lead", opportunities.c.lead_id)
    Index(f"{prefix}opportunities_owner", opportunities.c.owner)
    Index(f"{prefix}opportunities_pipeline", opportunities.c.pipeline_id, opportunities.c.stage_id)
    # Covers what totals reads for the pipeline queries (open deals by stage, the
    # forecast by close month): the aggregate reads no document.
    o = opportunities.c
    Index(
        f"{prefix}opportunities_totals",
        *(o.status, o.close_date, o.pipeline_id, o.stage_id, o.close_month, o.probability),
        *(o.currency, o.amount_units, o.amount_exp),
    )
    tasks, task_members = _item_tables(
        metadata,
        prefix,
        "task",
        "tasks",
        [
            Column("kind", Text, nullable=False),
            Column("status", Text, nullable=False),
            Column("priority", Text, nullable=False),
            Column("assignee", Text),
            Column("about_id", _ordered_text()),
            Column("due_at", BigInteger),
            Column("completed_at", BigInteger),
        ],
    )
    Index(f"{prefix}tasks_assignee", tasks.c.assignee, tasks.c.due_at)
    Index(f"{prefix}tasks_about", tasks.c.about_id)
    Index(f"{prefix}tasks_due", tasks.c.status, tasks.c.due_at)
    cases, case_members = _item_tables(
        metadata,
        prefix,
        "case",
        "cases",
        [
            Column("customer_id", _ordered_text(), nullable=False),
            Column("status", Text, nullable=False),
            Column("priority", Text, nullable=False),
            Column("channel", Text, nullable=False),
            Column("assignee", Text),
            Column("reported_at", BigInteger, nullable=False),
            Column("resolved_at", BigInteger),
        ],
    )
    Index(f"{prefix}cases_customer", cases.c.customer_id)
    Index(f"{prefix}cases_assignee", cases.c.assignee, cases.c.status)
    Index(f"{prefix}cases_status", cases.c.status, cases.c.reported_at)
    return opportunities, opportunity_members, tasks, task_members, cases, case_members


def _privacy_tables(metadata: MetaData, prefix: str) -> tuple[Table, ...]:
    # targets: the entry's targets as compact JSON ([[entity, id, version, [fields]], ...]):
    # ids and field names only, never values, so erasure never rewrites the trail.
    entries = Table(
        f"{prefix}audit_entries",
        metadata,
        Column("id", _ordered_text(), nullable=False),
        Column("at", BigInteger, nullable=False),
        Column("actor", Text),
        Column("action", Text, nullable=False),
        Column("operation", Text),
        Column("targets", Text, nullable=False),
        PrimaryKeyConstraint("id", name=f"{prefix}audit_entries_pkey"),
    )
    # One row per record an entry names, for list(record_id=...).
    targets = Table(
        f"{prefix}audit_targets",
        metadata,
        Column("record_id", _ordered_text(), nullable=False),
        Column("entry_id", _ordered_text(), nullable=False),
        PrimaryKeyConstraint("record_id", "entry_id", name=f"{prefix}audit_targets_pkey"),
    )
    suppressions = Table(
        f"{prefix}suppressions",
        metadata,
        Column("digest", _ordered_text(), nullable=False),
        PrimaryKeyConstraint("digest", name=f"{prefix}suppressions_pkey"),
    )
    requests = Table(
        f"{prefix}subject_requests",
        metadata,
        Column("id", _ordered_text(), nullable=False),
        Column("version", BigInteger, nullable=False),
        Column("answered_at", BigInteger),
        Column("doc", Text, nullable=False),
        PrimaryKeyConstraint("id", name=f"{prefix}subject_requests_pkey"),
    )
    return entries, targets, suppressions, requests


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
        *_work_tables(metadata, prefix),
        *_privacy_tables(metadata, prefix),
    )


metadata: Final = build_tables().metadata
"""The crmcore tables with the default prefix ``crm_`` in the default schema.

Hand it to Alembic (``target_metadata = [app_metadata, crmcore.storage.sql.metadata]``)
so that autogenerate sees crmcore's tables next to the app's.
"""
