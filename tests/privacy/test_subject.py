"""find_subject, export_subject and import_subject, on memory and SQLite (a real file).

tests/storage/sql/test_subject_postgres.py runs the same tests on PostgreSQL
by overriding the ``fresh`` fixture.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore import (
    Channel,
    Customer,
    Direction,
    Interaction,
    Lead,
    LeadStatus,
    NotFound,
    Participant,
    ValidationError,
    convert_lead,
    merge,
)
from crmcore.privacy import SubjectRecords, export_subject, find_subject, import_subject
from crmcore.testing.strategies import customers, leads
from tests.privacy._subject_kit import STORES, T0, Fresh, Person, people, store_people, variant

# Each example opens a store of its own (a file for SQLite): fewer examples than
# the profile's, every one of them against a real store.
EXAMPLES = settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=sorted(STORES))
def fresh(request: pytest.FixtureRequest) -> Fresh:
    """A factory of empty stores of one kind."""
    return STORES[request.param]


def _ids(records: SubjectRecords) -> set[str]:
    return {r.id for r in records.people}


# --------------------------------------------------------------------------- find


@EXAMPLES
@given(persons=people(), data=st.data())
def test_any_form_of_a_subjects_email_finds_all_their_records_and_nobody_elses(
    fresh: Fresh, persons: list[Person], data: st.DataObject
) -> None:
    with fresh() as store:
        store_people(store, persons)
        for person in persons:
            query = variant(data.draw, person.local, person.domain)
            found = find_subject(store, email=query)
            assert _ids(found) == person.ids
            assert {i.id for i in found.interactions} == {i.id for i in person.interactions}


def test_a_request_in_capitals_finds_the_lead_typed_with_a_plus_tag(fresh: Fresh) -> None:
    with fresh() as store:
        lead = store.leads.add(Lead.create(name="Ada Lovelace", emails=["ADA+News@Example.org"]))
        other = store.customers.add(Customer.create(name="Ada Byron", emails=["byron@example.org"]))
        found = find_subject(store, email="ada@EXAMPLE.org")
        assert [r.id for r in found.people] == [lead.id]
        assert other.id not in found.ids


def test_phone_and_name_criteria(fresh: Fresh) -> None:
    with fresh() as store:
        ada = store.customers.add(Customer.create(name="Ada Lovelace", phones=["+46 70 123 45 67"]))
        lead = store.leads.add(Lead.create(name="lovelace, ada"))
        store.customers.add(Customer.create(name="Grace Hopper", phones=["+46 70 765 43 21"]))
        assert _ids(find_subject(store, phone="070-123 45 67", region="SE")) == {ada.id}
        assert _ids(find_subject(store, name="ADA LOVELACE")) == {ada.id, lead.id}
        # Several criteria: a record matching any of them is found.
        both = find_subject(store, phone="+46701234567", name="Lovelace Ada")
        assert _ids(both) == {ada.id, lead.id}


def test_find_follows_merges_and_conversions(fresh: Fresh) -> None:
    with fresh() as store:
        first = store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@a.example"]))
        second = store.customers.add(
            Customer.create(name="Ada Lovelace", emails=["countess@b.example"])
        )
        result = merge(store, [first.id, second.id], survivor=first.id)
        lead = Lead.create(name="Ada L", emails=["third@c.example"])
        lead = store.leads.add(attrs.evolve(lead, status=LeadStatus.QUALIFIED))
        conversion = convert_lead(store, lead.id, customer_id=first.id)
        stranger = store.customers.add(Customer.create(name="Bob", emails=["bob@b.example"]))
        # Found by the merged-away record's address, the lead's, or the survivor's.
        for query in ("countess@b.example", "third@c.example", "ada@a.example"):
            found = find_subject(store, email=query)
            assert _ids(found) == {first.id, second.id, lead.id}, query
            assert result.merge_id in {m.id for m in found.merge_records}
            assert stranger.id not in found.ids
        assert conversion.customer.id == first.id


def test_find_gathers_work_items_and_case_threads(fresh: Fresh) -> None:
    from crmcore import Case, Task

    with fresh() as store:
        ada = store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@x.example"]))
        bob = store.customers.add(Customer.create(name="Bob Stone", emails=["bob@x.example"]))
        case = store.cases.add(Case.create(subject="Broken", customer_id=ada.id, reported_at=T0))
        task = store.tasks.add(Task.create(title="Call back", about_id=case.id))
        own = store.tasks.add(Task.create(title="Send offer", about_id=ada.id))
        store.tasks.add(Task.create(title="Other", about_id=bob.id))
        shared = store.interactions.add(
            Interaction.log(
                channel=Channel.MEETING,
                direction=Direction.OUTBOUND,
                occurred_at=T0,
                participants=[Participant(ada.id), Participant(bob.id)],
            )
        )
        found = find_subject(store, email="ada@x.example")
        assert {c.id for c in found.cases} == {case.id}
        assert {t.id for t in found.tasks} == {task.id, own.id}
        # An interaction shared with another person concerns both of them.
        assert {i.id for i in found.interactions} == {shared.id}
        assert shared.id in find_subject(store, email="bob@x.example").ids


def test_find_refuses_what_it_cannot_read_without_echoing_it(fresh: Fresh) -> None:
    with fresh() as store:
        with pytest.raises(ValidationError) as nothing:
            find_subject(store)
        assert nothing.value.paths == ("email",)
        with pytest.raises(ValidationError) as bad:
            find_subject(store, email="not-an-address-secret")
        assert bad.value.paths == ("email",)
        assert "secret" not in str(bad.value)
        with pytest.raises(ValidationError) as phone:
            find_subject(store, phone="12")
        assert phone.value.paths == ("phone",)
        with pytest.raises(ValidationError) as name:
            find_subject(store, name="  ")
        assert name.value.paths == ("name",)
    with pytest.raises(ValidationError) as wrong:
        find_subject(object(), email="a@b.example")  # type: ignore[arg-type]
    assert wrong.value.paths == ("store",)


def test_the_repr_of_subject_records_shows_counts_only(fresh: Fresh) -> None:
    with fresh() as store:
        store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@x.example"]))
        found = find_subject(store, email="ada@x.example")
        text = repr(found)
        assert "Ada" not in text
        assert "ada@" not in text
        assert "cus_" not in text
        assert "customers=1" in text
        assert len(found) == len(found.ids) >= 1
        assert found


# --------------------------------------------------------------------------- export / import


def _contents(store: Any, records: SubjectRecords) -> SubjectRecords:
    """The stored copies of ``records``' customers, leads, interactions and work items."""
    return SubjectRecords(
        customers=tuple(store.customers.get(r.id) for r in records.customers),
        leads=tuple(store.leads.get(r.id) for r in records.leads),
        interactions=tuple(store.interactions.get(r.id) for r in records.interactions),
        opportunities=tuple(store.opportunities.get(r.id) for r in records.opportunities),
        tasks=tuple(store.tasks.get(r.id) for r in records.tasks),
        cases=tuple(store.cases.get(r.id) for r in records.cases),
        merge_records=tuple(store.merges.get(r.id) for r in records.merge_records),
    )


@EXAMPLES
@given(
    subject=customers(merged=False),
    own_leads=st.lists(leads(merged=False), max_size=2),
    others=st.lists(customers(merged=False), max_size=2),
    notes=st.lists(st.text(min_size=1, max_size=40), max_size=3),
)
def test_export_then_import_into_an_empty_store_reproduces_the_subject(
    fresh: Fresh,
    subject: Customer,
    own_leads: list[Lead],
    others: list[Customer],
    notes: list[str],
) -> None:
    # The subject's leads were converted into them: the export follows conversions.
    own = [
        attrs.evolve(
            lead,
            id=Lead.create(name="x").id,
            status=LeadStatus.CONVERTED,
            converted_customer_id=subject.id,
        )
        for lead in own_leads
    ]
    with fresh() as source:
        stored_subject = source.customers.add(attrs.evolve(subject, organization_id=None))
        for lead in own:
            source.leads.add(lead)
        # Drawn ids may repeat: each other person gets a fresh one.
        others = [
            attrs.evolve(o, id=Customer.create(name="x").id, organization_id=None) for o in others
        ]
        for other in others:
            source.customers.add(other)
        for n, note in enumerate(notes):
            holders = [Participant(stored_subject.id)]
            if others and n % 2:
                holders.append(Participant(others[0].id))
            source.interactions.add(
                Interaction.log(
                    channel=Channel.PHONE_CALL,
                    direction=Direction.INBOUND,
                    occurred_at=T0 + timedelta(minutes=n),
                    participants=holders,
                    body=note,
                )
            )
        document = export_subject(source, stored_subject.id)
        expected = _contents(source, find_subject_by_id(source, stored_subject.id))
    # The document is JSON: it survives a trip through text.
    document = json.loads(json.dumps(document))
    with fresh() as target:
        placed = import_subject(target, document)
        assert _contents(target, placed) == expected
        assert {r.id for r in placed.people} == {stored_subject.id, *(lead.id for lead in own)}
        for other in others:
            with pytest.raises(NotFound):
                target.customers.get(other.id)
        again = export_subject(target, stored_subject.id)
        for key in ("customers", "leads", "interactions", "opportunities", "tasks", "cases"):
            assert again[key] == document[key], key
        assert again["consent_history"] == document["consent_history"]


def find_subject_by_id(store: Any, subject_id: str) -> SubjectRecords:
    """The records export_subject writes for ``subject_id``."""
    from crmcore.privacy import subject_records

    return subject_records(store, subject_id)


def test_the_export_document(fresh: Fresh) -> None:
    with fresh() as store:
        ada = Customer.create(name="Ada Lovelace", emails=["ada@x.example"])
        ada = ada.with_consent("email", "newsletter", "granted", at=T0)
        ada = ada.with_consent("email", "newsletter", "withdrawn", at=T0 + timedelta(days=2))
        stored = store.customers.add(ada)
        document = export_subject(store, stored.id)
        assert document["format"] == "crmcore-subject"
        assert document["version"] == 1
        assert document["subject_id"] == stored.id
        assert set(document) == {
            "format",
            "version",
            "exported_at",
            "subject_id",
            "customers",
            "leads",
            "interactions",
            "opportunities",
            "tasks",
            "cases",
            "merges",
            "consent_history",
            "audit",
        }
        history = document["consent_history"]
        assert [h["status"] for h in history] == ["granted", "withdrawn"]
        assert {h["record_id"] for h in history} == {stored.id}
        json.dumps(document)
        with pytest.raises(NotFound):
            export_subject(store, "cus_" + "0" * 26)
        with pytest.raises(ValidationError) as wrong:
            export_subject(store, "someone@x.example")
        assert wrong.value.paths == ("customer_id",)
        assert "someone" not in str(wrong.value)


def test_a_lead_who_never_converted_can_be_exported(fresh: Fresh) -> None:
    with fresh() as store:
        lead = store.leads.add(Lead.create(name="Ada Lovelace", emails=["ada@x.example"]))
        document = export_subject(store, lead.id)
        assert [d["id"] for d in document["leads"]] == [lead.id]
        assert document["customers"] == []


def test_a_merged_away_id_exports_the_survivor(fresh: Fresh) -> None:
    with fresh() as store:
        a = store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@x.example"]))
        b = store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@y.example"]))
        result = merge(store, [a.id, b.id], survivor=a.id)
        document = export_subject(store, b.id)
        stored_merge = store.merges.get(result.merge_id)
    assert document["subject_id"] == a.id
    assert {d["id"] for d in document["customers"]} == {a.id, b.id}
    assert [m["id"] for m in document["merges"]] == [result.merge_id]
    # One store after the other: a PostgreSQL "fresh" store empties the shared tables.
    with fresh() as target:
        placed = import_subject(target, json.loads(json.dumps(document)))
        assert target.merges.get(result.merge_id) == stored_merge
        assert target.customers.resolve(b.id).id == a.id
        assert len(placed.merge_records) == 1


def test_import_refuses_a_store_that_is_not_empty_and_documents_it_cannot_read(
    fresh: Fresh,
) -> None:
    with fresh() as store:
        ada = store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@x.example"]))
        document = export_subject(store, ada.id)
        with pytest.raises(ValidationError) as full:
            import_subject(store, document)
        assert full.value.paths == ("store",)
    with fresh() as empty:
        cases: list[tuple[Any, str]] = [
            ("not a document", "document"),
            ({**document, "format": "other"}, "format"),
            ({**document, "version": 2}, "version"),
            ({**document, "extra": 1}, "extra"),
            ({**document, "subject_id": "led_" + "0" * 26}, "subject_id"),
            (
                {**document, "customers": [{**document["customers"][0], "emails": [{"x": 1}]}]},
                "customers[0].emails[0]",
            ),
            ({**document, "customers": "Ada"}, "customers"),
        ]
        for bad, path in cases:
            with pytest.raises(ValidationError) as refused:
                import_subject(empty, bad)
            assert refused.value.paths[0].startswith(path), (path, refused.value.paths)
            assert "ada@" not in str(refused.value)
        # Nothing was placed by a refused document.
        assert empty.customers.count() == 0


def test_a_store_without_privacy_or_work_items_still_finds_and_exports(tmp_path: Path) -> None:
    from crmcore.privacy import is_suppressed
    from crmcore.writes import add_customer
    from tests.examples import load_example

    jsonl_store = load_example("jsonl_store.py")
    with jsonl_store.JsonLinesStore(tmp_path / "crm.jsonl") as store:
        ada = add_customer(store, Customer.create(name="Ada Lovelace", emails=["ada@x.example"]))
        found = find_subject(store, email="ADA@x.example")
        assert [r.id for r in found.people] == [ada.id]
        assert found.audit_entries == ()
        document = export_subject(store, ada.id)
        assert document["audit"] == []
        assert [d["id"] for d in document["customers"]] == [ada.id]
        # No suppression list: nothing is suppressed, and asking is a mistake named.
        with pytest.raises(ValidationError) as refused:
            is_suppressed(store, email="ada@x.example")
        assert refused.value.paths == ("store",)
    with fresh_memory() as target:
        assert [r.id for r in import_subject(target, document).customers] == [ada.id]


def fresh_memory() -> Any:
    """An empty in-memory store (for the tests that do not run on every kind)."""
    return STORES["memory"]()
