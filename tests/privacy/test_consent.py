"""crmcore.privacy's consent questions, and the ledger through conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Channel,
    ConsentEvent,
    ConsentStatus,
    Customer,
    InMemoryStore,
    Lead,
    LeadStatus,
    RecordRestricted,
    ValidationError,
    convert_lead,
    merge,
    unmerge,
)
from crmcore.consent import MERGE_SOURCE, current_consents, event_order
from crmcore.privacy import SERVICE_PURPOSE, can_contact, consent_history
from crmcore.testing.strategies import consent_events

T0 = datetime(2024, 1, 1, tzinfo=UTC)
AFTER = T0 + timedelta(days=1)
ADA = "ada@example.com"


def _ada() -> Customer:
    return Customer.create(name="Ada Lovelace", emails=[ADA, "ada@work.example"])


def test_no_event_means_no_contact() -> None:
    assert not can_contact(_ada(), "email", "marketing")
    assert not can_contact(_ada(), "email", "marketing", contact_point=ADA)


def test_a_person_wide_grant_covers_every_contact_point() -> None:
    ada = _ada().with_consent("email", "marketing", "granted", at=T0)
    assert can_contact(ada, Channel.EMAIL, "Marketing", at=AFTER)
    assert can_contact(ada, "email", "marketing", at=AFTER, contact_point="ADA@example.com")
    assert not can_contact(ada, "sms", "marketing", at=AFTER)
    assert not can_contact(ada, "email", "newsletter", at=AFTER)
    assert not can_contact(ada, "email", "marketing", at=T0 - timedelta(seconds=1))


def test_a_contact_point_event_beats_the_person_wide_grant_for_that_point() -> None:
    ada = _ada().with_consent("email", "marketing", "granted", at=T0)
    ada = ada.with_consent("email", "marketing", "withdrawn", at=T0, contact_point=ADA)
    assert not can_contact(ada, "email", "marketing", at=AFTER, contact_point=ADA)
    assert can_contact(ada, "email", "marketing", at=AFTER, contact_point="ada@work.example")
    assert can_contact(ada, "email", "marketing", at=AFTER)
    # A grant for one point alone allows that point only.
    only = _ada().with_consent("email", "news", "granted", at=T0, contact_point=ADA)
    assert can_contact(only, "email", "news", at=AFTER, contact_point=ADA)
    assert not can_contact(only, "email", "news", at=AFTER)
    assert not can_contact(only, "email", "news", at=AFTER, contact_point="ada@work.example")


def test_a_person_wide_withdrawal_beats_everything() -> None:
    ada = _ada().with_consent("email", "marketing", "granted", at=AFTER, contact_point=ADA)
    ada = ada.with_consent("email", "marketing", "withdrawn", at=T0)
    assert not can_contact(ada, "email", "marketing", at=AFTER, contact_point=ADA)
    assert not can_contact(ada, "email", "marketing", at=AFTER)


def test_an_expired_grant_allows_nothing() -> None:
    ada = _ada().with_consent("sms", "offers", "granted", at=T0, expires_at=AFTER)
    assert can_contact(ada, "sms", "offers", at=T0)
    assert not can_contact(ada, "sms", "offers", at=AFTER)


def test_a_restricted_record_is_contacted_for_service_only() -> None:
    ada = _ada().with_consent("email", "marketing", "granted", at=T0)
    ada = ada.with_consent("email", SERVICE_PURPOSE, "granted", at=T0).restricted("objects")
    assert not can_contact(ada, "email", "marketing", at=AFTER)
    assert can_contact(ada, "email", " Service ", at=AFTER)
    assert can_contact(ada.unrestricted(), "email", "marketing", at=AFTER)
    # Service still needs consent (or another basis recorded as a grant).
    bare = _ada().restricted("objects")
    assert not can_contact(bare, "email", SERVICE_PURPOSE)


def test_leads_are_asked_alike() -> None:
    lead = Lead.create(name="Ada Lovelace", emails=[ADA]).with_consent(
        "email", "newsletter", "granted", at=T0
    )
    assert can_contact(lead, "email", "newsletter", at=AFTER)
    assert consent_history(lead) == lead.consent_events


def test_bad_arguments_are_named() -> None:
    ada = _ada()
    cases: list[tuple[dict[str, object], str]] = [
        ({"channel": "pigeon"}, "channel"),
        ({"purpose": " "}, "purpose"),
        ({"at": datetime(2024, 1, 1)}, "at"),
        ({"contact_point": "0701234567"}, "contact_point"),
    ]
    for changed, path in cases:
        arguments: dict[str, object] = {"channel": "email", "purpose": "marketing", **changed}
        with pytest.raises(ValidationError) as info:
            can_contact(ada, **arguments)  # type: ignore[arg-type]
        assert info.value.paths == (path,)
    with pytest.raises(ValidationError) as info:
        can_contact("ada", "email", "marketing")  # type: ignore[arg-type]
    assert info.value.paths == ("record",)
    with pytest.raises(ValidationError) as info:
        consent_history(ada, channel="pigeon")
    assert info.value.paths == ("channel",)


@given(consent_events(max_size=8, contact_points=(None, ADA)), st.sampled_from(["sms", "email"]))
def test_history_is_the_ledger_in_effective_order(
    ledger: tuple[ConsentEvent, ...], channel: str
) -> None:
    ada = attrs.evolve(_ada(), consent_events=ledger)
    history = consent_history(ada)
    assert sorted(history, key=event_order) == list(history)
    assert sorted(history, key=event_order) == sorted(ledger, key=event_order)
    assert [e.effective_at for e in history] == sorted(e.effective_at for e in ledger)
    mine = consent_history(ada, channel=channel, purpose="Marketing")
    assert all(e.channel.value == channel and e.purpose == "marketing" for e in mine)
    assert len(mine) == sum(e.channel.value == channel and e.purpose == "marketing" for e in ledger)


@given(
    consent_events(max_size=8, contact_points=(None, ADA)),
    st.sampled_from([Channel.EMAIL, Channel.SMS]),
    st.sampled_from(["marketing", "newsletter"]),
    st.sampled_from([None, ADA]),
)
def test_can_contact_agrees_with_the_states(
    ledger: tuple[ConsentEvent, ...], channel: Channel, purpose: str, point: str | None
) -> None:
    ada = attrs.evolve(_ada(), consent_events=ledger)
    at = datetime(2100, 1, 1, tzinfo=UTC)
    states = {c.key: c.granted for c in current_consents(ledger, at=at)}
    person = states.get((None, channel, purpose))
    own = states.get((point, channel, purpose)) if point is not None else None
    allowed = can_contact(ada, channel, purpose, at=at, contact_point=point)
    if person is False:
        assert not allowed
    elif own is not None:
        assert allowed is own
    else:
        assert allowed is bool(person)


# --------------------------------------------------------------------------- conversion


def _qualified(lead: Lead) -> Lead:
    return attrs.evolve(lead, status=LeadStatus.QUALIFIED)


def test_a_new_customer_starts_with_the_leads_ledger() -> None:
    store = InMemoryStore()
    lead = _qualified(Lead.create(name="Grace Hopper", emails=["grace@example.org"]))
    lead = lead.with_consent("email", "newsletter", "granted", at=T0, source="web form")
    lead = lead.with_consent("sms", "marketing", "withdrawn", at=T0)
    store.leads.add(lead)
    result = convert_lead(store, lead.id)
    assert result.created
    assert result.customer.consent_events == lead.consent_events
    assert can_contact(result.customer, "email", "newsletter")


def test_an_existing_customer_gains_the_leads_events_and_is_never_upgraded() -> None:
    store = InMemoryStore()
    customer = Customer.create(name="Grace Hopper", emails=["grace@example.org"])
    customer = customer.with_consent("email", "marketing", "withdrawn", at=T0)
    store.customers.add(customer)
    lead = _qualified(Lead.create(name="Grace Hopper", emails=["grace@example.org"]))
    lead = lead.with_consent("email", "marketing", "granted", at=AFTER)
    lead = lead.with_consent("email", "newsletter", "granted", at=AFTER)
    store.leads.add(lead)
    result = convert_lead(store, lead.id, customer_id=customer.id)
    events = set(result.customer.consent_events)
    assert set(customer.consent_events) | set(lead.consent_events) <= events
    assert any(e.source == MERGE_SOURCE for e in events)
    assert not can_contact(result.customer, "email", "marketing")
    assert can_contact(result.customer, "email", "newsletter")
    assert store.customers.get(customer.id).consent_events == result.customer.consent_events


def test_a_restricted_lead_is_not_converted() -> None:
    store = InMemoryStore()
    lead = _qualified(Lead.create(name="Grace Hopper")).restricted("objects")
    store.leads.add(lead)
    with pytest.raises(RecordRestricted) as info:
        convert_lead(store, lead.id)
    assert info.value.record_id == lead.id
    assert store.customers.count() == 0
    assert store.leads.get(lead.id).status is LeadStatus.QUALIFIED


def test_a_named_restricted_customer_is_refused() -> None:
    store = InMemoryStore()
    customer = store.customers.add(Customer.create(name="Grace Hopper").restricted("objects"))
    lead = store.leads.add(_qualified(Lead.create(name="Grace Hopper")))
    with pytest.raises(RecordRestricted):
        convert_lead(store, lead.id, customer_id=customer.id)


def test_matching_never_picks_a_restricted_customer() -> None:
    store = InMemoryStore()
    held = Customer.create(
        name="Grace Hopper", emails=["grace@example.org"], phones=["+46701234567"]
    )
    store.customers.add(held.restricted("disputes accuracy"))
    lead = _qualified(
        Lead.create(name="Grace Hopper", emails=["grace@example.org"], phones=["+46701234567"])
    )
    store.leads.add(lead)
    result = convert_lead(store, lead.id)
    assert result.created
    assert not result.matched
    assert result.customer.id != held.id
    assert store.customers.get(held.id).is_restricted
    # Lifted, the same person is found.
    store.customers.update(store.customers.get(held.id).unrestricted())
    other = _qualified(
        Lead.create(name="Grace Hopper", emails=["grace@example.org"], phones=["+46701234567"])
    )
    store.leads.add(other)
    assert convert_lead(store, other.id).matched


def test_consent_status_values_are_accepted() -> None:
    ada = _ada().with_consent("email", "marketing", ConsentStatus.GRANTED, at=T0)
    assert can_contact(ada, "email", "marketing", at=AFTER)


_LEAD_POINTS = (None, "grace@example.org", "+46701234567")
_PAST = datetime(2000, 1, 1, tzinfo=UTC)
_LEDGERS = consent_events(max_size=6, contact_points=_LEAD_POINTS).map(
    # In the past: conversions happen now, and the state is asked about now.
    lambda ledger: tuple(
        attrs.evolve(
            e,
            effective_at=min(e.effective_at, _PAST),
            recorded_at=min(e.recorded_at, _PAST),
            expires_at=None,
        )
        for e in ledger
    )
)


def _states(events: tuple[ConsentEvent, ...]) -> dict[object, bool]:
    return {c.key: c.granted for c in current_consents(events)}


@given(_LEDGERS, st.none() | _LEDGERS)
def test_conversion_carries_the_leads_events_and_never_upgrades(
    lead_ledger: tuple[ConsentEvent, ...], customer_ledger: tuple[ConsentEvent, ...] | None
) -> None:
    store = InMemoryStore()
    lead = _qualified(
        Lead.create(name="Grace Hopper", emails=["grace@example.org"], phones=["+46701234567"])
    )
    lead = store.leads.add(attrs.evolve(lead, consent_events=lead_ledger))
    target = None
    if customer_ledger is not None:
        existing = Customer.create(name="Grace Hopper", emails=["grace@example.org"])
        target = store.customers.add(attrs.evolve(existing, consent_events=customer_ledger))
    result = convert_lead(store, lead.id, customer_id=None if target is None else target.id)
    events = result.customer.consent_events
    assert set(lead_ledger) <= set(events)
    assert store.customers.get(result.customer.id).consent_events == events
    merged = _states(events)
    sources = [lead_ledger] if target is None else [lead_ledger, target.consent_events]
    for ledger in sources:
        assert set(ledger) <= set(events)
        for key, granted in _states(ledger).items():
            if not granted:
                assert merged[key] is False
    if target is None:
        assert events == lead_ledger


@given(st.lists(_LEDGERS, min_size=2, max_size=3))
def test_a_stored_merge_never_upgrades_and_unmerge_restores_the_ledgers(
    ledgers: list[tuple[ConsentEvent, ...]],
) -> None:
    store = InMemoryStore()
    records = [
        store.customers.add(
            attrs.evolve(Customer.create(name="Grace Hopper"), consent_events=ledger)
        )
        for ledger in ledgers
    ]
    result = merge(store, [r.id for r in records], survivor=records[0].id)
    survivor = store.customers.get(records[0].id)
    merged = _states(survivor.consent_events)
    for ledger in ledgers:
        assert set(ledger) <= set(survivor.consent_events)
        for key, granted in _states(ledger).items():
            if not granted:
                assert merged[key] is False
    unmerge(store, result.record.id)
    for record in records:
        assert store.customers.get(record.id).consent_events == record.consent_events


def test_a_stored_restricted_record_is_not_merged() -> None:
    store = InMemoryStore()
    a = store.customers.add(Customer.create(name="Grace Hopper"))
    b = store.customers.add(Customer.create(name="Grace Hopper").restricted("objects"))
    with pytest.raises(RecordRestricted):
        merge(store, [a.id, b.id])
    assert store.customers.get(a.id).merged_into is None
