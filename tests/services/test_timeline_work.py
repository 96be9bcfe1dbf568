"""timeline: stage changes, task completions and case events beside the interactions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import (
    CaseStatus,
    Channel,
    Customer,
    CustomerKind,
    Direction,
    Interaction,
    Lead,
    LeadStatus,
    ValidationError,
    convert_lead,
    merge,
    timeline,
    unmerge,
)
from crmcore.storage import InMemoryStore
from crmcore.timeline import EntryKind, Relation
from tests.merge.records import BASE
from tests.merge.work import PIPELINE, WORK_STORES, NoWorkItemsStore, case, opportunity, task
from tests.services.test_timeline import _read_all


def _log(store: Any, record_id: str, hours: int, channel: Channel = Channel.EMAIL) -> Interaction:
    stored: Interaction = store.interactions.add(
        Interaction.log(
            channel=channel,
            direction=Direction.INBOUND,
            occurred_at=BASE + timedelta(hours=hours),
            customer_id=record_id,  # type: ignore[arg-type]
        )
    )
    return stored


def _at(hours: int) -> Any:
    return BASE + timedelta(hours=hours)


def _summary(entries: Any) -> list[tuple[EntryKind, str, str, Relation]]:
    return [(e.kind, e.key, e.record_id, e.relation) for e in entries]


def test_the_work_is_on_the_timeline_beside_the_interactions() -> None:
    store = InMemoryStore()
    ada = store.customers.add(Customer.create(name="Ada"))
    form = _log(store, ada.id, 0, Channel.WEB_FORM)
    deal = opportunity(ada.id, hours=1).move_to(PIPELINE, "quote", at=_at(3))
    deal = store.opportunities.add(deal.move_to(PIPELINE, "won", at=_at(6)))
    done = store.tasks.add(task(ada.id, done_hours=2))
    store.tasks.add(task(ada.id))  # still open: nothing happened yet
    request = case(ada.id, hours=4).transition_to(CaseStatus.RESOLVED, at=_at(5))
    request = store.cases.add(request)

    entries = list(timeline(store, ada.id))
    assert [(e.kind, e.occurred_at) for e in entries] == [
        (EntryKind.STAGE_CHANGE, _at(6)),
        (EntryKind.CASE_EVENT, _at(5)),
        (EntryKind.CASE_EVENT, _at(4)),
        (EntryKind.STAGE_CHANGE, _at(3)),
        (EntryKind.TASK_COMPLETED, _at(2)),
        (EntryKind.STAGE_CHANGE, _at(1)),
        (EntryKind.INTERACTION, _at(0)),
    ]
    won, resolved = entries[0], entries[1]
    assert won.opportunity == deal
    assert won.index == 2
    assert won.interaction is None
    assert won.stage_change is not None
    assert won.stage_change.stage_id == "won"
    assert resolved.case == request
    assert resolved.case_event is not None
    assert resolved.case_event.status is CaseStatus.RESOLVED
    assert entries[4].task == done
    assert entries[6].interaction == form
    assert entries[6].stage_change is None
    assert {e.relation for e in entries} == {Relation.DIRECT}
    assert {e.record_id for e in entries} == {ada.id}
    # Reprs show ids, never subjects or names.
    assert "noisy" not in repr(entries)
    assert "Espresso" not in repr(entries)


def test_include_picks_kinds_and_channels_keep_to_interactions() -> None:
    store = InMemoryStore()
    ada = store.customers.add(Customer.create(name="Ada"))
    mail = _log(store, ada.id, 0)
    deal = store.opportunities.add(opportunity(ada.id, hours=1))
    done = store.tasks.add(task(ada.id, done_hours=2))
    store.cases.add(case(ada.id, hours=3))

    assert _summary(
        timeline(store, ada.id, include=[EntryKind.TASK_COMPLETED, "stage_change"])
    ) == [
        (EntryKind.TASK_COMPLETED, done.id, ada.id, Relation.DIRECT),
        (EntryKind.STAGE_CHANGE, f"{deal.id}#0", ada.id, Relation.DIRECT),
    ]
    only_mail = timeline(store, ada.id, include="interaction")
    assert [e.interaction for e in only_mail] == [mail]
    assert [e.interaction for e in timeline(store, ada.id, channels=[Channel.EMAIL])] == [mail]
    assert len(timeline(store, ada.id)) == 4
    with pytest.raises(ValidationError) as refused:
        timeline(store, ada.id, include=["carrier pigeon"])
    assert refused.value.paths == ("include",)


def test_merged_records_bring_their_work_and_unmerge_takes_it_back() -> None:
    store = InMemoryStore()
    ada = store.customers.add(Customer.create(name="Ada"))
    dup = store.customers.add(Customer.create(name="Ada L"))
    older = store.customers.add(Customer.create(name="A L"))
    deal = store.opportunities.add(opportunity(older.id, hours=1))
    done = store.tasks.add(task(dup.id, done_hours=2))
    request = store.cases.add(case(ada.id, hours=3))
    merge(store, [dup.id, older.id], survivor=dup.id)
    last = merge(store, [ada.id, dup.id], survivor=ada.id)

    assert _summary(timeline(store, ada.id)) == [
        (EntryKind.CASE_EVENT, f"{request.id}#0", ada.id, Relation.DIRECT),
        (EntryKind.TASK_COMPLETED, done.id, dup.id, Relation.MERGED),
        (EntryKind.STAGE_CHANGE, f"{deal.id}#0", older.id, Relation.MERGED),
    ]
    assert _summary(timeline(store, older.id)) == _summary(timeline(store, ada.id))
    unmerge(store, last.merge_id)
    assert [e.key for e in timeline(store, ada.id)] == [f"{request.id}#0"]
    assert _summary(timeline(store, dup.id)) == [
        (EntryKind.TASK_COMPLETED, done.id, dup.id, Relation.DIRECT),
        (EntryKind.STAGE_CHANGE, f"{deal.id}#0", older.id, Relation.MERGED),
    ]


def test_tasks_about_converted_leads_deals_and_cases_are_the_customers() -> None:
    store = InMemoryStore()
    lead = store.leads.add(attrs.evolve(Lead.create(name="Ada"), status=LeadStatus.QUALIFIED))
    on_lead = store.tasks.add(task(lead.id, done_hours=1))
    ada = convert_lead(store, lead.id).customer
    deal = store.opportunities.add(opportunity(ada.id, hours=2))
    request = store.cases.add(case(ada.id, hours=3))
    on_deal = store.tasks.add(task(deal.id, done_hours=4))
    on_case = store.tasks.add(task(request.id, done_hours=5))
    store.tasks.add(task(store.customers.add(Customer.create(name="Bob")).id, done_hours=6))

    tasks = timeline(store, ada.id, include=[EntryKind.TASK_COMPLETED])
    assert _summary(tasks) == [
        (EntryKind.TASK_COMPLETED, on_case.id, ada.id, Relation.DIRECT),
        (EntryKind.TASK_COMPLETED, on_deal.id, ada.id, Relation.DIRECT),
        (EntryKind.TASK_COMPLETED, on_lead.id, lead.id, Relation.CONVERTED_LEAD),
    ]


def test_organisation_members_bring_their_work_on_request() -> None:
    store = InMemoryStore()
    acme = store.customers.add(Customer.create(name="Acme", kind=CustomerKind.ORGANIZATION))
    ada = store.customers.add(Customer.create(name="Ada").in_organization(acme.id))
    own = store.opportunities.add(opportunity(acme.id, hours=1))
    theirs = store.cases.add(case(ada.id, hours=2))
    assert [e.key for e in timeline(store, acme.id)] == [f"{own.id}#0"]
    assert _summary(timeline(store, acme.id, include_organization_members=True)) == [
        (EntryKind.CASE_EVENT, f"{theirs.id}#0", ada.id, Relation.ORGANIZATION_MEMBER),
        (EntryKind.STAGE_CHANGE, f"{own.id}#0", acme.id, Relation.DIRECT),
    ]


def test_a_store_without_work_items_shows_interactions_only() -> None:
    inner = InMemoryStore()
    ada = inner.customers.add(Customer.create(name="Ada"))
    mail = _log(inner, ada.id, 0)
    inner.opportunities.add(opportunity(ada.id, hours=1))
    assert [e.interaction for e in timeline(NoWorkItemsStore(inner), ada.id)] == [mail]


@WORK_STORES
@settings(max_examples=15)
@given(
    interactions=st.lists(st.integers(0, 30), max_size=8),
    moves=st.lists(st.integers(0, 30), max_size=6),
    done=st.lists(st.integers(0, 30), max_size=4),
    cases=st.lists(st.integers(0, 30), max_size=4),
    limit=st.integers(1, 4),
    window=st.tuples(st.integers(0, 30), st.integers(0, 30)),
)
def test_mixed_pages_are_complete_ordered_and_filtered(
    make_store: Any,
    interactions: list[int],
    moves: list[int],
    done: list[int],
    cases: list[int],
    limit: int,
    window: tuple[int, int],
) -> None:
    with make_store() as store:
        ada = store.customers.add(Customer.create(name="Ada"))
        stamps: dict[str, Any] = {}
        for hours in interactions:
            stamps[_log(store, ada.id, hours).id] = _at(hours)
        # One deal per stage change drawn: every entry shares moments with others.
        for hours in moves:
            deal = store.opportunities.add(opportunity(ada.id, hours=hours))
            stamps[f"{deal.id}#0"] = _at(hours)
        for hours in done:
            stamps[store.tasks.add(task(ada.id, done_hours=hours)).id] = _at(hours)
        for hours in cases:
            stamps[f"{store.cases.add(case(ada.id, hours=hours)).id}#0"] = _at(hours)

        entries = _read_all(store, ada.id, limit)
        keys = [(e.occurred_at, e.key) for e in entries]
        assert keys == sorted(keys, reverse=True)
        assert {e.key: e.occurred_at for e in entries} == stamps
        assert len(entries) == len(stamps)
        since, until = _at(min(window)), _at(max(window))
        kinds = [EntryKind.STAGE_CHANGE, EntryKind.INTERACTION]
        filtered = _read_all(store, ada.id, limit, since=since, until=until, include=kinds)
        assert {e.key for e in filtered} == {
            key
            for key, at in stamps.items()
            if since <= at < until and not key.startswith(("tsk_", "cas_"))
        }
