"""merge / unmerge / merge_duplicates against both stores."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore import (
    Channel,
    CrmError,
    Customer,
    CustomerKind,
    Direction,
    Interaction,
    Lead,
    LeadStatus,
    NotFound,
    ValidationError,
    VersionConflict,
    merge,
    merge_duplicates,
    timeline,
    unmerge,
)
from crmcore.dedup import Cluster, Decision, DedupResult, ScoredPair, find_duplicates
from crmcore.events import (
    CustomerUpdated,
    DomainEvent,
    EventDispatcher,
    EventRecorder,
    RecordsMerged,
    RecordsUnmerged,
)
from crmcore.merge import UnmergeConflict, plan_merge
from crmcore.storage import MergingStore
from tests.merge.records import BASE, customers, groups, interactions_for, leads
from tests.merge.stores import FACTORIES, StoreFactory, dump

# Property tests build a fresh store per example (function-scoped fixtures
# cannot serve hypothesis examples); the others use the kit's any_store fixture.
STORES = pytest.mark.parametrize("make_store", list(FACTORIES.values()), ids=list(FACTORIES))


def _email_keys(record: Customer | Lead) -> set[str]:
    return {e.address.match_key for e in record.emails}


def _seed(store: Any, records: list[Customer], interactions: list[Interaction]) -> list[str]:
    for record in records:
        store.customers.add(record)
    for interaction in interactions:
        store.interactions.add(interaction)
    return [r.id for r in records]


@STORES
@settings(max_examples=25)
@given(records=groups(), data=st.data())
def test_a_merge_loses_nothing(
    make_store: StoreFactory, records: list[Customer], data: st.DataObject
) -> None:
    with make_store() as store:
        ids = [r.id for r in records]
        interactions = data.draw(interactions_for(ids))
        _seed(store, records, interactions)
        before = {i: store.customers.get(i) for i in ids}
        result = merge(store, ids)
        survivor = store.customers.get(result.survivor.id)
        assert survivor == result.survivor
        assert survivor.merged_into is None
        stored_record = store.merges.get(result.merge_id)
        assert stored_record == result.record
        for record_id, original in before.items():
            assert _email_keys(original) <= _email_keys(survivor)
            assert {p.number.e164 for p in original.phones} <= {
                p.number.e164 for p in survivor.phones
            }
            assert original.tags <= survivor.tags
            assert set(original.identifiers) <= set(survivor.identifiers)
            # Every field value of every participant is in the merge record.
            assert stored_record.before.get(record_id) == original
            assert store.customers.resolve(record_id) == survivor
            if record_id != survivor.id:
                tombstone = store.customers.get(record_id)
                assert tombstone.merged_into == survivor.id
                assert attrs.evolve(tombstone, merged_into=None, version=0, updated_at=BASE) == (
                    attrs.evolve(original, version=0, updated_at=BASE)
                )
        on_timeline = {e.key for e in timeline(store, survivor.id)}
        assert on_timeline == {i.id for i in interactions}
        for entry in timeline(store, survivor.id):
            original_ids = next(i for i in interactions if i.id == entry.key).record_ids
            assert entry.record_id in original_ids


@STORES
@settings(max_examples=25)
@given(records=groups(), data=st.data())
def test_unmerge_restores_the_stored_state(
    make_store: StoreFactory, records: list[Customer], data: st.DataObject
) -> None:
    with make_store() as store:
        ids = [r.id for r in records]
        interactions = data.draw(interactions_for(ids))
        _seed(store, records, interactions)
        before = dump(store, ids, bookkeeping=False)
        result = merge(store, ids, survivor=data.draw(st.sampled_from(ids)))
        undone = unmerge(store, result.merge_id)
        assert not undone.forced
        assert dump(store, ids, bookkeeping=False) == before
        assert store.merges.get(result.merge_id).unmerged_at is not None
        for record_id in ids:
            assert store.customers.resolve(record_id).id == record_id


@STORES
@settings(max_examples=20)
@given(records=groups(), data=st.data())
def test_a_stale_participant_changes_nothing(
    make_store: StoreFactory, records: list[Customer], data: st.DataObject
) -> None:
    with make_store() as store:
        ids = [r.id for r in records]
        _seed(store, records, data.draw(interactions_for(ids)))
        copies = [store.customers.get(i) for i in ids]
        stale = data.draw(st.sampled_from(copies))
        store.customers.update(stale.add_tag("touched"))
        before = dump(store, ids)
        with pytest.raises(VersionConflict):
            merge(store, copies)
        assert dump(store, ids) == before
        assert list(store.merges.list_for(ids[0])) == []


def test_a_failure_after_writes_rolls_everything_back(any_store: MergingStore) -> None:
    store = any_store
    a = store.customers.add(Customer.create(name="Ada", emails=["a@example.com"]))
    b = store.customers.add(Customer.create(name="Ada L", emails=["b@example.com"]))
    store.interactions.add(
        Interaction.log(
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            occurred_at=BASE,
            customer_id=b.id,
        )
    )
    before = dump(store, [a.id, b.id])
    dispatcher = EventDispatcher()

    def refuse(event: DomainEvent) -> None:
        raise RuntimeError("subscriber down")

    dispatcher.subscribe(RecordsMerged, refuse)
    with pytest.raises(RuntimeError):
        merge(store, [a.id, b.id], events=dispatcher)
    assert dump(store, [a.id, b.id]) == before
    assert list(store.merges.list_for(a.id)) == []


def test_a_merge_publishes_events_with_ids_only(any_store: MergingStore) -> None:
    store = any_store
    a = store.customers.add(Customer.create(name="Ada", emails=["a@example.com"]))
    b = store.customers.add(Customer.create(name="Ada L", emails=["b@example.com"]))
    dispatcher = EventDispatcher()
    recorder = EventRecorder(dispatcher)
    result = merge(store, [a, b], survivor=a.id, events=dispatcher)
    merged = recorder.of_type(RecordsMerged)
    assert [(e.merge_id, e.survivor_id, e.merged_ids) for e in merged] == [
        (result.merge_id, a.id, (b.id,))
    ]
    assert recorder.of_type(CustomerUpdated)[0].fields == ("emails",)
    assert "example.com" not in repr(recorder.events)
    unmerge(store, result.merge_id, events=dispatcher)
    (undone,) = recorder.of_type(RecordsUnmerged)
    assert set(undone.restored_ids) == {a.id, b.id}


def test_unmerge_refuses_a_conflicting_change_unless_forced(any_store: MergingStore) -> None:
    store = any_store
    a = store.customers.add(Customer.create(name="Ada", emails=["a@example.com"]))
    b = store.customers.add(
        Customer.create(name="Ada L", emails=["b@example.com"], owner="u2", tags=["vip"])
    )
    result = merge(store, [a.id, b.id], survivor=a.id)
    survivor = store.customers.get(a.id)
    assert survivor.owner == "u2"
    # Later edits the merge did not make survive the unmerge: a new email and
    # a removed tag on the survivor, a note.
    survivor = store.customers.update(
        attrs.evolve(survivor.with_email("new@example.com").remove_tag("vip"), notes="later")
    )
    # Replacing the owner the merge filled in conflicts.
    store.customers.update(survivor.assigned_to("u9"))
    with pytest.raises(UnmergeConflict) as info:
        unmerge(store, result.merge_id)
    assert info.value.record_ids == (a.id,)
    assert info.value.fields == ("owner",)
    assert "u9" not in str(info.value)
    assert store.customers.get(b.id).merged_into == a.id
    not_a_flag: Any = "false"  # a string from a form or a CLI must not count as true
    with pytest.raises(ValidationError) as flag:
        unmerge(store, result.merge_id, force=not_a_flag)
    assert flag.value.paths == ("force",)
    assert store.customers.get(b.id).merged_into == a.id
    forced = unmerge(store, result.merge_id, force=True)
    assert forced.forced
    restored = store.customers.get(a.id)
    assert _email_keys(restored) == {"a@example.com", "new@example.com"}
    assert restored.owner is None  # forced: the pre-merge value
    assert restored.notes == "later"
    assert restored.tags == frozenset()
    assert store.customers.get(b.id).merged_into is None
    assert store.customers.get(b.id).tags == {"vip"}


def test_unmerge_restores_collections_item_by_item() -> None:
    from crmcore.merge import restore_plan

    before = Customer.create(name="Ada", emails=["a@example.com"], tags=["x"])
    after = before.with_email("b@example.com").add_tag("y")
    # Since the merge: b relabelled (conflict), c added, x removed.
    from crmcore import ContactLabel

    current = (
        after.with_email("b@example.com", label=ContactLabel.WORK)
        .with_email("c@example.com")
        .remove_tag("x")
    )
    restored, conflicts = restore_plan(before, after, current)
    assert conflicts == ["emails"]
    assert isinstance(restored, Customer)
    assert _email_keys(restored) == {"a@example.com", "c@example.com"}
    assert restored.tags == frozenset()
    untouched, none = restore_plan(before, after, after)
    assert none == []
    assert untouched == before


def test_unmerge_twice_and_out_of_order_are_refused(any_store: MergingStore) -> None:
    store = any_store
    a, b, c = [
        store.customers.add(Customer.create(name=n, emails=[f"{n}@example.com"]))
        for n in ("ada", "bob", "cy")
    ]
    first = merge(store, [a.id, b.id], survivor=b.id)
    second = merge(store, [b.id, c.id], survivor=c.id)
    assert store.customers.resolve(a.id).id == c.id
    with pytest.raises(UnmergeConflict) as info:
        unmerge(store, first.merge_id)
    assert info.value.later_merges == (second.merge_id,)
    assert info.value.record_ids == ()
    unmerge(store, second.merge_id)
    with pytest.raises(UnmergeConflict):
        unmerge(store, second.merge_id)
    unmerge(store, first.merge_id)
    assert {store.customers.resolve(i).id for i in (a.id, b.id, c.id)} == {a.id, b.id, c.id}
    with pytest.raises(NotFound):
        unmerge(store, "mrg_01ARZ3NDEKTSV4RRFFQ69G5FAV")


def test_a_deleted_record_blocks_unmerge_until_forced(any_store: MergingStore) -> None:
    store = any_store
    a = store.customers.add(Customer.create(name="Ada"))
    b = store.customers.add(Customer.create(name="Bob"))
    result = merge(store, [a.id, b.id], survivor=a.id)
    store.customers.delete(b.id)
    with pytest.raises(UnmergeConflict) as info:
        unmerge(store, result.merge_id)
    assert info.value.record_ids == (b.id,)
    assert info.value.fields == ("<deleted>",)
    unmerge(store, result.merge_id, force=True)
    assert store.customers.get(b.id).merged_into is None


def test_related_records_move_and_come_back(any_store: MergingStore) -> None:
    store = any_store
    org_a = store.customers.add(Customer.create(name="Acme", kind=CustomerKind.ORGANIZATION))
    org_b = store.customers.add(Customer.create(name="ACME Ltd", kind=CustomerKind.ORGANIZATION))
    person = store.customers.add(Customer.create(name="Ada").in_organization(org_b.id))
    lead = store.leads.add(
        attrs.evolve(
            Lead.create(name="Ada"),
            status=LeadStatus.CONVERTED,
            converted_customer_id=org_b.id,
        )
    )
    result = merge(store, [org_a.id, org_b.id], survivor=org_a.id)
    assert set(result.record.repointed_ids) == {person.id, lead.id}
    assert store.customers.get(person.id).organization_id == org_a.id
    assert store.leads.get(lead.id).converted_customer_id == org_a.id
    unmerge(store, result.merge_id)
    assert store.customers.get(person.id).organization_id == org_b.id
    assert store.leads.get(lead.id).converted_customer_id == org_b.id


@STORES
@settings(max_examples=15)
@given(
    people=st.lists(customers(), min_size=1, max_size=2, unique_by=lambda c: c.id),
    prospects=st.lists(leads(), min_size=1, max_size=2, unique_by=lambda lead: lead.id),
)
def test_leads_merged_into_a_customer_are_converted_and_restored(
    make_store: StoreFactory, people: list[Customer], prospects: list[Lead]
) -> None:
    with make_store() as store:
        for person in people:
            store.customers.add(person)
        for prospect in prospects:
            store.leads.add(prospect)
            store.interactions.add(
                Interaction.log(
                    channel=Channel.WEB_FORM,
                    direction=Direction.INBOUND,
                    occurred_at=BASE,
                    lead_id=prospect.id,
                )
            )
        ids: list[str] = [p.id for p in people] + [p.id for p in prospects]
        before = dump(store, ids, bookkeeping=False)
        result = merge(store, ids)
        assert isinstance(result.survivor, Customer)
        entries = list(timeline(store, result.survivor.id))
        assert {e.record_id for e in entries} == {p.id for p in prospects}
        for prospect in prospects:
            stored = store.leads.get(prospect.id)
            assert stored.status is LeadStatus.CONVERTED
            assert stored.converted_customer_id == result.survivor.id
            assert _email_keys(prospect) <= _email_keys(result.survivor)
        unmerge(store, result.merge_id)
        assert dump(store, ids, bookkeeping=False) == before


def test_a_reviewed_plan_is_applied_with_its_versions(any_store: MergingStore) -> None:
    store = any_store
    a = store.customers.add(Customer.create(name="Ada", emails=["a@example.com"]))
    b = store.customers.add(Customer.create(name="Ada L", emails=["b@example.com"]))
    plan = plan_merge([a, b], survivor=b.id)
    result = merge(store, plan)
    assert result.survivor.id == b.id
    assert result.plan.result == attrs.evolve(plan.result)
    c = store.customers.add(Customer.create(name="Cy"))
    d = store.customers.add(Customer.create(name="Di"))
    stale_plan = plan_merge([c, d])
    store.customers.update(d.add_tag("x"))
    with pytest.raises(VersionConflict):
        merge(store, stale_plan)


def test_merge_duplicates_applies_confident_clusters(any_store: MergingStore) -> None:
    store = any_store
    ada1 = store.customers.add(
        Customer.create(name="Ada Lovelace", emails=["ada@example.com"], phones=["+14155552671"])
    )
    ada2 = store.customers.add(
        Customer.create(name="Ada Lovelace", emails=["ADA@example.com"], phones=["+14155552671"])
    )
    bob = store.customers.add(Customer.create(name="Bob Smith", emails=["bob@example.net"]))
    found = find_duplicates(store.customers.iter_all())
    assert len(found.clusters) == 1
    weak = DedupResult(
        clusters=(
            Cluster(
                id="weak",
                member_ids=(ada1.id, bob.id),
                pairs=(ScoredPair(ada1.id, bob.id, 0.5, Decision.POSSIBLE),),
            ),
        )
    )
    skipped = merge_duplicates(store, weak, min_confidence=0.9)
    assert skipped.merged == ()
    assert skipped.skipped == (("weak", "below min_confidence"),)
    outcome = merge_duplicates(store, found, min_confidence=0.0)
    assert len(outcome.merged) == 1
    assert {store.customers.resolve(ada1.id).id, store.customers.resolve(ada2.id).id} == {
        outcome.merged[0].survivor.id
    }
    assert store.customers.resolve(bob.id).id == bob.id
    again = merge_duplicates(store, found, min_confidence=0.0)
    assert again.merged == ()
    assert again.skipped == ((found.clusters[0].id, "already merged"),)


def test_merge_records_are_listed_per_record(any_store: MergingStore) -> None:
    store = any_store
    a = store.customers.add(Customer.create(name="Ada"))
    b = store.customers.add(Customer.create(name="Bob"))
    c = store.customers.add(Customer.create(name="Cy"))
    first = merge(store, [a.id, b.id], survivor=a.id)
    second = merge(store, [a.id, c.id], survivor=a.id)
    assert [m.id for m in store.merges.list_for(a.id)] == [second.merge_id, first.merge_id]
    assert [m.id for m in store.merges.list_for(b.id)] == [first.merge_id]
    with pytest.raises(NotFound):
        store.merges.get("mrg_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(CrmError):
        store.merges.add(first.record)


def test_concurrent_overlapping_merges_serialise(tmp_path: Any) -> None:
    import threading

    from crmcore import SQLiteStore

    with SQLiteStore(tmp_path / "crm.db") as store:
        people = [
            store.customers.add(Customer.create(name=f"P {i}", emails=[f"p{i}@example.com"]))
            for i in range(6)
        ]
        outcomes: list[str] = []
        lock = threading.Lock()

        def work(i: int) -> None:
            group = [people[i].id, people[(i + 1) % len(people)].id]
            try:
                merge(store, group, survivor=group[1])
                result = "merged"
            except (ValidationError, VersionConflict, NotFound):
                result = "refused"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(people))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(outcomes) == len(people)
        assert "merged" in outcomes
        merges = {m.id for p in people for m in store.merges.list_for(p.id)}
        assert len(merges) == outcomes.count("merged")
        for person in people:
            live = store.customers.resolve(person.id)
            assert live.merged_into is None
            assert {e.address.match_key for e in person.emails} <= {
                e.address.match_key for e in live.emails
            }


def test_merge_duplicates_converts_a_lead_clustered_with_a_customer(
    any_store: MergingStore,
) -> None:
    store = any_store
    ada = store.customers.add(
        Customer.create(name="Ada Lovelace", emails=["ada@example.com"], phones=["+14155552671"])
    )
    lead = store.leads.add(
        Lead.create(name="Ada Lovelace", emails=["ADA@example.com"], phones=["+1 415 555 2671"])
    )
    found = find_duplicates([*store.customers.iter_all(), *store.leads.iter_all()])
    assert [set(c.member_ids) for c in found.clusters] == [{ada.id, lead.id}]
    outcome = merge_duplicates(store, found, min_confidence=0.0)
    assert [r.survivor.id for r in outcome.merged] == [ada.id]
    converted = store.leads.get(lead.id)
    assert converted.status is LeadStatus.CONVERTED
    assert converted.converted_customer_id == ada.id
    # Applying the same result again finds nothing left to merge.
    assert merge_duplicates(store, found, min_confidence=0.0).skipped == (
        (found.clusters[0].id, "already merged"),
    )


@STORES
@settings(max_examples=15)
@given(
    orgs=st.lists(
        customers(kind=CustomerKind.ORGANIZATION), min_size=2, max_size=3, unique_by=lambda c: c.id
    ),
    data=st.data(),
)
def test_members_and_converted_leads_follow_and_come_back(
    make_store: StoreFactory, orgs: list[Customer], data: st.DataObject
) -> None:
    with make_store() as store:
        for org in orgs:
            store.customers.add(org)
        org_ids = [o.id for o in orgs]
        members = [
            store.customers.add(
                Customer.create(name=f"Member {i}").in_organization(
                    data.draw(st.sampled_from(org_ids))
                )
            )
            for i in range(data.draw(st.integers(0, 3)))
        ]
        converted = [
            store.leads.add(
                attrs.evolve(
                    Lead.create(name=f"Lead {i}"),
                    status=LeadStatus.CONVERTED,
                    converted_customer_id=data.draw(st.sampled_from(org_ids)),
                )
            )
            for i in range(data.draw(st.integers(0, 3)))
        ]
        before = dump(store, org_ids, bookkeeping=False)
        survivor = data.draw(st.sampled_from(org_ids))
        result = merge(store, org_ids, survivor=survivor)
        for member in members:
            assert store.customers.get(member.id).organization_id == survivor
        for lead in converted:
            assert store.leads.get(lead.id).converted_customer_id == survivor
        moved = {m.id for m in members if m.organization_id != survivor} | {
            lead.id for lead in converted if lead.converted_customer_id != survivor
        }
        assert set(result.record.repointed_ids) == moved
        unmerge(store, result.merge_id)
        assert dump(store, org_ids, bookkeeping=False) == before


def test_odd_arguments_are_refused_by_name(any_store: MergingStore) -> None:
    store = any_store
    a, b = (store.customers.add(Customer.create(name=n)) for n in ("Ada", "Bea"))
    junk: Any = 5
    with pytest.raises(ValidationError) as info:
        merge(store, junk)
    assert info.value.paths == ("ids",)
    with pytest.raises(ValidationError) as info:
        merge_duplicates(store, junk)
    assert info.value.paths == ("dedup_result",)
    assert store.customers.get(a.id) == a
    assert store.customers.get(b.id) == b
