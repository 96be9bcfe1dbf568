"""A merge moves the merged records' opportunities, tasks and cases; unmerge moves them back."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import (
    Case,
    ContactRole,
    Customer,
    Lead,
    LeadStatus,
    Opportunity,
    Task,
    merge,
    unmerge,
)
from crmcore.events import (
    CaseUpdated,
    EventDispatcher,
    EventRecorder,
    OpportunityUpdated,
    RecordsMerged,
    TaskUpdated,
)
from crmcore.merge import UnmergeConflict, plan_merge
from crmcore.merge_record import MergeRecord, Snapshot
from crmcore.serialization import from_dict, to_dict
from crmcore.storage import InMemoryStore
from tests.merge.records import customers, groups, interactions_for, leads
from tests.merge.stores import dump
from tests.merge.work import (
    PIPELINE,
    WORK_STORES,
    NoWorkItemsStore,
    WorkItem,
    add_work,
    case,
    opportunity,
    task,
    work_items_for,
)


def _expected_move(item: WorkItem, survivor: Any, merged: set[Any]) -> WorkItem:
    """What a merge of ``merged`` into ``survivor`` must make of ``item``, computed apart."""
    if isinstance(item, Task):
        return attrs.evolve(item, about_id=survivor) if item.about_id in merged else item
    if isinstance(item, Case):
        return attrs.evolve(item, customer_id=survivor) if item.customer_id in merged else item
    contacts: list[ContactRole] = []
    for contact in item.contacts:
        moved = ContactRole(survivor, contact.role) if contact.customer_id in merged else contact
        if moved not in contacts:
            contacts.append(moved)
    customer_id = survivor if item.customer_id in merged else item.customer_id
    return attrs.evolve(item, customer_id=customer_id, contacts=tuple(contacts))


def _seed(store: Any, records: list[Customer], items: list[WorkItem]) -> list[WorkItem]:
    for record in records:
        store.customers.add(record)
    return add_work(store, items)


def _stored(store: Any, item: WorkItem) -> WorkItem:
    if isinstance(item, Opportunity):
        return store.opportunities.get(item.id)  # type: ignore[no-any-return]
    if isinstance(item, Task):
        return store.tasks.get(item.id)  # type: ignore[no-any-return]
    return store.cases.get(item.id)  # type: ignore[no-any-return]


@WORK_STORES
@settings(max_examples=30)
@given(records=groups(), data=st.data())
def test_a_merge_moves_the_work_and_unmerge_moves_it_back_exactly(
    make_store: Any, records: list[Customer], data: st.DataObject
) -> None:
    with make_store() as store:
        ids = [r.id for r in records]
        outsider = data.draw(customers())
        items = data.draw(work_items_for([*ids, outsider.id]))
        stored = _seed(store, [*records, outsider], items)
        interactions = data.draw(interactions_for(ids))
        for interaction in interactions:
            store.interactions.add(interaction)
        before = dump(store, ids, bookkeeping=False)
        survivor = data.draw(st.sampled_from(ids))
        merged = set(ids) - {survivor}

        result = merge(store, ids, survivor=survivor)

        moved = {item.id for item in stored if _expected_move(item, survivor, merged) != item}
        for item in stored:
            now = _stored(store, item)
            expected = _expected_move(item, survivor, merged)
            assert attrs.evolve(now, version=0, updated_at=item.updated_at) == attrs.evolve(
                expected, version=0
            )
            assert now.version == item.version + (item.id in moved)
        record = store.merges.get(result.merge_id)
        # The merge record lists every move, with the copies before and after.
        work_before = {
            i.id: i
            for i in (*record.before.opportunities, *record.before.tasks, *record.before.cases)
        }
        work_after = {
            i.id: i for i in (*record.after.opportunities, *record.after.tasks, *record.after.cases)
        }
        assert set(work_before) == set(work_after) == moved
        assert moved <= set(record.repointed_ids)
        for item in stored:
            if item.id in moved:
                assert work_before[item.id] == item
                assert work_after[item.id] == _stored(store, item)

        undone = unmerge(store, result.merge_id)
        assert not undone.forced
        assert dump(store, ids, bookkeeping=False) == before


def test_a_contact_who_becomes_the_survivor_twice_is_listed_once() -> None:
    store = InMemoryStore()
    a, b, c = (store.customers.add(Customer.create(name=n)) for n in ("Ada", "Ada L", "Acme"))
    deal = store.opportunities.add(
        opportunity(c.id, (a.id, "decision_maker"), (b.id, "decision_maker"), (b.id, "user"))
    )
    merge(store, [a.id, b.id], survivor=a.id)
    moved: Opportunity = store.opportunities.get(deal.id)
    assert moved.customer_id == c.id  # only its contacts moved
    assert moved.contacts == (ContactRole(a.id, "decision_maker"), ContactRole(a.id, "user"))
    plan = plan_merge([a, b], survivor=a.id, opportunities=[deal])
    assert [(change.id, change.field) for change in plan.related] == [(deal.id, "contacts")]


def test_merging_leads_moves_the_tasks_about_them() -> None:
    store = InMemoryStore()
    first, second = (store.leads.add(Lead.create(name=n)) for n in ("Ada", "Ada L"))
    call = store.tasks.add(task(second.id))
    other = store.tasks.add(task(None))
    result = merge(store, [first.id, second.id], survivor=first.id)
    assert store.tasks.get(call.id).about_id == first.id
    assert store.tasks.get(other.id) == other
    assert store.merges.get(result.merge_id).before.tasks == (call,)
    unmerge(store, result.merge_id)
    assert store.tasks.get(call.id).about_id == second.id


def test_a_lead_merged_into_a_customer_hands_over_its_tasks() -> None:
    store = InMemoryStore()
    ada = store.customers.add(Customer.create(name="Ada"))
    lead = store.leads.add(Lead.create(name="Ada"))
    call = store.tasks.add(task(lead.id))
    merge(store, [ada.id, lead.id])
    assert store.leads.get(lead.id).status is LeadStatus.CONVERTED
    assert store.tasks.get(call.id).about_id == ada.id


def test_later_work_on_a_moved_item_survives_the_unmerge() -> None:
    store = InMemoryStore()
    a, b = (store.customers.add(Customer.create(name=n)) for n in ("Ada", "Ada L"))
    deal = store.opportunities.add(opportunity(b.id))
    result = merge(store, [a.id, b.id], survivor=a.id)
    # The deal moves on at the survivor: its history grows, which the merge did not touch.
    moved: Opportunity = store.opportunities.get(deal.id)
    store.opportunities.update(moved.move_to(PIPELINE, "quote"))
    unmerge(store, result.merge_id)
    restored: Opportunity = store.opportunities.get(deal.id)
    assert restored.customer_id == b.id
    assert restored.stage_id == "quote"
    assert restored.stage_history[:1] == deal.stage_history


def test_an_item_moved_again_since_refuses_the_unmerge_unless_forced() -> None:
    store = InMemoryStore()
    a, b, c = (store.customers.add(Customer.create(name=n)) for n in ("Ada", "Ada L", "Bob"))
    request = store.cases.add(case(b.id))
    call = store.tasks.add(task(b.id))
    result = merge(store, [a.id, b.id], survivor=a.id)
    store.cases.update(attrs.evolve(store.cases.get(request.id), customer_id=c.id))
    store.tasks.delete(call.id)
    with pytest.raises(UnmergeConflict) as refused:
        unmerge(store, result.merge_id)
    assert set(refused.value.record_ids) == {request.id, call.id}
    assert set(refused.value.fields) == {"customer_id", "<deleted>"}
    assert store.cases.get(request.id).customer_id == c.id  # nothing was written
    unmerge(store, result.merge_id, force=True)
    assert store.cases.get(request.id).customer_id == b.id
    assert store.tasks.get(call.id).about_id == b.id  # added back


def test_a_store_without_work_items_merges_as_before() -> None:
    inner = InMemoryStore()
    store = NoWorkItemsStore(inner)
    a, b = (store.customers.add(Customer.create(name=n)) for n in ("Ada", "Ada L"))
    # The inner store keeps them, but the merge cannot see them through the wrapper.
    deal = inner.opportunities.add(opportunity(b.id))
    result = merge(store, [a.id, b.id], survivor=a.id)
    assert inner.opportunities.get(deal.id) == deal
    assert result.record.before.opportunities == ()
    unmerge(store, result.merge_id)
    assert store.customers.get(b.id).merged_into is None


def test_the_merge_events_name_the_moved_items() -> None:
    store = InMemoryStore()
    a, b, c = (store.customers.add(Customer.create(name=n)) for n in ("Ada", "Ada L", "Bob"))
    deal = store.opportunities.add(opportunity(b.id))
    named = store.opportunities.add(opportunity(c.id, (b.id, "user")))
    call = store.tasks.add(task(b.id))
    request = store.cases.add(case(b.id))
    dispatcher = EventDispatcher()
    recorder = EventRecorder(dispatcher)
    merge(store, [a.id, b.id], survivor=a.id, events=dispatcher)
    (merged,) = recorder.of_type(RecordsMerged)
    assert set(merged.repointed_ids) == {deal.id, named.id, call.id, request.id}
    assert {(e.opportunity_id, e.fields) for e in recorder.of_type(OpportunityUpdated)} == {
        (deal.id, ("customer_id",)),
        (named.id, ("contacts",)),
    }
    assert [(e.task_id, e.fields) for e in recorder.of_type(TaskUpdated)] == [
        (call.id, ("about_id",))
    ]
    assert [(e.case_id, e.fields) for e in recorder.of_type(CaseUpdated)] == [
        (request.id, ("customer_id",))
    ]


def test_a_merge_record_written_before_work_items_still_loads() -> None:
    store = InMemoryStore()
    a, b = (store.customers.add(Customer.create(name=n)) for n in ("Ada", "Ada L"))
    record = merge(store, [a.id, b.id]).record
    document = to_dict(record)
    for snapshot in ("before", "after"):
        for key in ("opportunities", "tasks", "cases"):
            del document[snapshot][key]
    loaded = from_dict(MergeRecord, document)
    assert loaded == record
    assert loaded.before.opportunities == ()


@settings(max_examples=20)
@given(data=st.data())
def test_a_snapshot_sorts_work_items_by_kind(data: st.DataObject) -> None:
    ada = Customer.create(name="Ada")
    items = data.draw(work_items_for([ada.id]))
    lead = data.draw(leads())
    snapshot = Snapshot.of([ada, lead, *items])
    assert list(snapshot) == [
        ada,
        lead,
        *(i for i in items if isinstance(i, Opportunity)),
        *(i for i in items if isinstance(i, Task)),
        *(i for i in items if isinstance(i, Case)),
    ]
    assert len(snapshot) == 2 + len(items)
    assert snapshot.ids == tuple(r.id for r in snapshot)
    for item in items:
        assert snapshot.get(item.id) == item
