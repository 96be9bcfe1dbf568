"""Service results show ids and counts in their reprs, never a record's personal data."""

from __future__ import annotations

from datetime import UTC, datetime

from crmcore import (
    Channel,
    Customer,
    Direction,
    InMemoryStore,
    Interaction,
    Lead,
    LeadStatus,
    PersonName,
    convert_lead,
    merge,
    merge_duplicates,
    timeline,
    unmerge,
)
from crmcore.dedup import find_duplicates

SECRETS = ("Zebulon", "Quartermaine", "zq.secret", "555 010 77", "5550107")


def _person(email: str) -> Customer:
    return Customer.create(
        name=PersonName(given="Zebulon", family="Quartermaine"),
        emails=[email],
        phones=["+46 8 555 010 77"],
        notes=f"Zebulon Quartermaine wrote from {email}",
    )


def _assert_masked(*objects: object) -> None:
    for obj in objects:
        text = repr(obj)
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"{type(obj).__name__} repr shows {leaked}"


def test_merge_unmerge_conversion_and_timeline_results_show_no_personal_data() -> None:
    store = InMemoryStore()
    first = store.customers.add(_person("zq.secret@example.org"))
    second = store.customers.add(_person("ZQ.secret@example.org"))
    store.interactions.add(
        Interaction.log(
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
            customer_id=second.id,
            subject="Zebulon Quartermaine asks",
        )
    )
    merged = merge(store, [first.id, second.id])
    page = timeline(store, first.id)
    assert len(page) == 1
    _assert_masked(merged, merged.plan, *merged.plan.decisions, *merged.plan.related)
    _assert_masked(merged.record, merged.record.before, page, *page.entries)
    _assert_masked(unmerge(store, merged.merge_id))

    lead = store.leads.add(
        Lead.create(
            name=PersonName(given="Zebulon", family="Quartermaine"), emails=["zq.secret@x.org"]
        )
    )
    lead = store.leads.update(lead.transition_to(LeadStatus.CONTACTED))
    lead = store.leads.update(lead.transition_to(LeadStatus.QUALIFIED))
    _assert_masked(convert_lead(store, lead.id))

    store.customers.add(_person("zq.secret@example.org"))
    bulk = merge_duplicates(store, find_duplicates(store))
    assert bulk.merged
    _assert_masked(bulk, *bulk.merged)
