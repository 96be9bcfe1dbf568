"""crmcore.io.store_stats: every count checked against the records themselves."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given

from crmcore import Customer, Interaction, Lead, ValidationError
from crmcore.io import live_records, store_stats
from crmcore.leads import LeadStatus
from crmcore.merge import merge, unmerge
from crmcore.merge_record import MergeRecord
from crmcore.storage import InMemoryStore, SQLiteStore
from crmcore.testing._builders import customer, interaction, lead
from tests.io.test_export import stored_records


@given(stored_records())
def test_counts_match_the_records(records: list[Any]) -> None:
    with InMemoryStore() as store:
        store.load(records)
        stats = store_stats(store, duplicates=False)
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
