"""What a store holds, counted: entities, stages, statuses, channels, merges, duplicates.

Work items (opportunities, tasks and support cases) are counted by status,
and open tasks past their due time as overdue, on a store that keeps them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from crmcore._validation import ensure_utc, utcnow
from crmcore.cases import CaseStatus
from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import ValidationError
from crmcore.interactions import Channel
from crmcore.io._export import iter_interactions, iter_merges, record_ids, work_repository
from crmcore.leads import Lead, LeadStatus
from crmcore.pipelines import DealStatus
from crmcore.tasks import TaskStatus

if TYPE_CHECKING:
    from crmcore.dedup import DedupResult, RuleSet
    from crmcore.storage.protocols import Store

__all__ = ["DuplicateStats", "StoreStats", "live_records", "store_stats"]


@attrs.frozen
class DuplicateStats:
    """What duplicate detection finds among a store's live records.

    Attributes:
        records: the live customers and leads compared.
        clusters: groups of records the rules judge to be one entity
            (``crmcore dedupe --db ... --merge-above P`` merges those above P).
        records_in_clusters: the records in those groups.
        possible_pairs: pairs in the review band: alike, but not enough to merge.
    """

    records: int
    clusters: int
    records_in_clusters: int
    possible_pairs: int

    @classmethod
    def of(cls, records: int, result: DedupResult) -> DuplicateStats:
        """The figures of one deduplication run over ``records`` records."""
        return cls(
            records=records,
            clusters=len(result.clusters),
            records_in_clusters=sum(len(c.member_ids) for c in result.clusters),
            possible_pairs=len(result.possible_matches),
        )


@attrs.frozen
class StoreStats:
    """Counts of what a store holds (:func:`store_stats`); ``to_dict()`` for JSON.

    Breakdowns count live records only: a tombstone (a record merged into
    another) is counted in ``customers_merged`` / ``leads_merged`` alone.
    Opportunities, tasks and cases are counted by status (``tasks_overdue``:
    open tasks due before the time of the count); on a store that keeps no
    work items, their totals are 0 and their breakdowns empty.
    """

    customers: int
    customers_merged: int
    customers_by_kind: Mapping[str, int]
    customers_by_stage: Mapping[str, int]
    leads: int
    leads_merged: int
    leads_by_status: Mapping[str, int]
    interactions: int
    interactions_by_channel: Mapping[str, int]
    merges: int
    merges_undone: int
    duplicates: DuplicateStats | None = None
    opportunities: int = 0
    opportunities_by_status: Mapping[str, int] = attrs.field(factory=dict)
    tasks: int = 0
    tasks_by_status: Mapping[str, int] = attrs.field(factory=dict)
    tasks_overdue: int = 0
    cases: int = 0
    cases_by_status: Mapping[str, int] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The counts as JSON-compatible data, grouped by entity."""
        return {
            "customers": {
                "total": self.customers,
                "merged": self.customers_merged,
                "by_kind": dict(self.customers_by_kind),
                "by_stage": dict(self.customers_by_stage),
            },
            "leads": {
                "total": self.leads,
                "merged": self.leads_merged,
                "by_status": dict(self.leads_by_status),
            },
            "interactions": {
                "total": self.interactions,
                "by_channel": dict(self.interactions_by_channel),
            },
            "merges": {"total": self.merges, "undone": self.merges_undone},
            "opportunities": {
                "total": self.opportunities,
                "by_status": dict(self.opportunities_by_status),
            },
            "tasks": {
                "total": self.tasks,
                "by_status": dict(self.tasks_by_status),
                "overdue": self.tasks_overdue,
            },
            "cases": {"total": self.cases, "by_status": dict(self.cases_by_status)},
            "duplicates": None if self.duplicates is None else attrs.asdict(self.duplicates),
        }


def live_records(store: Store) -> list[Customer | Lead]:
    """The customers and leads that stand for someone now, in id order.

    Left out: tombstones (merged into another record) and converted leads
    (their customer stands for them).
    """
    records: list[Customer | Lead] = [
        c for c in store.customers.iter_all() if c.merged_into is None
    ]
    records.extend(
        lead
        for lead in store.leads.iter_all()
        if lead.merged_into is None and lead.status is not LeadStatus.CONVERTED
    )
    return records


def find_store_duplicates(
    store: Store, rules: RuleSet | None = None
) -> tuple[list[Customer | Lead], DedupResult]:
    """The live records of a store (:func:`live_records`) and their duplicates."""
    from crmcore.dedup import find_duplicates

    records = live_records(store)
    return records, find_duplicates(records, rules)


def store_stats(
    store: Store, *, duplicates: bool = True, now: datetime | None = None
) -> StoreStats:
    """Count what ``store`` holds.

    Customers by kind and lifecycle stage, leads by status, opportunities,
    tasks and cases by status, and the open tasks due before ``now`` (default:
    the current time) as overdue (all counted by the store's own ``count``),
    interactions by channel and merge records (read from every record's
    timeline and merge history), and, unless ``duplicates=False``, what
    duplicate detection (the default rules) finds among the live records: the
    part that takes the time on a large store.

    Raises:
        ValidationError: ``duplicates`` is not a bool, or ``now`` is not a
            timezone-aware datetime.
    """
    from crmcore.storage.protocols import where

    if not isinstance(duplicates, bool):
        raise ValidationError("duplicates", "must be true or false")
    at = utcnow() if now is None else ensure_utc(now, "now")
    live = where("merged_into").eq(None)
    customers = store.customers.count()
    leads = store.leads.count()
    ids = record_ids(store)
    channels: Counter[str] = Counter()
    for interaction in iter_interactions(store, ids):
        channels[interaction.channel.value] += 1
    merges = undone = 0
    for record in iter_merges(store, ids):
        merges += 1
        undone += not record.is_active
    work = _work_counts(store, at)
    found = None
    if duplicates:
        records, result = find_store_duplicates(store)
        found = DuplicateStats.of(len(records), result)
    return StoreStats(
        customers=customers,
        customers_merged=customers - store.customers.count(live),
        customers_by_kind={
            k.value: store.customers.count(live, where("kind").eq(k)) for k in CustomerKind
        },
        customers_by_stage={
            s.value: store.customers.count(live, where("stage").eq(s)) for s in LifecycleStage
        },
        leads=leads,
        leads_merged=leads - store.leads.count(live),
        leads_by_status={
            s.value: store.leads.count(live, where("status").eq(s)) for s in LeadStatus
        },
        interactions=sum(channels.values()),
        interactions_by_channel={c.value: channels[c.value] for c in Channel},
        merges=merges,
        merges_undone=undone,
        duplicates=found,
        **work,
    )


def _work_counts(store: Store, now: datetime) -> dict[str, Any]:
    """The opportunities, tasks and cases of ``store`` by status (nothing when it keeps none)."""
    from crmcore.storage.protocols import where

    counts: dict[str, Any] = {}
    for entity, statuses in (
        ("opportunities", DealStatus),
        ("tasks", TaskStatus),
        ("cases", CaseStatus),
    ):
        repository = work_repository(store, entity)
        if repository is None:
            continue
        counts[entity] = repository.count()
        counts[f"{entity}_by_status"] = {
            s.value: repository.count(where("status").eq(s)) for s in statuses
        }
        if entity == "tasks":
            counts["tasks_overdue"] = repository.count(
                where("status").eq(TaskStatus.OPEN), where("due_at").range(None, now)
            )
    return counts
