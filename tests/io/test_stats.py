"""crmcore.io.store_stats: every count checked against the records themselves."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given

from crmcore import Case, Customer, Interaction, Lead, Opportunity, Task, ValidationError
from crmcore.io import live_records, store_stats
from crmcore.leads import LeadStatus
from crmcore.merge import merge, unmerge
from crmcore.merge_record import MergeRecord
from crmcore.storage import InMemoryStore, SQLiteStore
from crmcore.testing._builders import customer, interaction, lead
from tests.io.test_export import stored_records

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


@given(stored_records())
def test_counts_match_the_records(records: list[Any]) -> None:
    with InMemoryStore() as store:
        store.load(records)
        stats = store_stats(store, duplicates=False, now=NOW)
    people = [r for r in records if isinstance(r, Customer)]
    prospects = [r for r in records if isinstance(r, Lead)]
    live_people = [c for c in people if c.merged_into is None]
    live_prospects = [r for r in prospects if r.merged_into is None]
    assert stats.customers == len(people)
    assert stats.customers_merged == len(people) - len(live_people)
    assert sum(stats.customers_by_stage.values()) == len(live_people)
    assert sum(stats.customers_by_kind.values()) == len(live_people)
    assert Counter(c.kind.value for c in live_people) == +Counter(stats.customers_by_kind)
    assert Counter(c.stage.value for c in live_people) == +Counter(stats.customers_by_stage)
    assert stats.leads == len(prospects)
    assert Counter(r.status.value for r in live_prospects) == +Counter(stats.leads_by_status)
    logged = [r for r in records if isinstance(r, Interaction)]
    assert stats.interactions == len(logged)
    assert Counter(i.channel.value for i in logged) == +Counter(stats.interactions_by_channel)
    merges = [r for r in records if isinstance(r, MergeRecord)]
    assert stats.merges == len(merges)
    assert stats.merges_undone == sum(1 for m in merges if not m.is_active)
    assert stats.duplicates is None
    assert stats.to_dict()["customers"]["total"] == len(people)
    for entity, kind in (("opportunities", Opportunity), ("tasks", Task), ("cases", Case)):
        items = [r for r in records if isinstance(r, kind)]
        assert getattr(stats, entity) == len(items)
        by_status = getattr(stats, f"{entity}_by_status")
        assert Counter(i.status.value for i in items) == +Counter(by_status)
        assert stats.to_dict()[entity]["by_status"] == by_status
    tasks = [r for r in records if isinstance(r, Task)]
    assert stats.tasks_overdue == sum(t.is_overdue(NOW) for t in tasks)
    assert stats.to_dict()["tasks"]["overdue"] == stats.tasks_overdue


def test_duplicates_awaiting_review_are_counted_on_live_records_only() -> None:
    with SQLiteStore(":memory:") as store:
        a = store.customers.add(customer(1))
        store.customers.add(customer(1, id=customer(2).id))  # the same person again
        store.customers.add(customer(3))
        store.leads.add(lead(4))
        store.leads.add(lead(4, id=lead(5).id, status=LeadStatus.CONVERTED))
        store.interactions.add(interaction((a.id,), 1))
        stats = store_stats(store)
        assert stats.duplicates is not None
        assert stats.duplicates.records == 4  # the converted lead stands for nobody new
        assert stats.duplicates.clusters == 1
        assert stats.duplicates.records_in_clusters == 2
        pair = [r.id for r in live_records(store) if isinstance(r, Customer)][:2]
        merged = merge(store, pair)
        after = store_stats(store)
        assert after.customers == 3
        assert after.customers_merged == 1
        assert after.merges == 1
        assert after.duplicates is not None
        assert after.duplicates.clusters == 0
        assert after.duplicates.records == 3
        unmerge(store, merged.merge_id)
        undone = store_stats(store, duplicates=False)
        assert (undone.merges, undone.merges_undone, undone.customers_merged) == (1, 1, 0)
        data = after.to_dict()
        assert data["duplicates"]["records_in_clusters"] == 0
        assert data["interactions"] == {
            "total": 1,
            "by_channel": {c: int(c == "phone_call") for c in data["interactions"]["by_channel"]},
        }


def test_the_duplicates_flag_is_checked() -> None:
    with InMemoryStore() as store, pytest.raises(ValidationError, match="duplicates"):
        store_stats(store, duplicates="no")  # type: ignore[arg-type]


def test_overdue_tasks_are_the_open_ones_due_before_now() -> None:
    with SQLiteStore(":memory:") as store:
        due = [NOW - timedelta(days=1), NOW - timedelta(seconds=1), NOW, NOW + timedelta(days=1)]
        for i, when in enumerate(due):
            store.tasks.add(Task.create(title=f"task {i}", due_at=when))
        done = store.tasks.add(Task.create(title="done", due_at=NOW - timedelta(days=2)))
        store.tasks.update(done.complete(at=NOW - timedelta(days=1)))
        store.tasks.add(Task.create(title="undated"))
        stats = store_stats(store, duplicates=False, now=NOW)
        assert (stats.tasks, stats.tasks_overdue) == (6, 2)
        assert stats.tasks_by_status == {"open": 5, "done": 1, "cancelled": 0}
        later = store_stats(store, duplicates=False, now=NOW + timedelta(days=2))
        assert later.tasks_overdue == 4
    with InMemoryStore() as store, pytest.raises(ValidationError, match="now"):
        store_stats(store, now=datetime(2025, 6, 1))  # naive: which zone?
