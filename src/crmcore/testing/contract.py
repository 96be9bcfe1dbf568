"""StorageContract: the tests every crmcore store must pass, for adapter authors.

Subclass it in a test module of your adapter and give it a ``store`` fixture
that yields a fresh, empty store per test::

    import pytest
    from crmcore.testing import StorageContract

    class TestMyStore(StorageContract):
        supports_concurrent_writers = True   # claim what your adapter does

        @pytest.fixture
        def store(self, tmp_path):
            with MyStore(tmp_path / "db") as store:
                yield store

pytest does not collect ``StorageContract`` itself (its name does not start
with ``Test``); it collects your subclass and runs every check against your
store. Capabilities your adapter does not claim are skipped, visibly, with
the reason in pytest's summary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, ClassVar, TypeVar

import attrs
import pytest
from hypothesis import assume

from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import (
    CrmError,
    DuplicateRecord,
    IntegrityError,
    NotFound,
    StorageError,
    ValidationError,
    VersionConflict,
)
from crmcore.ids import (
    CustomerId,
    new_customer_id,
    new_interaction_id,
    new_lead_id,
)
from crmcore.interactions import Channel, Interaction, Participant
from crmcore.leads import Lead, LeadSource, LeadStatus
from crmcore.storage.keys import email_key, identifier_key, phone_key
from crmcore.storage.protocols import (
    Filter,
    RecordRepository,
    Store,
    SupportsLoad,
    SupportsMerges,
    where,
)
from crmcore.testing import _builders as build
from crmcore.testing import strategies
from crmcore.testing._kit import check_every as _check_every
from crmcore.testing._kit import collect as _collect
from crmcore.testing._kit import same as _same
from crmcore.testing._stand_ins import store_referenced
from crmcore.testing.merge_contract import MergeContract
from crmcore.testing.work_contract import WorkItemsContract
from crmcore.values import CustomFields

__all__ = ["StorageContract"]

T = TypeVar("T")

_ALL = 10_000  # a page size that holds every record a contract test stores


class _Boom(Exception):
    """Raised by the contract to abort a transaction half-way."""


def _ids(records: Sequence[Customer | Lead | Interaction]) -> list[str]:
    return [r.id for r in records]


def _delete_or_reject(repository: Any, record_id: str) -> None:
    """Delete a record drawn again, or drop the example when a stored record names it."""
    try:
        repository.delete(record_id)
    except IntegrityError:
        # An earlier example's stand-in took the id (hypothesis replays ids).
        assume(False)


def _party_round_trip(
    store: Store, repository: RecordRepository[Any, Any], record: Customer | Lead
) -> None:
    """Store ``record`` and read it back by id, by ``list()`` and by each contact point."""
    if repository.get_many([record.id]):  # hypothesis may draw an id again
        _delete_or_reject(repository, record.id)
    store_referenced(store, [record])  # the organisation, the customer it became
    if isinstance(record, Customer) and record.organization_id is not None:
        # An earlier example stored a person under the drawn organisation's id.
        named = store.customers.get(record.organization_id)
        assume(named.kind is CustomerKind.ORGANIZATION)
    stored = repository.add(record)
    assert stored == attrs.evolve(record, version=1, updated_at=stored.updated_at)
    assert stored.created_at == record.created_at
    _same(repository.get(record.id), stored)
    _same(repository.list(where("id").eq(record.id)).items[0], stored)
    for entry in record.emails:
        assert record.id in _ids(repository.find_by_email(entry.address))
    for phone in record.phones:
        assert record.id in _ids(repository.find_by_phone(phone.number))


class StorageContract(MergeContract, WorkItemsContract):
    """The contract of a crmcore store, as pytest tests; subclass it with a ``store`` fixture.

    Capability flags (class attributes) say what the adapter claims; checks
    of capabilities not claimed are skipped with a visible reason:

    Attributes:
        supports_nested_transactions: ``transaction()`` inside
            ``transaction()`` acts as a savepoint. When ``False``, nesting must
            be refused with a :class:`~crmcore.CrmError` instead.
        supports_concurrent_writers: several threads may write through one
            store object at once, with compare-and-set keeping every update.
        supports_merges: see :class:`~crmcore.testing.MergeContract`.
        supports_work_items: see :class:`~crmcore.testing.WorkItemsContract`.
    """

    supports_nested_transactions: ClassVar[bool] = False
    supports_concurrent_writers: ClassVar[bool] = False

    @pytest.fixture
    def store(self) -> Store:
        """Override in the subclass: yield a fresh, empty store (and close it afterwards)."""
        pytest.fail("subclass StorageContract and define a `store` fixture yielding a new store")

    # ================================================================= round trips

    def test_customer_round_trip_keeps_every_field(self, store: Store) -> None:
        original = build.full_customer()
        store_referenced(store, [original])  # its organisation
        stored = store.customers.add(original)
        assert stored.version == 1
        assert stored.created_at == original.created_at
        assert stored == attrs.evolve(original, version=1, updated_at=stored.updated_at)
        again = store.customers.get(original.id)
        assert again == stored
        assert again.updated_at == stored.updated_at
        assert [str(e.address) for e in again.emails] == [str(e.address) for e in stored.emails]
        assert [p.number.raw for p in again.phones] == [p.number.raw for p in stored.phones]

    def test_every_customer_round_trips_and_is_found(self, store: Store) -> None:
        # edge=True: timestamps in years 1 and 9999, texts and numbers at their
        # caps; whatever a store accepts it must read back, exactly.
        _check_every(
            strategies.customers(merged=True, edge=True),
            lambda record: self._customer_round_trip(store, record),
        )

    def _customer_round_trip(self, store: Store, record: Customer) -> None:
        _party_round_trip(store, store.customers, record)
        for scheme, value in record.identifiers.items():
            assert record.id in _ids(store.customers.find_by_identifier(scheme, value))
        for tag in record.tags:
            assert store.customers.count(where("id").eq(record.id), where("tags").contains(tag))

    def test_every_lead_round_trips_and_is_found(self, store: Store) -> None:
        _check_every(
            strategies.leads(merged=True, edge=True),
            lambda record: self._lead_round_trip(store, record),
        )

    def _lead_round_trip(self, store: Store, record: Lead) -> None:
        _party_round_trip(store, store.leads, record)
        if record.score is not None:
            assert store.leads.count(where("id").eq(record.id), where("score").eq(record.score))

    def test_every_interaction_round_trips_and_is_on_each_timeline(self, store: Store) -> None:
        _check_every(
            strategies.interactions(edge=True),
            lambda record: self._interaction_round_trip(store, record),
        )

    def _interaction_round_trip(self, store: Store, record: Interaction) -> None:
        if store.interactions.get_many([record.id]):
            store.interactions.delete(record.id)
        if record.external_id is not None:
            earlier = store.interactions.find_by_external_id(record.external_id)
            if earlier is not None:
                store.interactions.delete(earlier.id)
        store_referenced(store, [record])  # its participants
        stored = store.interactions.add(record)
        assert stored == attrs.evolve(record, version=1, updated_at=stored.updated_at)
        _same(store.interactions.get(record.id), stored)
        for record_id in record.record_ids:
            timeline = store.interactions.list_for(record_id).items
            _same(next(i for i in timeline if i.id == record.id), stored)

    def test_organization_round_trip(self, store: Store) -> None:
        stored = store.customers.add(build.organization(3))
        assert store.customers.get(stored.id) == stored
        assert store.customers.get(stored.id).kind is CustomerKind.ORGANIZATION

    def test_lead_round_trip_keeps_every_field(self, store: Store) -> None:
        original = build.lead(
            7,
            status=LeadStatus.CONVERTED,
            converted_customer_id=new_customer_id(),
            status_reason="signed",
            custom_fields=build.full_customer().custom_fields,
        )
        store_referenced(store, [original])
        stored = store.leads.add(original)
        assert stored == attrs.evolve(original, version=1, updated_at=stored.updated_at)
        assert store.leads.get(original.id) == stored

    def test_interaction_round_trip_keeps_every_field(self, store: Store) -> None:
        customer = store.customers.add(build.customer(1))
        original = build.interaction(
            (customer.id, new_lead_id()), 5, external_id="<m1@mail.example>"
        )
        store_referenced(store, [original])
        stored = store.interactions.add(original)
        assert stored.version == 1
        assert stored == attrs.evolve(original, version=1, updated_at=stored.updated_at)
        assert store.interactions.get(original.id) == stored

    def test_add_sets_version_one_and_updated_at_whatever_the_copy_says(self, store: Store) -> None:
        original = build.customer(2, version=5)
        stored = store.customers.add(original)
        assert stored.version == 1
        assert stored.created_at == original.created_at
        assert stored.updated_at >= original.created_at
        assert store.customers.get(original.id).version == 1

    # ================================================================= ids

    def test_adding_an_existing_id_is_refused(self, store: Store) -> None:
        first = store.customers.add(build.customer(1))
        with pytest.raises(DuplicateRecord) as collision:
            store.customers.add(attrs.evolve(build.customer(2), id=first.id))
        # An id collision is the caller's to handle, not a storage failure.
        assert not isinstance(collision.value, StorageError)
        assert store.customers.get(first.id) == first
        assert store.customers.count() == 1
        lead = store.leads.add(build.lead(1))
        with pytest.raises(DuplicateRecord):
            store.leads.add(lead)
        customer_id = first.id
        interaction = store.interactions.add(build.interaction(customer_id, 1))
        with pytest.raises(DuplicateRecord):
            store.interactions.add(
                attrs.evolve(build.interaction(customer_id, 2), id=interaction.id)
            )

    def test_unknown_ids_raise_not_found(self, store: Store) -> None:
        calls: list[Callable[[], object]] = [
            lambda: store.customers.get(new_customer_id()),
            lambda: store.leads.get(new_lead_id()),
            lambda: store.interactions.get(new_interaction_id()),
            lambda: store.customers.update(build.customer(1, version=1)),
            lambda: store.customers.delete(new_customer_id()),
            lambda: store.leads.delete(new_lead_id()),
            lambda: store.interactions.delete(new_interaction_id()),
        ]
        for call in calls:
            with pytest.raises(NotFound):
                call()

    def test_get_many_returns_what_exists_in_the_order_asked(self, store: Store) -> None:
        a, _, c = store.customers.add_many([build.customer(i) for i in range(3)])
        missing = new_customer_id()
        found = store.customers.get_many([c.id, missing, a.id, c.id])
        assert list(found) == [c.id, a.id]
        assert found[c.id] == c
        assert found[a.id] == a
        assert store.customers.get_many([]) == {}
        leads = store.leads.add_many([build.lead(i) for i in range(2)])
        assert list(store.leads.get_many([leads[1].id, leads[0].id])) == [leads[1].id, leads[0].id]
        ixn = store.interactions.add(build.interaction(a.id, 1))
        assert store.interactions.get_many([new_interaction_id(), ixn.id]) == {ixn.id: ixn}

    # ================================================================= compare-and-set

    def test_update_bumps_the_version_and_returns_the_stored_copy(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1))
        changed = store.customers.update(stored.add_tag("gold"))
        assert changed.version == 2
        assert "gold" in changed.tags
        assert changed.updated_at >= stored.updated_at
        assert changed.created_at == stored.created_at
        assert store.customers.get(stored.id) == changed
        again = store.customers.update(changed.assigned_to("usr_z"))
        assert again.version == 3
        assert store.customers.get(stored.id).owner == "usr_z"

    def test_a_stale_copy_raises_version_conflict_and_changes_nothing(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1))
        fresh = store.customers.update(stored.add_tag("first"))
        with pytest.raises(VersionConflict) as info:
            store.customers.update(stored.add_tag("second"))
        assert info.value.expected == 1
        assert info.value.actual == 2
        assert store.customers.get(stored.id) == fresh
        with pytest.raises(VersionConflict):
            store.customers.update(attrs.evolve(fresh, version=7))
        assert store.customers.get(stored.id) == fresh

    def test_lead_and_interaction_updates_are_compare_and_set(self, store: Store) -> None:
        lead = store.leads.add(build.lead(0))
        moved = store.leads.update(lead.transition_to(LeadStatus.CONTACTED))
        assert moved.version == 2
        with pytest.raises(VersionConflict):
            store.leads.update(lead.scored(99))
        customer = store.customers.add(build.customer(1))
        ixn = store.interactions.add(build.interaction(customer.id, 1))
        survivor = store.customers.add(build.customer(2)).id
        repointed = store.interactions.update(ixn.repointed(customer.id, survivor))
        assert repointed.version == 2
        assert store.interactions.list_for(customer.id).items == ()
        assert store.interactions.list_for(survivor).items == (repointed,)
        with pytest.raises(VersionConflict):
            store.interactions.update(ixn)

    def test_delete_honours_expected_version(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1))
        with pytest.raises(VersionConflict):
            store.customers.delete(stored.id, expected_version=2)
        assert store.customers.get(stored.id) == stored
        store.customers.delete(stored.id, expected_version=1)
        with pytest.raises(NotFound):
            store.customers.get(stored.id)
        assert store.customers.count() == 0
        lead = store.leads.add(build.lead(1))
        store.leads.delete(lead.id)
        assert store.leads.get_many([lead.id]) == {}

    # ================================================================= atomicity

    def test_add_many_is_all_or_nothing(self, store: Store) -> None:
        existing = store.customers.add(build.customer(0))
        batch = [build.customer(i) for i in range(1, 50)]
        batch.append(attrs.evolve(build.customer(99), id=existing.id))
        with pytest.raises(DuplicateRecord):
            store.customers.add_many(batch)
        assert store.customers.count() == 1
        assert store.customers.get_many([r.id for r in batch[:-1]]) == {}
        assert store.customers.find_by_email(build.email(1)) == []
        twice = build.customer(200)
        with pytest.raises(DuplicateRecord):
            store.customers.add_many([twice, build.customer(201), twice])
        assert store.customers.count() == 1

    def test_add_many_returns_the_stored_copies_in_order(self, store: Store) -> None:
        batch = [build.lead(i) for i in range(5)]
        stored = store.leads.add_many(batch)
        assert _ids(stored) == _ids(batch)
        assert all(s.version == 1 for s in stored)
        assert [store.leads.get(s.id) for s in stored] == stored
        assert store.leads.add_many([]) == []

    def test_transaction_rolls_back_every_write_on_an_exception(self, store: Store) -> None:
        kept = store.customers.add(build.customer(0))

        def doomed() -> None:
            with store.transaction():
                new = store.customers.add(build.customer(1))
                store.customers.update(kept.add_tag("changed"))
                store.leads.add(build.lead(1))
                store.interactions.add(build.interaction(new.id, 1, external_id="x-1"))
                store.customers.delete(kept.id)
                raise _Boom

        with pytest.raises(_Boom):
            doomed()
        assert store.customers.count() == 1
        assert store.customers.get(kept.id) == kept
        assert store.leads.count() == 0
        assert store.interactions.list_for(kept.id).items == ()
        assert store.interactions.find_by_external_id("x-1") is None
        assert store.customers.find_by_email(build.email(1)) == []
        assert store.customers.find_by_email(build.email(0)) == [kept]

    def test_transaction_commits_every_write(self, store: Store) -> None:
        with store.transaction():
            a = store.customers.add(build.customer(1))
            b = store.customers.update(a.add_tag("x"))
            lead = store.leads.add(build.lead(1))
        assert store.customers.get(a.id) == b
        assert store.leads.get(lead.id) == lead

    def test_a_failed_write_inside_a_transaction_can_be_caught(self, store: Store) -> None:
        """A refused write raises, and the transaction goes on: what it did commits."""
        if not self.supports_nested_transactions:
            pytest.skip("the adapter does not claim nested transactions (savepoints)")
        kept = store.customers.add(build.customer(0))
        with store.transaction():
            first = store.customers.add(build.customer(1))
            with pytest.raises(DuplicateRecord):
                store.customers.add_many([build.customer(2), attrs.evolve(kept, version=0)])
            with pytest.raises(VersionConflict):
                store.customers.update(attrs.evolve(kept, version=9))
        assert store.customers.get(first.id) == first
        assert store.customers.find_by_email(build.email(2)) == []
        assert store.customers.count() == 2

    def test_nested_transactions_are_savepoints_or_refused(self, store: Store) -> None:
        """Nesting works as savepoints, or is refused with a crmcore error: never half-works."""
        try:
            with store.transaction(), store.transaction():
                pass
        except CrmError:
            assert not self.supports_nested_transactions, "nesting is claimed but refused"
            assert store.customers.count() == 0
            return

        def doomed_inner(outer: Customer) -> None:
            with store.transaction():
                store.customers.add(build.customer(2))
                store.customers.update(outer.add_tag("inner"))
                raise _Boom

        def doomed_outer() -> None:
            with store.transaction():
                with store.transaction():
                    store.customers.add(build.customer(4))
                raise _Boom

        with store.transaction():
            outer = store.customers.add(build.customer(1))
            with pytest.raises(_Boom):
                doomed_inner(outer)
            with store.transaction():
                inner = store.customers.add(build.customer(3))
        assert store.customers.get(outer.id) == outer
        assert store.customers.get(inner.id) == inner
        assert store.customers.count() == 2
        with pytest.raises(_Boom):
            doomed_outer()
        assert store.customers.count() == 2

    # ================================================================= filters, ordering, pages

    def _customer_dataset(self, store: Store) -> list[Customer]:
        org = store.customers.add(build.organization(100))
        people = [
            build.customer(i, organization_id=org.id if i % 3 == 0 else None) for i in range(24)
        ]
        people[5] = attrs.evolve(people[5], merged_into=people[6].id)
        stored = store.customers.add_many(people)
        # Touch a few so that updated_at differs from insertion order.
        for record in stored[10:13]:
            stored[stored.index(record)] = store.customers.update(record.add_tag("touched"))
        return [org, *stored]

    def _customer_filters(
        self, records: list[Customer]
    ) -> list[tuple[tuple[Filter, ...], Callable[[Customer], bool]]]:
        org = records[0]
        base = build.BASE_TIME
        chosen = [records[3].id, records[7].id, new_customer_id()]
        five, ten = base + timedelta(minutes=5), base + timedelta(minutes=10)
        return [
            ((), lambda r: True),
            ((where("stage").eq(LifecycleStage.LEAD),), lambda r: r.stage is LifecycleStage.LEAD),
            (
                (where("stage").in_(["lead", LifecycleStage.CUSTOMER]),),
                lambda r: r.stage in (LifecycleStage.LEAD, LifecycleStage.CUSTOMER),
            ),
            ((where("kind").eq("organization"),), lambda r: r.kind is CustomerKind.ORGANIZATION),
            ((where("owner").eq(None),), lambda r: r.owner is None),
            ((where("owner").eq("usr_anna"),), lambda r: r.owner == "usr_anna"),
            (
                (where("owner").in_(["usr_bo", "usr_anders", "nobody"]),),
                lambda r: r.owner in ("usr_bo", "usr_anders"),
            ),
            (
                (where("owner").prefix("usr_an"),),
                lambda r: r.owner is not None and r.owner.startswith("usr_an"),
            ),
            ((where("tags").contains(" VIP "),), lambda r: "vip" in r.tags),
            (
                (where("tags").contains("vip"), where("tags").contains("newsletter")),
                lambda r: {"vip", "newsletter"} <= r.tags,
            ),
            ((where("organization_id").eq(org.id),), lambda r: r.organization_id == org.id),
            ((where("organization_id").eq(None),), lambda r: r.organization_id is None),
            ((where("merged_into").eq(None),), lambda r: r.merged_into is None),
            (
                (where("merged_into").in_([records[7].id]),),
                lambda r: r.merged_into == records[7].id,
            ),
            (
                (where("birth_date").range(date(1955, 1, 1), date(1965, 1, 1)),),
                lambda r: (
                    r.birth_date is not None and date(1955, 1, 1) <= r.birth_date < date(1965, 1, 1)
                ),
            ),
            (
                (where("created_at").range(five, ten),),
                lambda r: five <= r.created_at < ten,
            ),
            (
                (where("created_at").range(None, base + timedelta(minutes=3)),),
                lambda r: r.created_at < base + timedelta(minutes=3),
            ),
            ((where("created_at").eq(base),), lambda r: r.created_at == base),
            (
                (where("updated_at").range(records[12].updated_at, None),),
                lambda r: r.updated_at >= records[12].updated_at,
            ),
            ((where("id").in_(chosen),), lambda r: r.id in chosen),
            ((where("id").in_([]),), lambda r: False),
            ((where("id").prefix("cus_"),), lambda r: True),
            ((where("id").prefix(""),), lambda r: True),
            ((where("id").eq(records[4].id),), lambda r: r.id == records[4].id),
            (
                (where("stage").in_(list(LifecycleStage)[:4]), where("tags").contains("vip")),
                lambda r: r.stage in list(LifecycleStage)[:4] and "vip" in r.tags,
            ),
        ]

    def test_customer_filters_select_exactly_the_matching_records(self, store: Store) -> None:
        records = self._customer_dataset(store)
        stored = {r.id: store.customers.get(r.id) for r in records}
        for filters, predicate in self._customer_filters(records):
            expected = sorted(i for i, r in stored.items() if predicate(r))
            got = _ids(store.customers.list(*filters, limit=_ALL).items)
            assert got == expected, f"filter {filters!r}"
            assert store.customers.count(*filters) == len(expected), f"count {filters!r}"

    def test_lead_filters_select_exactly_the_matching_records(self, store: Store) -> None:
        leads = store.leads.add_many([build.lead(i) for i in range(30)])
        converted = store.leads.update(
            leads[2].transition_to(
                LeadStatus.CONVERTED, customer_id=store.customers.add(build.customer(1)).id
            )
        )
        leads[2] = converted
        cases: list[tuple[tuple[Filter, ...], Callable[[Lead], bool]]] = [
            ((where("status").eq(LeadStatus.NEW),), lambda r: r.status is LeadStatus.NEW),
            (
                (where("status").in_(["contacted", "converted"]),),
                lambda r: r.status in (LeadStatus.CONTACTED, LeadStatus.CONVERTED),
            ),
            ((where("source").eq(None),), lambda r: r.source is None),
            ((where("source").eq(LeadSource.IMPORT),), lambda r: r.source is LeadSource.IMPORT),
            ((where("score").eq(None),), lambda r: r.score is None),
            (
                (where("score").range(10, 50),),
                lambda r: r.score is not None and 10 <= r.score < 50,
            ),
            ((where("score").in_([7, 14, 1000]),), lambda r: r.score in (7, 14)),
            (
                (where("company").prefix("Prospect 1"),),
                lambda r: r.company is not None and r.company.startswith("Prospect 1"),
            ),
            ((where("company").eq(None),), lambda r: r.company is None),
            ((where("tags").contains("b2b"),), lambda r: "b2b" in r.tags),
            (
                (where("converted_customer_id").eq(converted.converted_customer_id),),
                lambda r: r.id == converted.id,
            ),
            ((where("owner").prefix("usr_b"),), lambda r: r.owner == "usr_bo"),
            ((where("merged_into").eq(None),), lambda r: True),
        ]
        for filters, predicate in cases:
            expected = sorted(r.id for r in leads if predicate(r))
            got = _ids(store.leads.list(*filters, limit=_ALL).items)
            assert got == expected, f"filter {filters!r}"
            assert store.leads.count(*filters) == len(expected), f"count {filters!r}"

    @pytest.mark.parametrize(
        "bad",
        [
            where("notes").eq("x"),
            where("emails").eq("x"),
            where("doc").eq("x"),
            where("id; DROP TABLE customers").eq("x"),
            where("stage").contains("lead"),
            where("stage").eq("not-a-stage"),
            where("stage").eq(None),
            where("tags").eq("vip"),
            where("created_at").range("2024-01-01", None),
            where("owner").in_([None]),
            where("owner").in_("usr_bo"),  # one string, not a collection of them
            where("owner").in_(5),  # type: ignore[arg-type]
            where("owner").prefix(3),  # type: ignore[arg-type]
            Filter("stage", "eq", "lead"),  # type: ignore[arg-type]
            "stage = 'lead'",
        ],
    )
    def test_filters_outside_the_allow_list_are_refused(self, store: Store, bad: Any) -> None:
        with pytest.raises(ValidationError) as info:
            store.customers.list(bad)
        assert all(path.startswith("filters[0]") for path in info.value.paths)
        with pytest.raises(ValidationError):
            store.customers.count(bad)

    def test_the_largest_lead_score_is_stored_and_a_larger_one_refused(self, store: Store) -> None:
        """Scores are 64-bit integers in every store, as values and as filter values."""
        top = store.leads.add(build.lead(1, score=2**63 - 1))
        assert store.leads.get(top.id).score == 2**63 - 1
        assert _ids(store.leads.list(where("score").eq(2**63 - 1)).items) == [top.id]
        for bad in (where("score").eq(2**63), where("score").range(None, 10**30)):
            with pytest.raises(ValidationError) as info:
                store.leads.list(bad)
            assert all(p.startswith("filters[0].value") for p in info.value.paths)

    @pytest.mark.parametrize(
        ("order_by", "descending"),
        [
            ("id", False),
            ("id", True),
            ("created_at", False),
            ("created_at", True),
            ("updated_at", False),
            ("updated_at", True),
        ],
    )
    def test_ordering_and_pages_are_complete_and_duplicate_free(
        self, store: Store, order_by: str, descending: bool
    ) -> None:
        records = self._customer_dataset(store)
        # Equal created_at values: the id breaks the tie.
        records += store.customers.add_many(
            [build.customer(i, created_at=build.BASE_TIME) for i in range(300, 305)]
        )
        stored = [store.customers.get(r.id) for r in records]
        expected = [
            r.id
            for r in sorted(stored, key=lambda r: (getattr(r, order_by), r.id), reverse=descending)
        ]
        assert (
            _ids(store.customers.list(order_by=order_by, descending=descending, limit=_ALL).items)
            == expected
        )
        for size in (1, 4, 7, len(expected), len(expected) + 1):
            seen = _collect(
                store.customers.list, order_by=order_by, descending=descending, limit=size
            )
            assert seen == expected, f"limit={size}"
        with_filter = [
            r.id
            for r in sorted(stored, key=lambda r: (getattr(r, order_by), r.id), reverse=descending)
            if "vip" in r.tags
        ]
        seen = _collect(
            store.customers.list,
            where("tags").contains("vip"),
            order_by=order_by,
            descending=descending,
            limit=3,
        )
        assert seen == with_filter

    @pytest.mark.parametrize("order_by", ["id", "created_at", "updated_at"])
    def test_pages_stay_complete_while_others_insert(self, store: Store, order_by: str) -> None:
        present = store.customers.add_many([build.customer(i * 10) for i in range(30)])
        counter = iter(range(1, 1_000))

        def insert_more() -> None:
            # Some sort before the reader's position, some after it.
            n = next(counter)
            store.customers.add_many([build.customer(n * 10 - 5), build.customer(n * 10 + 1_000)])

        for descending in (False, True):
            seen = _collect(
                store.customers.list,
                order_by=order_by,
                descending=descending,
                limit=4,
                between=insert_more,
            )
            assert len(seen) == len(set(seen)), "a record was returned twice"
            missing = {r.id for r in present} - set(seen)
            assert not missing, f"{len(missing)} records present throughout were skipped"

    def test_bad_cursors_and_limits_are_refused(self, store: Store) -> None:
        store.customers.add_many([build.customer(i) for i in range(5)])
        page = store.customers.list(order_by="created_at", limit=2)
        assert page.next_cursor is not None
        with pytest.raises(ValidationError) as info:
            store.customers.list(order_by="updated_at", limit=2, cursor=page.next_cursor)
        assert info.value.paths == ("cursor",)
        with pytest.raises(ValidationError):
            store.customers.list(order_by="created_at", descending=True, cursor=page.next_cursor)
        for junk in ("", "not a cursor", "W10", "WyJhIiwxXQ", "x" * 5000):
            with pytest.raises(ValidationError):
                store.customers.list(cursor=junk)
        bad_limits: list[Any] = [0, -1, 10_001, 2.5, True]
        for limit in bad_limits:
            with pytest.raises(ValidationError):
                store.customers.list(limit=limit)
        with pytest.raises(ValidationError):
            store.customers.list(order_by="name")
        with pytest.raises(ValidationError):
            store.customers.list(order_by="created_at; DROP TABLE customers")

    @pytest.mark.parametrize("junk", [5, None, "cus_01", b"ids"])
    def test_collection_arguments_must_be_collections(self, store: Store, junk: Any) -> None:
        """One id or a number where a collection belongs is refused by name, not iterated."""
        calls: list[tuple[str, Callable[[], object]]] = [
            ("records", lambda: store.customers.add_many(junk)),
            ("records", lambda: store.leads.add_many(junk)),
            ("interactions", lambda: store.interactions.add_many(junk)),
            ("record_ids", lambda: store.customers.get_many(junk)),
            ("record_ids", lambda: store.leads.get_many(junk)),
            ("interaction_ids", lambda: store.interactions.get_many(junk)),
            ("keys", lambda: store.customers.find_by_keys(junk)),
        ]
        for path, call in calls:
            with pytest.raises(ValidationError) as info:
                call()
            assert info.value.paths == (path,)
        assert store.customers.count() == store.leads.count() == 0

    def test_iter_all_yields_every_record_once_in_id_order(self, store: Store) -> None:
        stored = store.customers.add_many([build.customer(i) for i in range(23)])
        assert _ids(list(store.customers.iter_all(batch_size=5))) == sorted(_ids(stored))
        assert _ids(list(store.customers.iter_all())) == sorted(_ids(stored))
        leads = store.leads.add_many([build.lead(i) for i in range(3)])
        assert _ids(list(store.leads.iter_all(batch_size=1))) == sorted(_ids(leads))
        with pytest.raises(ValidationError):
            list(store.customers.iter_all(batch_size=0))

    # ================================================================= lookups

    def test_find_by_email_compares_match_keys(self, store: Store) -> None:
        a = store.customers.add(build.customer(1))
        b = store.customers.add(build.customer(2, emails=(build.customer(1).emails[0],)))
        store.customers.add(build.customer(3))
        expected = sorted([a, b], key=lambda r: r.id)
        assert store.customers.find_by_email("PERSON.1@EXAMPLE.COM") == expected
        assert store.customers.find_by_email(build.email(1)) == expected
        assert store.customers.find_by_email("  person.1@example.com ") == expected
        assert store.customers.find_by_email("nobody@example.com") == []
        with pytest.raises(ValidationError) as info:
            store.customers.find_by_email("not an email")
        assert info.value.paths == ("email",)

    def test_find_by_phone_compares_e164(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1).with_phone("08-123 456 78", region="SE"))
        assert store.customers.find_by_phone("+46812345678") == [stored]
        assert store.customers.find_by_phone("08 12 34 56 78", region="SE") == [stored]
        assert store.customers.find_by_phone("+46 8 123 456 78 ext. 9") == [stored]
        assert store.customers.find_by_phone(build.phone(1)) == [stored]
        assert store.customers.find_by_phone("+46812345679") == []
        with pytest.raises(ValidationError):
            store.customers.find_by_phone("0812345678")  # no region, no +

    def test_find_by_identifier(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1).with_identifier("vat", "SE556677"))
        other = store.customers.add(build.organization(2))
        assert store.customers.find_by_identifier("vat", "SE556677") == [stored]
        assert store.customers.find_by_identifier("crm", "C-1") == [stored]
        assert store.customers.find_by_identifier("vat", "se556677") == []
        assert store.customers.find_by_identifier("crm", "SE556677") == []
        assert store.customers.find_by_identifier("vat", other.identifiers["vat"]) == [other]
        assert store.leads.find_by_identifier("vat", "SE556677") == []

    def test_find_by_keys_returns_distinct_records_sharing_a_key(self, store: Store) -> None:
        a = store.customers.add(build.customer(1))
        b = store.customers.add(build.customer(2, phones=a.phones))
        c = store.customers.add(build.customer(3))
        both = sorted([a, b], key=lambda r: r.id)
        by_phone = phone_key(a.phones[0].number.e164)
        by_email = email_key(a.emails[0].address.match_key)
        assert store.customers.find_by_keys([by_phone]) == both
        assert store.customers.find_by_keys([by_phone, by_email, by_phone]) == both
        assert store.customers.find_by_keys([by_phone], limit=1) == both[:1]
        assert store.customers.find_by_keys(["no such key"]) == []
        assert store.customers.find_by_keys([]) == []
        assert store.customers.find_by_keys([email_key(c.emails[0].address.match_key)]) == [c]
        assert store.customers.find_by_keys([identifier_key("crm", c.identifiers["crm"])]) == [c]
        with pytest.raises(ValidationError):
            store.customers.find_by_keys("phone:+46")

    def test_lookups_follow_updates_and_deletes(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1))
        key = email_key(build.email(1).match_key)
        moved = store.customers.update(
            stored.without_email(build.email(1))
            .with_email(build.email(50))
            .with_phone(build.phone(50))
        )
        assert store.customers.find_by_email(build.email(1)) == []
        assert store.customers.find_by_keys([key]) == []
        assert store.customers.find_by_email(build.email(50)) == [moved]
        assert store.customers.find_by_phone(build.phone(50)) == [moved]
        assert store.customers.find_by_phone(build.phone(1)) == [moved]
        store.customers.delete(moved.id)
        assert store.customers.find_by_email(build.email(50)) == []
        assert store.customers.find_by_phone(build.phone(1)) == []
        assert store.customers.find_by_identifier("crm", "C-1") == []
        assert store.customers.find_by_keys([email_key(build.email(50).match_key)]) == []

    def test_lead_lookups(self, store: Store) -> None:
        lead = store.leads.add(build.lead(1))
        store.customers.add(build.customer(10_001))  # same email as the lead, other table
        assert store.leads.find_by_email(build.email(10_001)) == [lead]
        assert store.leads.find_by_phone(build.phone(10_001)) == [lead]
        assert store.leads.find_by_keys([email_key(build.email(10_001).match_key)]) == [lead]
        assert store.leads.find_by_email(build.email(1)) == []

    # ================================================================= interactions

    def test_timeline_is_newest_first_and_filters(self, store: Store) -> None:
        customer = store.customers.add(build.customer(1))
        lead = store.leads.add(build.lead(1))
        other = store.customers.add(build.customer(2))
        logged = store.interactions.add_many(
            [build.interaction(customer.id, i) for i in range(10)]
            + [build.interaction((lead.id, customer.id), 20), build.interaction(other.id, 30)]
        )
        mine = [r for r in logged if customer.id in r.record_ids]
        newest_first = sorted(mine, key=lambda r: (r.occurred_at, r.id), reverse=True)
        assert store.interactions.list_for(customer.id).items == tuple(newest_first)
        assert store.interactions.list_for(lead.id).items == (logged[10],)
        base = build.BASE_TIME
        window = store.interactions.list_for(
            customer.id, since=base + timedelta(hours=2), until=base + timedelta(hours=5)
        )
        assert [r.occurred_at for r in window] == [base + timedelta(hours=h) for h in (4, 3, 2)]
        calls = store.interactions.list_for(customer.id, channel=Channel.PHONE_CALL)
        assert calls.items == tuple(r for r in newest_first if r.channel is Channel.PHONE_CALL)
        assert store.interactions.list_for(new_customer_id()).items == ()

    def test_timeline_pages_are_complete_and_duplicate_free(self, store: Store) -> None:
        customer = store.customers.add(build.customer(1))
        same_time = build.interaction(customer.id, 3)
        logged = store.interactions.add_many(
            [build.interaction(customer.id, i) for i in range(17)]
            + [attrs.evolve(same_time, id=new_interaction_id()) for _ in range(3)]
        )
        expected = [r.id for r in sorted(logged, key=lambda r: (r.occurred_at, r.id), reverse=True)]
        for size in (1, 3, 20, 21):
            seen = _collect(store.interactions.list_for, customer.id, limit=size)
            assert seen == expected, f"limit={size}"
        with pytest.raises(ValidationError):
            store.interactions.list_for(customer.id, cursor="junk")
        with pytest.raises(ValidationError):
            store.interactions.list_for("someone@example.com")

    def test_external_ids_make_ingestion_idempotent(self, store: Store) -> None:
        customer = store.customers.add(build.customer(1))
        first = store.interactions.add(build.interaction(customer.id, 1, external_id="<a@b.c>"))
        again = store.interactions.add(build.interaction(customer.id, 2, external_id="<a@b.c>"))
        assert again == first
        assert store.interactions.find_by_external_id("<a@b.c>") == first
        assert store.interactions.find_by_external_id("<none@b.c>") is None
        batch = store.interactions.add_many(
            [
                build.interaction(customer.id, 3, external_id="<x@b.c>"),
                build.interaction(customer.id, 4, external_id="<x@b.c>"),
                build.interaction(customer.id, 5, external_id="<a@b.c>"),
            ]
        )
        assert batch[1] == batch[0]
        assert batch[2] == first
        assert len(store.interactions.list_for(customer.id).items) == 2
        other = store.interactions.add(build.interaction(customer.id, 6))
        with pytest.raises(DuplicateRecord):
            store.interactions.update(attrs.evolve(other, external_id="<a@b.c>"))

    def test_deleting_an_interaction_removes_it_from_timelines(self, store: Store) -> None:
        customer = store.customers.add(build.customer(1))
        ixn = store.interactions.add(build.interaction(customer.id, 1, external_id="e-1"))
        with pytest.raises(VersionConflict):
            store.interactions.delete(ixn.id, expected_version=2)
        store.interactions.delete(ixn.id)
        assert store.interactions.list_for(customer.id).items == ()
        assert store.interactions.find_by_external_id("e-1") is None
        participants = (Participant(customer.id),)
        assert store.interactions.add(attrs.evolve(ixn, participants=participants)).version == 1

    # ================================================================= load

    def _require_load(self, store: Store) -> SupportsLoad:
        if not isinstance(store, SupportsLoad):
            pytest.skip("the store has no load() (SupportsLoad): exports cannot be restored")
        return store

    def test_load_keeps_ids_versions_and_timestamps(self, store: Store) -> None:
        loader = self._require_load(store)
        changed = build.BASE_TIME + timedelta(days=3)
        customer = attrs.evolve(build.customer(41), version=7, updated_at=changed)
        lead = attrs.evolve(build.lead(42), version=3, updated_at=changed)
        logged = attrs.evolve(
            build.interaction((customer.id,), 2, external_id="<load@mail.example>"),
            version=2,
            updated_at=changed,
        )
        loader.load([customer, lead, logged])
        _same(store.customers.get(customer.id), customer)
        _same(store.leads.get(lead.id), lead)
        _same(store.interactions.get(logged.id), logged)
        assert _ids(store.customers.find_by_email(customer.emails[0].address)) == [customer.id]
        assert _ids(store.interactions.list_for(customer.id).items) == [logged.id]
        assert store.interactions.find_by_external_id("<load@mail.example>") == logged
        # The loaded version is the one compare-and-set expects next.
        assert store.customers.update(customer).version == 8

    def test_load_replaces_a_stored_id_with_its_lookups(self, store: Store) -> None:
        loader = self._require_load(store)
        stored = store.customers.add(build.customer(43))
        moved = attrs.evolve(stored, emails=build.customer(44).emails, version=5)
        loader.load([moved])
        assert store.customers.get(stored.id) == moved
        assert store.customers.find_by_email(stored.emails[0].address) == []
        assert _ids(store.customers.find_by_email(moved.emails[0].address)) == [stored.id]
        assert store.customers.count(where("id").eq(stored.id)) == 1

    def test_load_is_all_or_nothing_and_refuses_what_is_no_record(self, store: Store) -> None:
        loader = self._require_load(store)
        named = store.customers.add(build.customer(44))
        first = store.interactions.add(build.interaction((named.id,), 1, external_id="x1"))
        taker = build.interaction((new_customer_id(),), 2, external_id="x1")
        fresh = build.customer(45)
        with pytest.raises(DuplicateRecord):
            loader.load([fresh, taker])
        assert store.customers.get_many([fresh.id]) == {}
        assert store.interactions.find_by_external_id("x1") == first
        with pytest.raises(ValidationError) as caught:
            loader.load([fresh, "not a record"])  # type: ignore[list-item]
        assert caught.value.problems[0][0] == "records[1]"
        assert store.customers.get_many([fresh.id]) == {}

    def test_load_keeps_merge_records_as_they_are(self, store: Store) -> None:
        loader = self._require_load(store)
        if not self.supports_merges or not isinstance(store, SupportsMerges):
            pytest.skip("the adapter does not claim merge records (supports_merges = False)")
        survivor = store.customers.add(build.customer(46))
        other = store.customers.add(build.customer(47))
        record = build.merge_of(survivor, other, version=4)
        loader.load([record])
        assert store.merges.get(record.id) == record
        assert [m.id for m in store.merges.list_for(other.id)] == [record.id]
        undone = attrs.evolve(record, unmerged_at=build.BASE_TIME + timedelta(hours=1))
        loader.load([undone])
        assert store.merges.get(record.id) == undone

    # ================================================================= errors

    def test_only_crmcore_errors_escape(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1))
        calls: list[Callable[[], object]] = [
            lambda: store.customers.add("not a customer"),  # type: ignore[arg-type]
            lambda: store.customers.add(build.lead(1)),  # type: ignore[arg-type]
            lambda: store.customers.add_many([build.customer(2), None]),  # type: ignore[list-item]
            lambda: store.customers.update(object()),  # type: ignore[arg-type]
            lambda: store.customers.get(123),  # type: ignore[arg-type]
            lambda: store.customers.get("x" * 10_000),
            lambda: store.customers.delete(stored.id, expected_version="1"),  # type: ignore[arg-type]
            lambda: store.customers.find_by_email(None),  # type: ignore[arg-type]
            lambda: store.customers.find_by_phone(12345),  # type: ignore[arg-type]
            lambda: store.customers.find_by_identifier(None, "x"),  # type: ignore[arg-type]
            lambda: store.customers.find_by_keys([1, 2]),  # type: ignore[list-item]
            lambda: store.customers.find_by_keys(["a"], limit=0),
            lambda: store.customers.list(order_by=None),  # type: ignore[arg-type]
            lambda: store.customers.list(descending="yes"),  # type: ignore[arg-type]
            lambda: store.interactions.add({"id": "x"}),  # type: ignore[arg-type]
            lambda: store.interactions.list_for(stored.id, since="yesterday"),  # type: ignore[arg-type]
            lambda: store.interactions.list_for(stored.id, channel="email"),  # type: ignore[arg-type]
            lambda: store.interactions.list_for(stored.id, limit=-5),
            lambda: store.interactions.find_by_external_id(42),  # type: ignore[arg-type]
        ]
        for i, call in enumerate(calls):
            with pytest.raises(CrmError):
                call()
            assert store.customers.get(stored.id) == stored, f"call {i} changed the store"

    def test_error_messages_hold_no_personal_data(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1))
        failures: list[CrmError] = []
        for call in (
            lambda: store.customers.add(stored),
            lambda: store.customers.update(attrs.evolve(stored, version=9)),
            lambda: store.customers.find_by_email("person.1@@example.com"),
            lambda: store.customers.list(where("owner").eq(["person.1@example.com"])),
        ):
            try:
                call()
            except CrmError as error:
                failures.append(error)
        assert len(failures) == 4
        for exc in failures:
            assert "person.1" not in str(exc)
            assert "Number1" not in str(exc)

    def test_a_closed_store_refuses_work(self, store: Store) -> None:
        stored = store.customers.add(build.customer(1))
        store.close()
        with pytest.raises(CrmError):
            store.customers.get(stored.id)
        store.close()  # closing twice is harmless

    # ================================================================= concurrency

    def test_concurrent_read_modify_write_loses_no_update(self, store: Store) -> None:
        if not self.supports_concurrent_writers:
            pytest.skip("the adapter does not claim concurrent writers")
        record = store.customers.add(build.customer(1, custom_fields=CustomFields({"n": 0})))
        threads, rounds = 4, 25
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(rounds):
                    while True:
                        current = store.customers.get(record.id)
                        n = current.custom_fields["n"]
                        time.sleep(0.001)  # think time: lets other writers interleave
                        try:
                            store.customers.update(current.with_custom_field("n", n + 1))
                            break
                        except VersionConflict:
                            continue
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(timeout=120)
        assert not errors, errors
        final = store.customers.get(record.id)
        assert final.custom_fields["n"] == threads * rounds
        assert final.version == 1 + threads * rounds

    def test_concurrent_adds_all_land(self, store: Store) -> None:
        if not self.supports_concurrent_writers:
            pytest.skip("the adapter does not claim concurrent writers")
        errors: list[BaseException] = []
        added: list[CustomerId] = []
        lock = threading.Lock()

        def work(offset: int) -> None:
            try:
                for i in range(20):
                    stored = store.customers.add(build.customer(offset + i))
                    with lock:
                        added.append(stored.id)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        pool = [threading.Thread(target=work, args=(n * 100,)) for n in range(4)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(timeout=120)
        assert not errors, errors
        assert store.customers.count() == 80
        assert sorted(_ids(list(store.customers.iter_all()))) == sorted(added)
