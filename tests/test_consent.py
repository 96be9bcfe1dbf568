"""The consent ledger: events, the state derived from them, merging ledgers, old documents."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Channel,
    ConsentEvent,
    ConsentEvidence,
    ConsentStatus,
    Customer,
    Lead,
    LegalBasis,
    MergeRecord,
    RecordRestricted,
    Restriction,
    SQLiteStore,
    ValidationError,
    from_dict,
    from_json,
    to_dict,
    to_json,
)
from crmcore.consent import (
    MERGE_SOURCE,
    Consent,
    ConsentKey,
    current_consents,
    event_order,
    merge_consent_events,
    normalize_contact_point,
)
from crmcore.merge import plan_merge
from crmcore.serialization import SCHEMA_VERSION
from crmcore.testing.strategies import (
    consent_events,
    customers,
    leads,
    merge_records,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MOMENTS = st.integers(0, 400).map(lambda days: T0 + timedelta(days=days))
# Ledgers on a small calendar: events of one key collide, tie, expire.
_POINTS = (None, "ada@example.com", "+46701234567")


@st.composite
def _event(draw: st.DrawFn) -> ConsentEvent:
    status = draw(st.sampled_from(ConsentStatus))
    effective = draw(MOMENTS)
    expires = None
    if status is ConsentStatus.GRANTED and draw(st.booleans()):
        expires = effective + timedelta(days=draw(st.integers(1, 100)))
    return ConsentEvent(
        channel=draw(st.sampled_from([Channel.EMAIL, Channel.SMS])),
        purpose=draw(st.sampled_from(["marketing", "newsletter"])),
        status=status,
        effective_at=effective,
        recorded_at=draw(MOMENTS),
        contact_point=draw(st.sampled_from(_POINTS)),
        source=draw(st.none() | st.sampled_from(["web form", "call"])),
        legal_basis=draw(st.sampled_from([LegalBasis.CONSENT, LegalBasis.CONTRACT])),
        expires_at=expires,
    )


LEDGERS = st.lists(_event(), max_size=8).map(tuple)


def _state(events: tuple[ConsentEvent, ...], at: datetime) -> dict[ConsentKey, bool]:
    return {c.key: c.granted for c in current_consents(events, at=at)}


# --------------------------------------------------------------------------- derivation


@given(LEDGERS, st.randoms(use_true_random=False), MOMENTS)
def test_events_in_any_order_give_the_same_state(
    ledger: tuple[ConsentEvent, ...], random: object, at: datetime
) -> None:
    shuffled = list(ledger)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert current_consents(shuffled, at=at) == current_consents(ledger, at=at)
    # Saying an event twice says nothing new.
    assert current_consents([*ledger, *ledger], at=at) == current_consents(ledger, at=at)


@given(consent_events(max_size=8), st.randoms(use_true_random=False))
def test_the_kit_ledgers_in_any_order_give_the_same_state(
    ledger: tuple[ConsentEvent, ...], random: object
) -> None:
    shuffled = list(ledger)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    at = datetime(2100, 1, 1, tzinfo=UTC)
    assert current_consents(shuffled, at=at) == current_consents(ledger, at=at)


@given(LEDGERS, _event(), MOMENTS)
def test_recording_an_older_event_never_overrides_a_newer_one(
    ledger: tuple[ConsentEvent, ...], late: ConsentEvent, at: datetime
) -> None:
    key = late.key
    latest = max(
        (e.effective_at for e in ledger if e.key == key and e.effective_at <= at), default=None
    )
    if latest is None or late.effective_at >= latest:
        return
    assert _state((*ledger, late), at) == _state(ledger, at)
    assert current_consents((*ledger, late), at=at) == current_consents(ledger, at=at)


@given(LEDGERS, MOMENTS)
def test_the_state_is_the_latest_effective_event_per_key(
    ledger: tuple[ConsentEvent, ...], at: datetime
) -> None:
    states = current_consents(ledger, at=at)
    assert len({c.key for c in states}) == len(states)
    for consent in states:
        mine = [e for e in ledger if e.key == consent.key and e.effective_at <= at]
        assert mine
        winner = max(mine, key=event_order)
        assert consent.effective_at == max(e.effective_at for e in mine)
        expired = winner.expires_at is not None and winner.expires_at <= at
        assert consent.granted is (winner.granted and not expired)
    # A key whose events all lie after ``at`` has no state yet.
    assert {c.key for c in states} == {e.key for e in ledger if e.effective_at <= at}


def test_a_withdrawal_dated_earlier_but_recorded_later_does_not_replace_a_newer_grant() -> None:
    # The example: a withdrawal stamped 2023 recorded after a 2024 grant.
    grant = ConsentEvent(Channel.EMAIL, "marketing", ConsentStatus.GRANTED, T0)
    old = ConsentEvent(
        Channel.EMAIL, "marketing", ConsentStatus.WITHDRAWN, datetime(2023, 6, 1, tzinfo=UTC)
    )
    ada = Customer.create(name="Ada Lovelace")
    ada = attrs.evolve(ada, consent_events=(grant,))
    ada = ada.with_consent("email", "marketing", "withdrawn", at=old.effective_at)
    consent = ada.consent_for("email", "marketing")
    assert consent is not None
    assert consent.granted
    assert len(ada.consent_events) == 2


def test_ties_go_to_the_later_record_then_to_the_withdrawal() -> None:
    grant = ConsentEvent(Channel.SMS, "news", ConsentStatus.GRANTED, T0, recorded_at=T0)
    withdrawal = attrs.evolve(grant, status=ConsentStatus.WITHDRAWN)
    later_grant = attrs.evolve(grant, recorded_at=T0 + timedelta(hours=1))
    assert not current_consents([grant, withdrawal], at=T0)[0].granted
    assert not current_consents([withdrawal, grant], at=T0)[0].granted
    assert current_consents([withdrawal, later_grant], at=T0)[0].granted


def test_an_expired_grant_counts_as_withdrawn() -> None:
    grant = ConsentEvent(
        Channel.EMAIL,
        "newsletter",
        ConsentStatus.GRANTED,
        T0,
        expires_at=T0 + timedelta(days=30),
    )
    assert current_consents([grant], at=T0 + timedelta(days=29))[0].granted
    lapsed = current_consents([grant], at=T0 + timedelta(days=30))[0]
    assert lapsed.status is ConsentStatus.WITHDRAWN
    assert lapsed.expires_at == grant.expires_at
    assert current_consents([grant], at=T0 - timedelta(days=1)) == ()


def test_a_future_event_takes_effect_when_it_says() -> None:
    ada = Customer.create(name="Ada Lovelace").with_consent(
        "email", "marketing", "granted", at=datetime(2999, 1, 1, tzinfo=UTC)
    )
    assert ada.consents == ()
    assert ada.consent_for("email", "marketing", at=datetime(2999, 1, 2, tzinfo=UTC)) is not None


# --------------------------------------------------------------------------- merging ledgers


@given(st.lists(LEDGERS, min_size=1, max_size=3), MOMENTS, st.integers(0, 200))
def test_a_merge_never_upgrades_consent(
    ledgers: list[tuple[ConsentEvent, ...]], at: datetime, later: int
) -> None:
    merged = merge_consent_events(ledgers, at=at)
    # Every event of every ledger is kept.
    for ledger in ledgers:
        assert set(ledger) <= set(merged)
    added = [e for e in merged if e not in set().union(*ledgers)]
    assert all(e.source == MERGE_SOURCE and not e.granted for e in added)
    # At the merge and at any later moment: granted in the merged ledger means
    # granted in every ledger that has a state for the key.
    for moment in (at, at + timedelta(days=later)):
        state = _state(merged, moment)
        for ledger in ledgers:
            for key, granted in _state(ledger, moment).items():
                if not granted:
                    assert state[key] is False, key


@given(st.lists(LEDGERS, min_size=1, max_size=3), MOMENTS)
def test_merging_ledgers_does_not_depend_on_their_order(
    ledgers: list[tuple[ConsentEvent, ...]], at: datetime
) -> None:
    merged = merge_consent_events(ledgers, at=at)
    assert merge_consent_events(list(reversed(ledgers)), at=at) == merged
    assert list(merged) == sorted(merged, key=event_order)
    assert len(set(merged)) == len(merged)
    # Merging the result with its sources again adds nothing.
    assert merge_consent_events([merged, *ledgers], at=at) == merged


@given(LEDGERS, MOMENTS)
def test_one_ledger_merges_into_itself_sorted(
    ledger: tuple[ConsentEvent, ...], at: datetime
) -> None:
    assert merge_consent_events([ledger], at=at) == tuple(sorted(set(ledger), key=event_order))


def test_a_ledger_without_events_of_a_key_leaves_another_ledgers_grant() -> None:
    grant = ConsentEvent(Channel.EMAIL, "newsletter", ConsentStatus.GRANTED, T0)
    merged = merge_consent_events([(grant,), ()], at=T0 + timedelta(days=1))
    assert merged == (grant,)


def test_a_merge_withdraws_where_one_record_had_withdrawn() -> None:
    withdrawn = ConsentEvent(Channel.EMAIL, "marketing", ConsentStatus.WITHDRAWN, T0)
    grant = ConsentEvent(Channel.EMAIL, "marketing", ConsentStatus.GRANTED, T0 + timedelta(days=10))
    at = T0 + timedelta(days=20)
    merged = merge_consent_events([(withdrawn,), (grant,)], at=at)
    assert merged[-1].source == MERGE_SOURCE
    assert merged[-1].effective_at == at
    assert not current_consents(merged, at=at)[0].granted
    # A grant scheduled for after the merge does not upgrade it either.
    future = ConsentEvent(
        Channel.EMAIL, "marketing", ConsentStatus.GRANTED, T0 + timedelta(days=40)
    )
    merged = merge_consent_events([(withdrawn,), (future,)], at=at)
    assert not current_consents(merged, at=T0 + timedelta(days=41))[0].granted


def test_merge_consent_events_names_its_bad_arguments() -> None:
    with pytest.raises(ValidationError) as info:
        merge_consent_events([("x",)], at=T0)  # type: ignore[list-item]
    assert info.value.paths == ("ledgers[0]",)
    with pytest.raises(ValidationError) as info:
        merge_consent_events([()], at=datetime(2024, 1, 1))
    assert info.value.paths == ("at",)
    with pytest.raises(ValidationError) as info:
        merge_consent_events("abc", at=T0)  # type: ignore[arg-type]
    assert info.value.paths == ("ledgers",)


# --------------------------------------------------------------------------- the models


def test_contact_points_are_normalised() -> None:
    assert normalize_contact_point(" Ada.Lovelace@EXAMPLE.com ") == "ada.lovelace@example.com"
    assert normalize_contact_point("+46 70 123 45 67") == "+46701234567"
    assert normalize_contact_point(None) is None
    for bad in ("0701234567", "not an address@", 5):
        with pytest.raises(ValidationError) as info:
            normalize_contact_point(bad)
        assert info.value.paths == ("contact_point",)


def test_an_event_checks_its_fields_and_names_them() -> None:
    with pytest.raises(ValidationError) as info:
        ConsentEvent(
            "email",  # type: ignore[arg-type]
            " ",
            "granted",  # type: ignore[arg-type]
            datetime(2024, 1, 1),
            contact_point="nobody",
            legal_basis="consent",  # type: ignore[arg-type]
            evidence="form 7",  # type: ignore[arg-type]
        )
    assert set(info.value.paths) == {
        "channel",
        "purpose",
        "status",
        "effective_at",
        "contact_point",
        "legal_basis",
        "evidence",
    }
    with pytest.raises(ValidationError) as info:
        ConsentEvent(Channel.EMAIL, "x", ConsentStatus.WITHDRAWN, T0, expires_at=T0)
    assert info.value.paths == ("expires_at",)
    with pytest.raises(ValidationError) as info:
        ConsentEvent(Channel.EMAIL, "x", ConsentStatus.GRANTED, T0, expires_at=T0)
    assert info.value.paths == ("expires_at",)


def test_times_are_kept_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = ConsentEvent(
        Channel.EMAIL, "x", ConsentStatus.GRANTED, datetime(2024, 1, 1, 2, tzinfo=plus_two)
    )
    assert event.effective_at == T0
    assert event.effective_at.tzinfo is UTC


def test_evidence_checks_the_ip_address() -> None:
    evidence = ConsentEvidence(form_id="signup", ip_address=" 2001:DB8::1 ", confirmed_at=T0)
    assert evidence.ip_address == "2001:db8::1"
    for bad in ("300.1.1.1", "localhost", "1" * 100, 42):
        with pytest.raises(ValidationError) as info:
            ConsentEvidence(ip_address=bad)  # type: ignore[arg-type]
        assert info.value.paths == ("ip_address",)
        assert "300.1" not in str(info.value)


def test_reprs_mask_free_text_and_contact_points() -> None:
    secrets = ("ada@example.com", "192.0.2.44", "phoned Ada", "form-ada", "ticket ada")
    evidence = ConsentEvidence(form_id="form-ada", ip_address="192.0.2.44", reference="ticket ada")
    event = ConsentEvent(
        Channel.EMAIL,
        "marketing",
        ConsentStatus.GRANTED,
        T0,
        contact_point="ada@example.com",
        source="phoned Ada",
        evidence=evidence,
    )
    restriction = Restriction(reason="phoned Ada: disputes accuracy", since=T0)
    consent = current_consents([event], at=T0)[0]
    for shown in (repr(event), repr(evidence), repr(restriction), repr(consent)):
        for secret in secrets:
            assert secret not in shown


def test_a_restriction_has_a_reason_of_at_most_500_characters() -> None:
    assert Restriction(reason="  disputes   accuracy ", since=T0).reason == "disputes accuracy"
    for reason in ("", "   ", "x" * 501, None):
        with pytest.raises(ValidationError) as info:
            Restriction(reason=reason, since=T0)  # type: ignore[arg-type]
        assert info.value.paths == ("reason",)
    with pytest.raises(ValidationError) as info:
        Restriction(reason="ok", since=datetime(2024, 1, 1))
    assert info.value.paths == ("since",)


def test_old_consent_constructor_calls_still_work() -> None:
    consent = Consent(Channel.EMAIL, "News", ConsentStatus.GRANTED, T0, "web", LegalBasis.CONSENT)
    assert (consent.effective_at, consent.contact_point, consent.expires_at) == (T0, None, None)
    assert consent.purpose == "news"


# --------------------------------------------------------------------------- customers and leads


@pytest.mark.parametrize(
    "record",
    [
        Customer.create(name="Ada Lovelace", emails=["ada@example.com"]),
        Lead.create(name="Ada Lovelace", emails=["ada@example.com"]),
    ],
    ids=["customer", "lead"],
)
def test_customers_and_leads_keep_a_ledger(record: Customer | Lead) -> None:
    evidence = ConsentEvidence(form_id="signup", ip_address="192.0.2.1", confirmed_at=T0)
    granted = record.with_consent(
        "email",
        "Newsletter",
        "granted",
        at=T0,
        source="web form",
        legal_basis="consent",
        contact_point="Ada@Example.com",
        evidence=evidence,
        expires_at=T0 + timedelta(days=365),
    )
    (event,) = granted.consent_events
    assert event.contact_point == "ada@example.com"
    assert (event.effective_at, event.evidence) == (T0, evidence)
    assert event.recorded_at > T0
    assert granted.consent_for("email", "newsletter") is None  # person-wide: nothing
    state = granted.consent_for(
        "email", "newsletter", contact_point="ada@example.com", at=T0 + timedelta(days=1)
    )
    assert state is not None
    assert state.granted
    # Expired by now (2025 onwards).
    lapsed = granted.consent_for("email", "newsletter", contact_point="ada@example.com")
    assert lapsed is not None
    assert not lapsed.granted
    withdrawn = granted.with_consent(
        "email", "newsletter", "withdrawn", contact_point="ada@example.com"
    )
    assert len(withdrawn.consent_events) == 2
    assert type(withdrawn) is type(record)


def test_restricting_and_lifting() -> None:
    ada = Customer.create(name="Ada Lovelace")
    assert not ada.is_restricted
    assert ada.restriction is None
    held = ada.restricted("disputes accuracy", at=T0)
    assert held.is_restricted
    assert held.restriction == Restriction(reason="disputes accuracy", since=T0)
    assert held.unrestricted().restriction is None
    assert ada.unrestricted() is ada
    with pytest.raises(ValidationError) as info:
        ada.restricted("x", at=datetime(2024, 1, 1))
    assert info.value.paths == ("at",)
    with pytest.raises(ValidationError) as info:
        attrs.evolve(ada, restriction="yes")  # type: ignore[arg-type]
    assert info.value.paths == ("restriction",)
    lead = Lead.create(name="Ada Lovelace").restricted("objects")
    assert lead.is_restricted


def test_a_restricted_record_is_not_merged() -> None:
    a = Customer.create(name="Ada Lovelace", emails=["ada@example.com"])
    b = Customer.create(name="Ada Lovelace", emails=["ada@example.com"]).restricted("objects")
    with pytest.raises(RecordRestricted) as info:
        plan_merge([a, b])
    assert info.value.record_id == b.id
    assert "Ada" not in str(info.value)


@given(customers(), customers(), MOMENTS)
def test_a_planned_merge_never_upgrades_consent(a: Customer, b: Customer, at: datetime) -> None:
    if a.kind is not b.kind or a.id == b.id:
        return
    result = plan_merge([a, b], at=at).result
    for moment in (at, at + timedelta(days=30)):
        state = _state(result.consent_events, moment)
        for record in (a, b):
            assert set(record.consent_events) <= set(result.consent_events)
            for key, granted in _state(record.consent_events, moment).items():
                if not granted:
                    assert state[key] is False


def test_a_plan_is_pure_by_default() -> None:
    a = Customer.create(name="Ada Lovelace").with_consent("email", "marketing", "withdrawn", at=T0)
    b = Customer.create(name="Ada Lovelace").with_consent(
        "email", "marketing", "granted", at=T0 + timedelta(days=1)
    )
    first = plan_merge([a, b], survivor=a.id).result
    assert plan_merge([b, a], survivor=a.id).result == first
    added = [e for e in first.consent_events if e.source == MERGE_SOURCE]
    assert [e.effective_at for e in added] == [max(a.updated_at, b.updated_at)]


# --------------------------------------------------------------------------- documents


@given(customers(edge=True, restricted=True))
def test_customers_round_trip_with_their_ledger(customer: Customer) -> None:
    assert from_json(Customer, to_json(customer)) == customer
    assert to_dict(customer)["schema_version"] == SCHEMA_VERSION == 2


@given(leads(edge=True, restricted=True))
def test_leads_round_trip_with_their_ledger(lead: Lead) -> None:
    assert from_json(Lead, to_json(lead)) == lead


def _old(customer: Customer, consents: object) -> dict[str, Any]:
    data = to_dict(customer)
    del data["consent_events"]
    del data["restriction"]
    data["schema_version"] = 1
    data["consents"] = consents
    return data


OLD_CONSENTS: list[dict[str, Any]] = [
    {
        "channel": "email",
        "purpose": "newsletter",
        "status": "granted",
        "recorded_at": "2023-05-01T10:00:00+00:00",
        "source": "web form",
        "legal_basis": "consent",
    },
    {
        "channel": "sms",
        "purpose": "marketing",
        "status": "withdrawn",
        "recorded_at": "2023-06-01T10:00:00+02:00",
        "source": None,
        "legal_basis": "legitimate_interests",
    },
]


def test_an_old_document_with_consents_still_loads() -> None:
    customer = Customer.create(name="Ada Lovelace", emails=["ada@example.com"])
    loaded = from_dict(Customer, _old(customer, OLD_CONSENTS))
    assert len(loaded.consent_events) == 2
    news, sms = loaded.consent_events
    assert news.effective_at == news.recorded_at == datetime(2023, 5, 1, 10, tzinfo=UTC)
    assert (news.source, news.status, news.contact_point) == (
        "web form",
        ConsentStatus.GRANTED,
        None,
    )
    assert sms.effective_at == datetime(2023, 6, 1, 8, tzinfo=UTC)
    assert sms.legal_basis is LegalBasis.LEGITIMATE_INTERESTS
    state = loaded.consent_for("email", "newsletter")
    assert state is not None
    assert state.granted
    # Written again, it is a document of the new layout, and reads back the same.
    again = to_dict(loaded)
    assert again["schema_version"] == 2
    assert "consents" not in again
    assert from_dict(Customer, again) == loaded
    # The old layout without consents at all reads too.
    bare = _old(customer, [])
    del bare["consents"]
    assert from_dict(Customer, bare) == customer


def test_an_old_document_names_its_bad_consents() -> None:
    customer = Customer.create(name="Ada Lovelace")
    bad = [{**OLD_CONSENTS[0], "status": "maybe"}, {**OLD_CONSENTS[1], "recorded_at": "x"}]
    with pytest.raises(ValidationError) as info:
        from_dict(Customer, _old(customer, bad))
    assert set(info.value.paths) == {"consents[0].status", "consents[1].recorded_at"}
    with pytest.raises(ValidationError) as info:
        from_dict(Customer, _old(customer, "granted"))
    assert info.value.paths == ("consents",)
    both = {**_old(customer, OLD_CONSENTS), "consent_events": []}
    with pytest.raises(ValidationError) as info:
        from_dict(Customer, both)
    assert info.value.paths == ("consents",)


def test_a_new_document_with_consents_is_refused() -> None:
    data = to_dict(Customer.create(name="Ada Lovelace"))
    data["consents"] = OLD_CONSENTS
    with pytest.raises(ValidationError) as info:
        from_dict(Customer, data)
    assert info.value.paths == ("",)
    assert "consents" not in str(info.value)  # a key is never repeated


@given(merge_records())
def test_an_old_merge_record_reads_its_snapshots_consents(record: MergeRecord) -> None:
    data = to_dict(record)
    data["schema_version"] = 1
    for side in ("before", "after"):
        for customer in data[side]["customers"]:
            del customer["consent_events"]
            del customer["restriction"]
            customer["consents"] = OLD_CONSENTS[:1]
    loaded = from_dict(MergeRecord, data)
    for customer in (*loaded.before.customers, *loaded.after.customers):
        assert [e.source for e in customer.consent_events] == ["web form"]
    assert from_dict(MergeRecord, to_dict(loaded)) == loaded


def test_a_sqlite_file_written_before_the_ledger_still_reads(tmp_path: Path) -> None:
    # A database written by an older crmcore holds version 1 documents: they
    # read as ledgers, and the next write stores the new layout.
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        stored = store.customers.add(Customer.create(name="Ada Lovelace"))
    old = json.dumps(_old(stored, OLD_CONSENTS))
    raw = sqlite3.connect(path)
    raw.execute("UPDATE customers SET doc = ? WHERE id = ?", (old, stored.id))
    raw.commit()
    raw.close()
    with SQLiteStore(path) as store:
        loaded = store.customers.get(stored.id)
        assert [e.source for e in loaded.consent_events] == ["web form", None]
        state = loaded.consent_for("sms", "marketing")
        assert state is not None
        assert not state.granted
        store.customers.update(loaded.with_consent("email", "newsletter", "withdrawn"))
    raw = sqlite3.connect(path)
    (doc,) = raw.execute("SELECT doc FROM customers WHERE id = ?", (stored.id,)).fetchone()
    raw.close()
    written = json.loads(doc)
    assert written["schema_version"] == 2
    assert "consents" not in written
    assert len(written["consent_events"]) == 3
