"""open_request, extend_request, answer_request and due_requests, on memory and SQLite;
and the audit trail find_subject and export_subject carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore import Customer, InvalidTransition, NotFound, ValidationError, VersionConflict
from crmcore.audit import AuditAction, acting_as
from crmcore.privacy import (
    answer_request,
    due_requests,
    export_subject,
    extend_request,
    find_subject,
    import_subject,
    open_request,
)
from crmcore.subject_requests import RequestKind, add_months
from tests.privacy._subject_kit import STORES, Fresh

EXAMPLES = settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
T0 = datetime(2024, 1, 31, 9, tzinfo=UTC)


@pytest.fixture(params=sorted(STORES))
def fresh(request: pytest.FixtureRequest) -> Fresh:
    """A factory of empty stores of one kind."""
    return STORES[request.param]


def test_a_request_is_opened_extended_and_answered(fresh: Fresh) -> None:
    with fresh() as store:
        ada = store.customers.add(Customer.create(name="Ada Lovelace"))
        opened = open_request(store, "access", subject_id=ada.id, received_at=T0)
        assert opened.version == 1
        assert opened.due_at == datetime(2024, 2, 29, 9, tzinfo=UTC)
        assert store.requests.get(opened.id) == opened
        extended = extend_request(store, opened.id, months=1, note="complex request")
        assert extended.deadline == add_months(T0, 2)
        assert extended.note == "complex request"
        answered = answer_request(store, opened.id, at=T0 + timedelta(days=40))
        assert answered.answered_at == T0 + timedelta(days=40)
        assert not answered.is_open
        assert answered.note == "complex request"
        assert store.requests.get(opened.id) == answered
        with pytest.raises(InvalidTransition):
            answer_request(store, opened.id)
        with pytest.raises(InvalidTransition):
            extend_request(store, opened.id)


def test_request_arguments_are_checked_by_name(fresh: Fresh) -> None:
    with fresh() as store:
        with pytest.raises(ValidationError) as kind:
            open_request(store, "gossip")
        assert kind.value.paths == ("kind",)
        with pytest.raises(ValidationError) as naive:
            open_request(store, RequestKind.ERASURE, received_at=datetime(2024, 1, 1))
        assert naive.value.paths == ("received_at",)
        opened = open_request(store, RequestKind.ERASURE, received_at=T0)
        with pytest.raises(ValidationError) as months:
            extend_request(store, opened.id, months=3)
        assert months.value.paths == ("months",)
        with pytest.raises(ValidationError) as early:
            answer_request(store, opened.id, at=T0 - timedelta(days=1))
        assert early.value.paths == ("answered_at",)
        with pytest.raises(ValidationError) as wrong_id:
            answer_request(store, "cus_" + "0" * 26)
        assert wrong_id.value.paths == ("request_id",)
        with pytest.raises(NotFound):
            answer_request(store, "req_" + "0" * 26)
        with pytest.raises(ValidationError) as before:
            due_requests(store, before=datetime(2024, 1, 1))
        assert before.value.paths == ("before",)
    with pytest.raises(ValidationError) as no_requests:
        open_request(object(), "access")
    assert no_requests.value.paths == ("store",)


def test_a_stale_copy_cannot_answer_twice(fresh: Fresh) -> None:
    with fresh() as store:
        opened = open_request(store, "access", received_at=T0)
        store.requests.update(opened.answered(at=T0))
        with pytest.raises(VersionConflict):
            store.requests.update(opened.answered(at=T0))


@EXAMPLES
@given(
    offsets=st.lists(st.integers(0, 200), min_size=1, max_size=6),
    answered=st.lists(st.booleans(), min_size=6, max_size=6),
    extended=st.lists(st.sampled_from([0, 1, 2]), min_size=6, max_size=6),
    probe=st.integers(0, 300),
)
def test_due_requests_are_the_open_ones_past_their_deadline_soonest_first(
    fresh: Fresh,
    offsets: list[int],
    answered: list[bool],
    extended: list[int],
    probe: int,
) -> None:
    before = T0 + timedelta(days=probe)
    with fresh() as store:
        expected = []
        for i, offset in enumerate(offsets):
            request = open_request(store, "erasure", received_at=T0 + timedelta(days=offset))
            if extended[i]:
                request = extend_request(store, request.id, months=extended[i])
            if answered[i]:
                request = answer_request(store, request.id, at=request.received_at)
            elif request.deadline < before:
                expected.append(request)
        due = due_requests(store, before=before)
        assert due == sorted(expected, key=lambda r: (r.deadline, r.id))


def test_the_subjects_audit_trail_is_found_exported_and_imported(fresh: Fresh) -> None:
    from crmcore.writes import add_customer, update_customer

    with fresh() as store:
        with acting_as("dpo@controller"):
            ada = add_customer(store, Customer.create(name="Ada Lovelace", emails=["a@x.example"]))
            ada = update_customer(store, ada.add_tag("vip"))
        bob = add_customer(store, Customer.create(name="Bob Stone", emails=["b@x.example"]))
        found = find_subject(store, email="a@x.example")
        actions = [e.action for e in found.audit_entries]
        assert AuditAction.ADD in actions
        assert AuditAction.UPDATE in actions
        assert all(ada.id in e.record_ids for e in found.audit_entries)
        assert not any(bob.id in e.record_ids for e in found.audit_entries)
        document = export_subject(store, ada.id)
        assert [a["id"] for a in document["audit"]] == [e.id for e in found.audit_entries]
        # One entry naming two people (a batch): the export keeps the subject's target only.
        cy, lena = store.customers.add_many(
            [Customer.create(name="Cy Young"), Customer.create(name="Lena", emails=["l@x.example"])]
        )
        shared = find_subject(store, email="l@x.example").audit_entries
        assert [{t.id for t in e.targets} for e in shared] == [{cy.id, lena.id}]
        exported = export_subject(store, lena.id)["audit"]
        assert [[t["id"] for t in a["targets"]] for a in exported] == [[lena.id]]
    with fresh() as target:
        import_subject(target, document)
        ids = {e.id for e in target.audit.list(limit=1000)}
        assert {a["id"] for a in document["audit"]} <= ids
        # The import itself is one entry of its own.
        imports = [e for e in target.audit.list(limit=1000) if e.action is AuditAction.IMPORT]
        assert len(imports) == 1
        assert imports[0].operation == "import_subject"
        assert ada.id in imports[0].record_ids
