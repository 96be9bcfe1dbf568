"""The SQLite schema: tables, indexes and the forward migrations, by version."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

CUSTOMER_COLUMNS: Final = (
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
LEAD_COLUMNS: Final = (
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


# The work items of issue 14. Their filterable columns are the allow-lists' scalar
# fields (crmcore.storage._common); the set-valued ones (tags, contact_ids) are rows
# of the kind's members table, so that every CONTAINS filter is an index search.
OPPORTUNITY_COLUMNS: Final = (
    "id",
    "customer_id",
    "pipeline_id",
    "stage_id",
    "status",
    "owner",
    "lead_id",
    "source",
    "currency",
    "close_date",
    "closed_at",
    "created_at",
    "updated_at",
)
OPPORTUNITY_TOTALS: Final = ("probability", "close_month", "amount", "amount_units", "amount_exp")
"""The opportunity columns ``totals`` groups and sums on, besides the filter columns."""
TASK_COLUMNS: Final = (
    "id",
    "kind",
    "status",
    "priority",
    "assignee",
    "about_id",
    "due_at",
    "completed_at",
    "created_at",
    "updated_at",
)
CASE_COLUMNS: Final = (
    "id",
    "customer_id",
    "status",
    "priority",
    "channel",
    "assignee",
    "reported_at",
    "resolved_at",
    "created_at",
    "updated_at",
)


def _item_tables(table: str, members: str, columns: str, indexes: Sequence[str]) -> list[str]:
    return [
        f"CREATE TABLE {table} ("
        f"id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, {columns}, "
        "created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, doc TEXT NOT NULL)",
        f"CREATE INDEX {table}_created ON {table} (created_at, id)",
        f"CREATE INDEX {table}_updated ON {table} (updated_at, id)",
        *(f"CREATE INDEX {table}_{name} ON {table} {spec}" for name, spec in _pairs(indexes)),
        # (field, value, item): a tag or a contact of an item. Written and deleted by
        # the store in the item's transaction, as the records' lookup rows are.
        f"CREATE TABLE {members} ("
        "field TEXT NOT NULL, value TEXT NOT NULL, item_id TEXT NOT NULL, "
        "PRIMARY KEY (field, value, item_id)) WITHOUT ROWID",
        f"CREATE INDEX {members}_item ON {members} (item_id)",
    ]


WORK_ITEMS_MIGRATION: Final[tuple[str, ...]] = (
    *_item_tables(
        "opportunities",
        "opportunity_members",
        "customer_id TEXT NOT NULL, pipeline_id TEXT NOT NULL, stage_id TEXT NOT NULL, "
        "status TEXT NOT NULL, owner TEXT, lead_id TEXT, source TEXT, currency TEXT, "
        "close_date TEXT, closed_at INTEGER, probability TEXT NOT NULL, close_month TEXT, "
        # amount: the exact decimal text; amount_units: the amount in 10**-AMOUNT_SCALE
        # when that is an integer within 64 bits (NULL otherwise), summed by SQL;
        # amount_exp: its exponent, so a sum keeps the places a Decimal sum would.
        "amount TEXT, amount_units INTEGER, amount_exp INTEGER",
        (
            "customer",
            "(customer_id)",
            "lead",
            "(lead_id) WHERE lead_id IS NOT NULL",
            "owner",
            "(owner)",
            "pipeline",
            "(pipeline_id, stage_id)",
            # Covers what totals reads for the pipeline queries (open deals by stage,
            # the forecast by close month): the aggregate never reads a document page.
            "totals",
            "(status, close_date, pipeline_id, stage_id, close_month, probability, currency, "
            "amount_units, amount_exp)",
        ),
    ),
    *_item_tables(
        "tasks",
        "task_members",
        "kind TEXT NOT NULL, status TEXT NOT NULL, priority TEXT NOT NULL, assignee TEXT, "
        "about_id TEXT, due_at INTEGER, completed_at INTEGER",
        (
            "assignee",
            "(assignee, due_at)",
            "about",
            "(about_id) WHERE about_id IS NOT NULL",
            "due",
            "(status, due_at)",
        ),
    ),
    *_item_tables(
        "cases",
        "case_members",
        "customer_id TEXT NOT NULL, status TEXT NOT NULL, priority TEXT NOT NULL, "
        "channel TEXT NOT NULL, assignee TEXT, reported_at INTEGER NOT NULL, resolved_at INTEGER",
        (
            "customer",
            "(customer_id)",
            "assignee",
            "(assignee, status)",
            "status",
            "(status, reported_at)",
        ),
    ),
)
"""The SQLite schema migration that adds opportunities, tasks and support cases.

A case's thread needs no new column: an interaction's ``case_id`` is one more
row of ``interaction_participants``, so ``list_for(case_id)`` is the timeline
query. Interactions stored before it hold no case, so nothing is backfilled.
"""


PRIVACY_MIGRATION: Final[tuple[str, ...]] = (
    # targets: the entry's targets as compact JSON (see storage._audit.encode_targets),
    # zlib-compressed when long: ids and field names only, never values, so erasure
    # never rewrites the trail. seq keys the index rows with a small integer.
    "CREATE TABLE audit_entries ("
    "seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, at INTEGER NOT NULL, actor TEXT, "
    "action TEXT NOT NULL, operation TEXT, targets BLOB NOT NULL)",
    # One row per record an entry names, for list(record_id=...): about 40 bytes each,
    # which is what auditing adds to an add_many per record besides its entry's share.
    "CREATE TABLE audit_targets ("
    "record_id TEXT NOT NULL, entry INTEGER NOT NULL, "
    "PRIMARY KEY (record_id, entry)) WITHOUT ROWID",
    "CREATE TABLE suppressions (digest TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID",
    "CREATE TABLE subject_requests ("
    "id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, answered_at INTEGER, "
    "doc TEXT NOT NULL)",
)
"""The SQLite schema migration that adds the audit trail, suppressions and subject requests
(issue 11). Records stored before it have no entries: the trail starts with the migration."""


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
    # 2 -> 3: opportunities, tasks and support cases (issue 14).
    WORK_ITEMS_MIGRATION,
    # 3 -> 4: the audit trail, the suppression list and subject requests (issue 11).
    PRIVACY_MIGRATION,
)

SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this crmcore writes; older files are migrated forward on open."""
