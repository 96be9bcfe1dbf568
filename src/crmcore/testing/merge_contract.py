"""The part of the storage contract that covers merges: ``store.merges`` and ``resolve``.

:class:`~crmcore.testing.StorageContract` includes these checks; they are kept
in their own class so that the merge feature's contract reads in one place.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given

from crmcore.cases import Case
from crmcore.customers import Customer, CustomerKind
from crmcore.errors import DataError, DuplicateRecord, NotFound, ValidationError, VersionConflict
from crmcore.ids import new_merge_id
from crmcore.interactions import Channel, Direction, Interaction
from crmcore.leads import Lead, LeadStatus
from crmcore.merge_record import MergeRecord, Snapshot
from crmcore.opportunities import ContactRole, Opportunity
from crmcore.pipelines import Pipeline
from crmcore.serialization import to_dict
from crmcore.storage.protocols import MergingStore, Store, SupportsMerges
from crmcore.tasks import Task
from crmcore.testing import _builders as build
from crmcore.testing import strategies
from crmcore.testing._kit import require_work_items

__all__ = ["MergeContract"]


class _Abort(Exception):
    """Raised to abort a transaction half-way."""


def _record(store: MergingStore, offset: int = 0) -> MergeRecord:
    survivor = store.customers.add(build.customer(offset))
    other = store.customers.add(build.customer(offset + 1))
    lead = build.lead(offset)
    interaction = Interaction.log(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=build.BASE_TIME,
        customer_id=other.id,
        subject="hello",
    )
    return MergeRecord(
        id=new_merge_id(),
        survivor_id=survivor.id,
        merged_ids=(other.id,),
        before=Snapshot(customers=(survivor, other), leads=(lead,), interactions=(interaction,)),
        after=Snapshot(
            customers=(survivor, attrs.evolve(other, merged_into=survivor.id)),
            interactions=(interaction.repointed(other.id, survivor.id),),
        ),
        merged_at=build.BASE_TIME + timedelta(minutes=offset),
    )


class MergeContract:
    """Checks of merge records and of resolving merged-away ids.

    Attributes:
        supports_merges: the store has a ``merges`` repository and
            ``resolve`` on its customer and lead repositories, so that
            :func:`crmcore.merge`, :func:`crmcore.unmerge` and
            :func:`crmcore.timeline` work on it. An adapter that sets it to
            ``False`` has these checks skipped, visibly. The check that a
            merge moves opportunities, tasks and cases also needs the store
            to keep them (``supports_work_items``).
    """

    supports_merges: ClassVar[bool] = True

    def _require_merges(self) -> None:
        if not self.supports_merges:
            pytest.skip("the adapter does not claim merge records (supports_merges = False)")

    def test_merge_records_round_trip(self, store: MergingStore) -> None:
        self._require_merges()
        record = _record(store)
        stored = store.merges.add(record)
        assert stored == attrs.evolve(record, version=1)
        assert store.merges.get(record.id) == stored

    def test_every_merge_record_round_trips_and_is_listed(self, store: MergingStore) -> None:
        self._require_merges()
        # The settings are the ones current now (the adapter's profile), as in
        # StorageContract's round trips; edge=True draws the ends of every range.
        given(strategies.merge_records(edge=True))(
            lambda record: self._merge_round_trip(store, record)
        )()

    def _merge_round_trip(self, store: MergingStore, record: MergeRecord) -> None:
        try:
            stored = store.merges.add(record)
        except DuplicateRecord:  # hypothesis may draw an id again
            return
        assert stored == attrs.evolve(record, version=1)
        for read in (
            store.merges.get(record.id),
            next(m for m in store.merges.list_for(record.survivor_id) if m.id == record.id),
        ):
            assert read == stored
            assert to_dict(read) == to_dict(stored)

    def test_merge_records_refuse_a_second_copy_and_unknown_ids(self, store: MergingStore) -> None:
        self._require_merges()
        record = store.merges.add(_record(store))
        with pytest.raises(DuplicateRecord):
            store.merges.add(attrs.evolve(record, version=0))
        with pytest.raises(NotFound):
            store.merges.get(new_merge_id())

    def test_merge_record_updates_are_compare_and_set(self, store: MergingStore) -> None:
        self._require_merges()
        record = store.merges.add(_record(store))
        undone = store.merges.update(attrs.evolve(record, unmerged_at=build.BASE_TIME))
        assert undone.version == 2
        assert store.merges.get(record.id) == undone
        with pytest.raises(VersionConflict):
            store.merges.update(record)
        with pytest.raises(NotFound):
            store.merges.update(attrs.evolve(_record(store, 10), version=1))

    def test_merges_are_listed_per_participant_newest_first(self, store: MergingStore) -> None:
        self._require_merges()
        first = store.merges.add(_record(store, 0))
        second = store.merges.add(attrs.evolve(_record(store, 5), survivor_id=first.survivor_id))
        assert [m.id for m in store.merges.list_for(first.survivor_id)] == [second.id, first.id]
        assert [m.id for m in store.merges.list_for(first.merged_ids[0])] == [first.id]
        assert store.merges.list_for(build.customer(99).id) == []
        junk: Any = [first.survivor_id]
        with pytest.raises(ValidationError):
            store.merges.list_for(junk)

    def test_a_merge_record_written_in_a_failed_transaction_is_gone(
        self, store: MergingStore
    ) -> None:
        self._require_merges()
        record = _record(store)

        def doomed() -> None:
            with store.transaction():
                store.merges.add(record)
                raise _Abort

        with pytest.raises(_Abort):
            doomed()
        with pytest.raises(NotFound):
            store.merges.get(record.id)
        assert store.merges.list_for(record.survivor_id) == []

    def test_resolve_follows_chains_of_merges(self, store: MergingStore) -> None:
        self._require_merges()
        a, b, c = (store.customers.add(build.customer(i)) for i in range(3))
        store.customers.update(attrs.evolve(a, merged_into=b.id))
        store.customers.update(attrs.evolve(b, merged_into=c.id))
        live = store.customers.get(c.id)
        assert store.customers.resolve(a.id) == live
        assert store.customers.resolve(b.id) == live
        assert store.customers.resolve(c.id) == live
        with pytest.raises(NotFound):
            store.customers.resolve(build.customer(99).id)

    def test_resolve_refuses_a_loop_as_data_error(self, store: MergingStore) -> None:
        """A chain of merges that loops is a corrupt store: DataError, never a hang."""
        self._require_merges()
        a, b = (store.customers.add(build.customer(i)) for i in range(2))
        store.customers.update(attrs.evolve(a, merged_into=b.id))
        store.customers.update(attrs.evolve(b, merged_into=a.id))
        with pytest.raises(DataError):
            store.customers.resolve(a.id)

    def test_a_store_that_claims_merges_supports_them(self, store: Store) -> None:
        """A store whose flag claims merges satisfies the ``SupportsMerges`` protocol.

        ``crmcore.merge``, ``unmerge`` and ``timeline`` refuse a store without
        ``merges``. The other direction is not checked: an adapter that sets
        ``supports_merges = False`` may still carry a ``merges`` attribute
        (older versions of the ``Store`` protocol required one).
        """
        self._require_merges()
        assert isinstance(store, SupportsMerges)

    def test_resolve_leads(self, store: MergingStore) -> None:
        self._require_merges()
        a, b = (store.leads.add(build.lead(i)) for i in range(2))
        store.leads.update(attrs.evolve(a, merged_into=b.id))
        assert store.leads.resolve(a.id).id == b.id
        assert store.leads.resolve(b.id).id == b.id

    def test_merge_and_unmerge_work_end_to_end(self, store: MergingStore) -> None:
        self._require_merges()
        from crmcore.merge import merge, unmerge

        org = store.customers.add(Customer.create(name="Acme", kind=CustomerKind.ORGANIZATION))
        dup = store.customers.add(Customer.create(name="ACME", kind=CustomerKind.ORGANIZATION))
        member = store.customers.add(Customer.create(name="Ada").in_organization(dup.id))
        lead: Any = attrs.evolve(
            build.lead(0), status=LeadStatus.CONVERTED, converted_customer_id=dup.id
        )
        lead = store.leads.add(lead)
        call = store.interactions.add(
            Interaction.log(
                channel=Channel.PHONE_CALL,
                direction=Direction.INBOUND,
                occurred_at=build.BASE_TIME,
                customer_id=dup.id,
            )
        )
        result = merge(store, [org.id, dup.id], survivor=org.id)
        assert store.customers.resolve(dup.id).id == org.id
        assert store.interactions.get(call.id).record_ids == (org.id,)
        assert store.customers.get(member.id).organization_id == org.id
        stored_lead: Lead = store.leads.get(lead.id)
        assert stored_lead.converted_customer_id == org.id
        unmerge(store, result.merge_id)
        assert store.interactions.get(call.id).record_ids == (dup.id,)
        assert store.customers.get(member.id).organization_id == dup.id
        assert store.customers.resolve(dup.id).id == dup.id

    def test_merge_moves_work_items_and_unmerge_moves_them_back(self, store: MergingStore) -> None:
        """A merge re-points opportunities, tasks and cases; unmerge restores each exactly."""
        self._require_merges()
        # The flag is WorkItemsContract's; StorageContract has both.
        work = require_work_items(self, store)
        from crmcore.merge import merge, unmerge

        pipeline = Pipeline.create(
            "kit",
            "Kit",
            [
                {"id": "open", "name": "Open", "probability": "0.5"},
                {"id": "won", "name": "Won", "probability": "1", "status": "won"},
            ],
        )
        ada, dup, other = (store.customers.add(build.customer(i)) for i in range(3))
        deal = work.opportunities.add(
            Opportunity.create(
                name="Deal",
                customer_id=dup.id,
                pipeline=pipeline,
                contacts=[ContactRole(ada.id, "user"), ContactRole(dup.id, "user")],
            )
        )
        named = work.opportunities.add(
            Opportunity.create(
                name="Other deal",
                customer_id=other.id,
                pipeline=pipeline,
                contacts=[ContactRole(dup.id, "decision_maker")],
            )
        )
        call = work.tasks.add(Task.create(title="Call", about_id=dup.id))
        help_request = work.cases.add(Case.create(subject="Help", customer_id=dup.id))
        untouched = work.cases.add(Case.create(subject="Help", customer_id=other.id))

        result = merge(store, [ada.id, dup.id], survivor=ada.id)
        moved: Opportunity = work.opportunities.get(deal.id)
        assert moved.customer_id == ada.id
        assert moved.contacts == (ContactRole(ada.id, "user"),)
        assert work.opportunities.get(named.id).contacts == (ContactRole(ada.id, "decision_maker"),)
        assert work.tasks.get(call.id).about_id == ada.id
        assert work.cases.get(help_request.id).customer_id == ada.id
        assert work.cases.get(untouched.id) == untouched
        record = store.merges.get(result.merge_id)
        assert {i.id for i in record.before} >= {deal.id, named.id, call.id, help_request.id}
        assert record.before.opportunities == (deal, named)

        unmerge(store, result.merge_id)
        for before, now in (
            (deal, work.opportunities.get(deal.id)),
            (named, work.opportunities.get(named.id)),
            (call, work.tasks.get(call.id)),
            (help_request, work.cases.get(help_request.id)),
        ):
            assert attrs.evolve(now, version=0, updated_at=before.updated_at) == attrs.evolve(
                before, version=0
            )
