"""IntegrityContract: the referential-integrity checks every crmcore store must pass.

Subclass it beside :class:`~crmcore.testing.StorageContract`, with the same
``store`` fixture (a fresh, empty store per test)::

    class TestMyStoreIntegrity(IntegrityContract):
        @pytest.fixture
        def store(self, tmp_path):
            with MyStore(tmp_path / "db") as store:
                yield store

The rules are those of ``docs/storage.md`` ("Referential integrity"): a write
naming a record that is not stored is refused with an
:class:`~crmcore.IntegrityError` whose ``field`` names the reference; deleting
a record that a stored one still names is refused; ``merged_into`` and
``load()`` are exempt. An adapter that does not enforce them sets
``supports_integrity = False`` and the checks are skipped, visibly. The work
item checks also need ``supports_work_items``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import strategies as st

from crmcore.customers import CustomerKind
from crmcore.errors import IntegrityError
from crmcore.ids import (
    CustomerId,
    LeadId,
    new_case_id,
    new_customer_id,
    new_lead_id,
    new_opportunity_id,
)
from crmcore.interactions import Interaction
from crmcore.opportunities import ContactRole
from crmcore.storage.protocols import Store, SupportsLoad, WorkStore
from crmcore.testing import _builders as build
from crmcore.testing import _work_builders as work
from crmcore.testing._kit import check_every as _check_every
from crmcore.testing._kit import require_work_items
from crmcore.testing._stand_ins import stand_in_customer

__all__ = ["IntegrityContract"]

_ALL = 10_000


def _refused(write: Callable[[], object], field: str, *secrets: str) -> IntegrityError:
    """``write`` raises IntegrityError naming ``field``, and no id appears in its message."""
    with pytest.raises(IntegrityError) as info:
        write()
    assert info.value.field == field, info.value.field
    for secret in secrets:
        assert secret not in str(info.value)
    return info.value


def _timeline(store: Store, record_id: str) -> list[str]:
    return [i.id for i in store.interactions.list_for(record_id, limit=_ALL)]


class IntegrityContract:
    """Checks that a store refuses dangling references and deletes of named records.

    Attributes:
        supports_integrity: the store enforces the rules of ``docs/storage.md``
            ("Referential integrity"). An adapter that sets it to ``False``
            has these checks skipped, visibly.
    """

    supports_integrity: ClassVar[bool] = True

    @pytest.fixture
    def store(self) -> Store:
        """Override in the subclass: yield a fresh, empty store (and close it afterwards)."""
        pytest.fail("subclass IntegrityContract and define a `store` fixture yielding a new store")

    def _require(self) -> None:
        if not self.supports_integrity:
            pytest.skip("the adapter does not claim referential integrity (supports_integrity)")

    def _work(self, store: Store) -> WorkStore:
        self._require()
        return require_work_items(self, store)

    # ================================================================= interactions

    def test_an_interaction_naming_no_stored_customer_is_refused(self, store: Store) -> None:
        self._require()
        known = store.customers.add(build.customer(1))
        missing = new_customer_id()
        refused = build.interaction((known.id, missing))
        _refused(lambda: store.interactions.add(refused), "participants[1].record_id", missing)
        assert store.interactions.get_many([refused.id]) == {}
        assert _timeline(store, known.id) == []

    def test_an_interaction_naming_no_stored_lead_is_refused(self, store: Store) -> None:
        self._require()
        missing = new_lead_id()
        refused = build.interaction(missing)
        _refused(lambda: store.interactions.add(refused), "participants[0].record_id", missing)
        assert store.interactions.get_many([refused.id]) == {}

    def test_an_interaction_naming_stored_customers_and_leads_is_taken(self, store: Store) -> None:
        self._require()
        person = store.customers.add(build.customer(1))
        lead = store.leads.add(build.lead(1))
        # A merged-away record is still stored: naming it is allowed (resolve finds the survivor).
        tombstone = store.customers.add(build.customer(2, merged_into=person.id))
        stored = store.interactions.add(build.interaction((person.id, lead.id, tombstone.id)))
        assert _timeline(store, lead.id) == [stored.id]

    def test_a_batch_is_refused_whole_naming_the_dangling_reference(self, store: Store) -> None:
        self._require()
        person = store.customers.add(build.customer(1))
        missing = new_customer_id()
        batch = [
            build.interaction(person.id, 0),
            build.interaction(missing, 1),
            build.interaction(person.id, 2),
        ]
        _refused(
            lambda: store.interactions.add_many(batch),
            "interactions[1].participants[0].record_id",
            missing,
        )
        assert store.interactions.get_many([i.id for i in batch]) == {}
        assert _timeline(store, person.id) == []

    def test_an_update_naming_no_stored_record_is_refused(self, store: Store) -> None:
        self._require()
        person = store.customers.add(build.customer(1))
        stored = store.interactions.add(build.interaction(person.id))
        missing = new_customer_id()
        moved = stored.repointed(person.id, CustomerId(missing))
        _refused(lambda: store.interactions.update(moved), "participants[0].record_id", missing)
        assert store.interactions.get(stored.id) == stored
        assert _timeline(store, person.id) == [stored.id]

    def test_a_refused_write_leaves_the_transaction_around_it_usable(self, store: Store) -> None:
        self._require()
        with store.transaction():
            person = store.customers.add(build.customer(1))
            with pytest.raises(IntegrityError):
                store.interactions.add(build.interaction(new_lead_id()))
            kept = store.interactions.add(build.interaction(person.id))
        assert _timeline(store, person.id) == [kept.id]

    # ================================================================= customers and leads

    def test_an_organization_id_must_name_a_stored_organisation(self, store: Store) -> None:
        self._require()
        missing = new_customer_id()
        refused = build.customer(1, organization_id=missing)
        _refused(lambda: store.customers.add(refused), "organization_id", missing)
        person = store.customers.add(build.customer(2))
        error = _refused(
            lambda: store.customers.add(build.customer(3, organization_id=person.id)),
            "organization_id",
            person.id,
        )
        assert "organisation" in str(error)
        company = store.customers.add(build.organization(1))
        member = store.customers.add(build.customer(4, organization_id=company.id))
        assert store.customers.get(member.id).organization_id == company.id
        assert store.customers.get_many([refused.id]) == {}

    def test_a_person_and_its_organisation_may_come_in_one_batch(self, store: Store) -> None:
        self._require()
        company = build.organization(1)
        person = build.customer(1, organization_id=company.id)
        stored = store.customers.add_many([person, company])
        assert [c.id for c in stored] == [person.id, company.id]
        dangling = build.customer(2, organization_id=new_customer_id())
        _refused(
            lambda: store.customers.add_many([build.customer(3), dangling]),
            "records[1].organization_id",
        )
        assert store.customers.get_many([dangling.id]) == {}

    def test_an_organisation_with_members_cannot_become_a_person(self, store: Store) -> None:
        self._require()
        company = store.customers.add(build.organization(1))
        store.customers.add(build.customer(1, organization_id=company.id))
        as_person = attrs.evolve(company, kind=CustomerKind.PERSON, name=build.customer(9).name)
        _refused(lambda: store.customers.update(as_person), "kind")
        assert store.customers.get(company.id).kind is CustomerKind.ORGANIZATION

    def test_a_converted_customer_id_must_name_a_stored_customer(self, store: Store) -> None:
        self._require()
        missing = CustomerId(new_customer_id())
        refused = build.lead(1, converted_customer_id=missing)
        _refused(lambda: store.leads.add(refused), "converted_customer_id", missing)
        customer = store.customers.add(build.customer(1))
        lead = store.leads.add(build.lead(2))
        converted = store.leads.update(attrs.evolve(lead, converted_customer_id=customer.id))
        assert converted.converted_customer_id == customer.id

    def test_merged_into_is_the_merges_bookkeeping_and_is_not_checked(self, store: Store) -> None:
        self._require()
        # A tombstone may point at a survivor that is gone (erasure removes both).
        tombstone = store.customers.add(build.customer(1, merged_into=new_customer_id()))
        assert store.customers.get(tombstone.id).merged_into is not None
        survivor = store.customers.add(build.customer(2))
        store.customers.add(build.customer(3, merged_into=survivor.id))
        store.customers.delete(survivor.id)
        assert store.customers.get_many([survivor.id]) == {}

    def test_load_places_records_in_any_order_unchecked(self, store: Store) -> None:
        self._require()
        if not isinstance(store, SupportsLoad):
            pytest.skip("the store has no load() (SupportsLoad)")
        person = build.customer(1)
        interaction = build.interaction((person.id, new_lead_id()))
        store.load([interaction, person])
        assert _timeline(store, person.id) == [interaction.id]

    # ================================================================= deletes

    def test_deleting_a_customer_an_interaction_names_is_refused(self, store: Store) -> None:
        self._require()
        person = store.customers.add(build.customer(1))
        other = store.customers.add(build.customer(2))
        shared = store.interactions.add(build.interaction((other.id, person.id)))
        _refused(lambda: store.customers.delete(person.id), "interaction.participants", person.id)
        assert store.customers.get(person.id) == person
        assert _timeline(store, person.id) == [shared.id]
        # Remove the reference first (erasure drops the participant), then delete.
        store.interactions.update(attrs.evolve(shared, participants=shared.participants[:1]))
        store.customers.delete(person.id)
        assert store.customers.get_many([person.id]) == {}

    def test_deleting_a_lead_an_interaction_names_is_refused(self, store: Store) -> None:
        self._require()
        lead = store.leads.add(build.lead(1))
        interaction = store.interactions.add(build.interaction(lead.id))
        _refused(lambda: store.leads.delete(lead.id), "interaction.participants", lead.id)
        assert store.leads.get(lead.id) == lead
        store.interactions.delete(interaction.id)
        store.leads.delete(lead.id)
        assert store.leads.get_many([lead.id]) == {}

    def test_deleting_an_organisation_with_members_is_refused(self, store: Store) -> None:
        self._require()
        company = store.customers.add(build.organization(1))
        member = store.customers.add(build.customer(1, organization_id=company.id))
        _refused(lambda: store.customers.delete(company.id), "customer.organization_id")
        store.customers.update(attrs.evolve(member, organization_id=None))
        store.customers.delete(company.id)

    def test_deleting_a_customer_a_lead_was_converted_into_is_refused(self, store: Store) -> None:
        self._require()
        customer = store.customers.add(build.customer(1))
        lead = store.leads.add(build.lead(1, converted_customer_id=customer.id))
        _refused(lambda: store.customers.delete(customer.id), "lead.converted_customer_id")
        store.leads.delete(lead.id)
        store.customers.delete(customer.id)

    # ================================================================= work items

    def test_work_items_must_name_stored_records(self, store: Store) -> None:
        work_store = self._work(store)
        person = store.customers.add(stand_in_customer())
        lead = store.leads.add(build.lead(1))
        refusals: list[tuple[Callable[[], object], str]] = [
            (
                lambda: work_store.opportunities.add(work.opportunity(2)),
                "customer_id",
            ),
            (
                lambda: work_store.opportunities.add(
                    work.opportunity(
                        2,
                        customer_id=person.id,
                        contacts=(ContactRole(new_customer_id(), "champion"),),
                    )
                ),
                "contacts[0].customer_id",
            ),
            (
                lambda: work_store.opportunities.add(
                    work.opportunity(2, customer_id=person.id, lead_id=new_lead_id())
                ),
                "lead_id",
            ),
            (lambda: work_store.cases.add(work.case(1)), "customer_id"),
        ]
        for about in (new_customer_id(), new_lead_id(), new_opportunity_id(), new_case_id()):
            task = work.task(4, about_id=about)
            refusals.append((functools.partial(work_store.tasks.add, task), "about_id"))
        for write, field in refusals:
            _refused(write, field)
        assert work_store.opportunities.count() == 0
        assert work_store.cases.count() == 0
        assert work_store.tasks.count() == 0
        deal = work_store.opportunities.add(
            work.opportunity(
                2,
                customer_id=person.id,
                contacts=(ContactRole(person.id, "champion"),),
                lead_id=LeadId(lead.id),
            )
        )
        case = work_store.cases.add(work.case(1, customer_id=person.id))
        for about in (person.id, lead.id, deal.id, case.id):
            work_store.tasks.add(work.task(4, about_id=about))
        assert work_store.tasks.count() == 4

    def test_a_batch_of_work_items_names_the_item(self, store: Store) -> None:
        work_store = self._work(store)
        person = store.customers.add(stand_in_customer())
        batch = [work.case(1, customer_id=person.id), work.case(2), work.case(3)]
        _refused(lambda: work_store.cases.add_many(batch), "items[1].customer_id")
        assert work_store.cases.count() == 0

    def test_an_interaction_case_id_must_name_a_stored_case(self, store: Store) -> None:
        work_store = self._work(store)
        person = store.customers.add(stand_in_customer())
        missing = new_case_id()
        refused = build.interaction(person.id, case_id=missing)
        _refused(lambda: store.interactions.add(refused), "case_id", missing)
        case = work_store.cases.add(work.case(1, customer_id=person.id))
        stored = store.interactions.add(build.interaction(person.id, case_id=case.id))
        assert _timeline(store, case.id) == [stored.id]

    def test_deleting_a_record_a_work_item_names_is_refused(self, store: Store) -> None:
        work_store = self._work(store)
        person = store.customers.add(stand_in_customer())
        contact = store.customers.add(stand_in_customer())
        lead = store.leads.add(build.lead(1))
        deal = work_store.opportunities.add(
            work.opportunity(
                2,
                customer_id=person.id,
                contacts=(ContactRole(contact.id, "champion"),),
                lead_id=LeadId(lead.id),
            )
        )
        case = work_store.cases.add(work.case(1, customer_id=person.id))
        thread = store.interactions.add(build.interaction(person.id, case_id=case.id))
        about_deal = work_store.tasks.add(work.task(4, about_id=deal.id))
        _refused(lambda: store.customers.delete(person.id), "interaction.participants")
        _refused(lambda: store.customers.delete(contact.id), "opportunity.contacts")
        _refused(lambda: store.leads.delete(lead.id), "opportunity.lead_id")
        _refused(lambda: work_store.cases.delete(case.id), "interaction.case_id")
        _refused(lambda: work_store.opportunities.delete(deal.id), "task.about_id")
        store.interactions.delete(thread.id)
        _refused(lambda: store.customers.delete(person.id), "opportunity.customer_id")
        work_store.cases.delete(case.id)
        work_store.tasks.delete(about_deal.id)
        work_store.opportunities.delete(deal.id)
        about_lead = work_store.tasks.add(work.task(4, about_id=lead.id))
        _refused(lambda: store.leads.delete(lead.id), "task.about_id")
        work_store.tasks.delete(about_lead.id)
        for record_id in (person.id, contact.id):
            store.customers.delete(record_id)
        store.leads.delete(lead.id)
        assert store.customers.count() == 0
        assert store.leads.count() == 0

    def test_deleting_a_customer_a_case_names_is_refused(self, store: Store) -> None:
        work_store = self._work(store)
        person = store.customers.add(stand_in_customer())
        case = work_store.cases.add(work.case(1, customer_id=person.id))
        _refused(lambda: store.customers.delete(person.id), "case.customer_id")
        about = work_store.tasks.add(work.task(4, about_id=case.id))
        _refused(lambda: work_store.cases.delete(case.id), "task.about_id")
        work_store.tasks.delete(about.id)
        work_store.cases.delete(case.id)
        store.customers.delete(person.id)

    # ================================================================= the property

    def test_a_write_is_taken_exactly_when_every_id_it_names_is_stored(self, store: Store) -> None:
        self._require()
        # Six people, each stored or not; interactions naming some of them; then
        # every stored person is deleted: refused exactly while an interaction names it.
        pool = st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True)
        examples = st.tuples(
            st.lists(st.booleans(), min_size=6, max_size=6), st.lists(pool, max_size=4)
        )

        def check(example: tuple[list[bool], list[list[int]]]) -> None:
            stored_mask, named = example
            people: list[Any] = [build.customer(i) if i % 2 else build.lead(i) for i in range(6)]
            for person, keep in zip(people, stored_mask, strict=True):
                if keep:
                    (store.customers if person.id.startswith("cus_") else store.leads).add(person)
            batch = [build.interaction(tuple(people[i].id for i in ids)) for ids in named]
            expected = all(stored_mask[i] for ids in named for i in ids)
            try:
                store.interactions.add_many(batch)
                taken = True
            except IntegrityError:
                taken = False
            assert taken is expected
            held = {i.id for i in store.interactions.get_many([i.id for i in batch]).values()}
            assert held == ({i.id for i in batch} if taken else set())
            interactions: list[Interaction] = batch if taken else []
            for n, person in enumerate(people):
                if not stored_mask[n]:
                    continue
                repository: Any = store.customers if person.id.startswith("cus_") else store.leads
                named_by = [i for i in interactions if person.id in i.record_ids]
                if named_by:
                    with pytest.raises(IntegrityError):
                        repository.delete(person.id)
                    assert repository.get_many([person.id])
                else:
                    repository.delete(person.id)
            for interaction in interactions:
                store.interactions.delete(interaction.id)

        _check_every(examples, check)
