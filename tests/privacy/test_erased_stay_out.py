"""An erased person does not come back: not by restore, import_subject, an edit or a conversion."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from crmcore import Customer, Lead, LeadStatus, Suppressed
from crmcore.conversion import convert_lead
from crmcore.io import export_store, restore
from crmcore.privacy import erase, export_subject, import_subject, open_request
from crmcore.subject_requests import RequestKind
from crmcore.writes import update_customer
from tests.privacy._subject_kit import STORES, Fresh

ADDRESS = "zelda.quixotic@example.org"


@pytest.fixture(params=sorted(STORES))
def fresh(request: pytest.FixtureRequest) -> Fresh:
    """A factory of empty stores of one kind."""
    return STORES[request.param]


def _zelda() -> Customer:
    return Customer.create(name="Zelda Quixotic", emails=[ADDRESS], phones=["+46701112233"])


def test_a_backup_does_not_restore_an_erased_person(fresh: Fresh, tmp_path: Path) -> None:
    with fresh() as store:
        zelda = store.customers.add(_zelda())
        backup = tmp_path / "backup.jsonl"
        export_store(store, backup)
        document = export_subject(store, zelda.id)
        erase(store, zelda.id, mode="delete")
        assert store.customers.count() == 0
        with pytest.raises(Suppressed) as refused:
            restore(store, backup)
        assert ADDRESS not in str(refused.value)
        assert refused.value.fields[0].endswith("emails[0]")
        with pytest.raises(Suppressed) as refused:
            import_subject(store, document)
        assert refused.value.fields == ("customers[0].emails[0]", "customers[0].phones[0]")
        assert store.customers.count() == 0


def test_an_edit_or_a_conversion_does_not_bring_an_erased_address_back(fresh: Fresh) -> None:
    with fresh() as store:
        zelda = store.customers.add(_zelda())
        other = store.customers.add(Customer.create(name="Ann Lee", emails=["ann@example.org"]))
        lead = store.leads.add(
            attrs.evolve(
                Lead.create(name="Z. Quixotic", emails=[ADDRESS]), status=LeadStatus.QUALIFIED
            )
        )
        erase(store, zelda.id)
        with pytest.raises(Suppressed) as refused:
            update_customer(store, attrs.evolve(other, emails=(*other.emails, *lead.emails)))
        assert refused.value.fields == ("emails[1]",)
        with pytest.raises(Suppressed):
            convert_lead(store, lead.id, find_existing=False)
        with pytest.raises(Suppressed):
            convert_lead(store, lead.id, customer_id=other.id)
        assert store.customers.get(other.id).emails == other.emails
        # What a customer already held stays usable: an unrelated edit goes through.
        renamed = update_customer(store, store.customers.get(other.id).add_tag("vip"))
        assert "vip" in renamed.tags


def test_an_erasure_clears_the_notes_of_the_persons_requests(fresh: Fresh) -> None:
    with fresh() as store:
        zelda = store.customers.add(_zelda())
        request = open_request(
            store, RequestKind.ERASURE, subject_id=zelda.id, note="Zelda phoned from home"
        )
        erase(store, zelda.id)
        kept = store.requests.get(request.id)
        assert kept.note is None
        assert (kept.kind, kept.received_at) == (request.kind, request.received_at)
