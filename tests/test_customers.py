"""Customers: creation from raw input, changes through methods, validation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import (
    Channel,
    ConsentStatus,
    ContactEmail,
    ContactLabel,
    ContactPhone,
    Customer,
    CustomerKind,
    CustomFields,
    EmailAddress,
    Interaction,
    InvalidTransition,
    Lead,
    LegalBasis,
    LifecycleStage,
    PersonName,
    PhoneNumber,
    PostalAddress,
    ValidationError,
)
from crmcore.testing.strategies import customers, email_addresses, phone_numbers

STAGES = list(LifecycleStage)
FUNNEL = [s for s in STAGES if s is not LifecycleStage.OTHER]


def _ada() -> Customer:
    return Customer.create(
        name="Ada Lovelace",
        emails=["ada@example.com", " ADA@Example.com ", "ada@work.example.com"],
        phones=["08-123 456 78", "+1 650 253 0000"],
        region="SE",
        tags=["VIP", " vip ", "Early  Adopter"],
    )


def test_create_parses_raw_input() -> None:
    ada = _ada()
    assert ada.kind is CustomerKind.PERSON
    assert ada.name == PersonName(given="Ada", family="Lovelace")
    assert ada.display_name == "Ada Lovelace"
    # The repeat (same match key) is dropped; the first address is primary.
    assert [str(e.address) for e in ada.emails] == ["ada@example.com", "ada@work.example.com"]
    assert ada.primary_email == EmailAddress.parse("ada@example.com")
    assert [p.number.e164 for p in ada.phones] == ["+46812345678", "+16502530000"]
    assert ada.primary_phone == PhoneNumber.parse("+46 8 123 456 78")
    assert ada.tags == {"vip", "early adopter"}
    assert ada.version == 0
    assert ada.created_at.tzinfo is UTC
    assert ada.stage is LifecycleStage.CUSTOMER
    assert ada.id.startswith("cus_")


def test_create_accepts_typed_values_and_strings_for_enums() -> None:
    org = Customer.create(
        name="Acme AB",
        kind="organization",
        stage="opportunity",
        emails=[EmailAddress.parse("info@acme.example.com")],
        phones=[PhoneNumber.parse("+46 8 123 456 78")],
        addresses=[PostalAddress(lines=("Box 1",), locality="Stockholm", country="SE")],
        custom_fields={"segment": "smb"},
        identifiers={"vat": "SE556677889901"},
    )
    assert org.kind is CustomerKind.ORGANIZATION
    assert org.name == "Acme AB"
    assert org.display_name == "Acme AB"
    assert org.stage is LifecycleStage.OPPORTUNITY
    assert org.identifiers["vat"] == "SE556677889901"
    assert org.custom_fields["segment"] == "smb"


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [Customer.create(name="Ada").id for _ in range(200)]
    assert len(set(ids)) == 200
    assert ids == sorted(ids)


def test_create_reports_every_bad_field_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        Customer.create(
            name="  ",
            emails=["ada@example.com", "not-an-email", "also@bad"],
            phones=["08-123 456 78", "12"],  # no region for the first, too short the second
            tags=["ok", ""],
            custom_fields={"bad key": 1},
            identifiers={"vat": 5},  # type: ignore[dict-item]
            stage="champion",
        )
    assert set(info.value.paths) == {
        "name",
        "emails[1]",
        "emails[2]",
        "phones[0]",
        "phones[1]",
        "tags[1]",
        "custom_fields",
        "identifiers.#1",
        "stage",
    }


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"name": PersonName(given="Ada"), "kind": "organization"}, "name"),
        ({"name": 42}, "name"),
        ({"name": "Ada", "kind": "robot"}, "kind"),
        ({"name": "Ada", "birth_date": datetime(1815, 12, 10, tzinfo=UTC)}, "birth_date"),
        ({"name": "Ada", "notes": "x" * 100_001}, "notes"),
        ({"name": "Ada", "owner": "\x00"}, "owner"),
        ({"name": "Ada", "organization_id": "org_1"}, "organization_id"),
        ({"name": "Ada", "tags": 5}, "tags"),
    ],
)
def test_create_refuses(kwargs: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        Customer.create(**kwargs)  # type: ignore[arg-type]
    assert path in info.value.paths


def test_constructor_checks_invariants() -> None:
    ada = _ada()
    with pytest.raises(ValidationError) as info:
        attrs.evolve(ada, organization_id=ada.id)
    assert info.value.paths == ("organization_id",)
    with pytest.raises(ValidationError) as info:
        attrs.evolve(ada, created_at=datetime(2024, 1, 1), version=-1)
    assert set(info.value.paths) == {"created_at", "version"}
    with pytest.raises(ValidationError):
        attrs.evolve(ada, id="cus_nope")  # type: ignore[arg-type]


def test_aware_datetimes_are_converted_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    ada = attrs.evolve(_ada(), created_at=datetime(2024, 1, 1, 13, tzinfo=cet))
    assert ada.created_at == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert ada.created_at.tzinfo is UTC


# --------------------------------------------------------------------------- emails and phones


def test_with_email_appends_relabels_and_promotes() -> None:
    ada = _ada()
    more = ada.with_email("Ada@Home.example.com", label=ContactLabel.HOME)
    assert [str(e.address) for e in more.emails][-1] == "Ada@home.example.com"
    assert more.primary_email == ada.primary_email
    relabelled = more.with_email("ADA@work.example.com", label=ContactLabel.WORK)
    assert len(relabelled.emails) == len(more.emails)
    assert relabelled.emails[1].label is ContactLabel.WORK
    promoted = relabelled.with_email("ada@home.example.com", primary=True)
    assert promoted.primary_email == EmailAddress.parse("ada@home.example.com")
    assert len(promoted.emails) == len(relabelled.emails)
    assert ada.emails == _ada().emails  # the original is untouched (frozen)
    assert promoted.without_email("ADA@HOME.EXAMPLE.COM").primary_email == ada.primary_email


@given(customers(), email_addresses())
def test_with_email_primary_puts_it_first_once(customer: Customer, email: EmailAddress) -> None:
    changed = customer.with_email(email, primary=True)
    assert changed.primary_email == email
    keys = [e.address.match_key for e in changed.emails]
    assert len(keys) == len(set(keys))
    assert set(keys) == {e.address.match_key for e in customer.emails} | {email.match_key}


@given(customers(), phone_numbers())
def test_with_phone_keeps_numbers_unique(customer: Customer, phone: PhoneNumber) -> None:
    changed = customer.with_phone(phone)
    numbers = [p.number for p in changed.phones]
    assert phone in numbers
    assert len(numbers) == len(set(numbers))
    assert changed.with_phone(phone, primary=True).primary_phone == phone
    assert phone not in [p.number for p in changed.without_phone(phone).phones]


def test_contact_entries_check_their_label_and_value() -> None:
    ada = _ada()
    # A label given as text is read as a ContactLabel, or refused by name.
    work: object = "work"
    assert ada.with_email("b@example.com", label=work).emails[-1].label is ContactLabel.WORK  # type: ignore[arg-type]
    for bad in ("nope", 5):
        with pytest.raises(ValidationError) as info:
            ada.with_email("b@example.com", label=bad)  # type: ignore[arg-type]
        assert info.value.paths == ("label",)
        with pytest.raises(ValidationError) as info:
            ada.with_phone("+46812345679", label=bad)  # type: ignore[arg-type]
        assert info.value.paths == ("label",)
    with pytest.raises(ValidationError) as info:
        ContactEmail("ada@example.com")  # type: ignore[arg-type]
    assert info.value.paths == ("address",)
    with pytest.raises(ValidationError) as info:
        ContactPhone("+46812345678")  # type: ignore[arg-type]
    assert info.value.paths == ("number",)


def test_with_phone_parses_in_a_region() -> None:
    ada = _ada().with_phone("070-123 45 67", region="SE", label=ContactLabel.MOBILE)
    assert ada.phones[-1].number.e164 == "+46701234567"
    assert ada.phones[-1].label is ContactLabel.MOBILE
    with pytest.raises(ValidationError):
        ada.with_phone("070-123 45 67")  # no region, no + prefix


# --------------------------------------------------------------------------- tags, fields, ids


def test_tags_are_case_insensitive() -> None:
    ada = _ada().add_tag("  Newsletter ")
    assert "newsletter" in ada.tags
    assert "newsletter" not in ada.remove_tag("NEWSLETTER").tags
    assert ada.remove_tag("absent").tags == ada.tags
    with pytest.raises(ValidationError):
        ada.add_tag("")


@pytest.mark.parametrize("kind", ["customer", "lead"])
def test_tags_given_as_a_frozenset_are_normalised_too(kind: str) -> None:
    record: Any = Customer.create(name="Ada") if kind == "customer" else Lead.create(name="Ada")
    assert attrs.evolve(record, tags=frozenset({" VIP ", "vip"})).tags == {"vip"}
    with pytest.raises(ValidationError) as info:
        attrs.evolve(record, tags=frozenset({5}))
    assert info.value.paths == ("tags[0]",)


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda text: attrs.evolve(_ada(), notes=text), "notes"),
        (lambda text: Customer.create(name="Ada", custom_fields={"hobby": [text]}), "#1[0]"),
        (lambda text: _ada().with_custom_field("hobby", text), "value"),
        (
            lambda text: Interaction.log(
                channel="email", direction="inbound", occurred_at=_ada().created_at,
                customer_id=_ada().id, body=text,
            ),
            "body",
        ),
    ],
)  # fmt: skip
def test_free_text_with_a_lone_surrogate_is_refused(build: Any, path: str) -> None:
    # The in-memory store took it and SQLite could not encode it: refuse it up front.
    with pytest.raises(ValidationError) as info:
        build("note \udc80")
    assert info.value.paths[0].endswith(path)
    build("note \u00e9\U0001f600 \x07")  # any valid Unicode, control characters included


def test_custom_field_numbers_that_cannot_become_text_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        CustomFields.parse({"n": 10**5_000}, field="custom_fields")
    assert info.value.paths == ("custom_fields.#1",)
    assert CustomFields.parse({"n": 2**64})["n"] == 2**64


def test_custom_fields_and_identifiers() -> None:
    ada = _ada().with_custom_field("plan", "pro").with_custom_field("seats", (1, 2))
    assert ada.custom_fields == {"plan": "pro", "seats": (1, 2)}
    assert ada.with_custom_field("plan", "free").custom_fields["plan"] == "free"
    with pytest.raises(ValidationError) as info:
        ada.with_custom_field("bad key", 1)
    assert info.value.paths == ("key",)
    with pytest.raises(ValidationError):
        ada.with_custom_field("x", float("inf"))
    ada = ada.with_identifier("erp", "  C-001 ")
    assert ada.identifiers == {"erp": "C-001"}
    with pytest.raises(ValidationError):
        ada.with_identifier("erp", "")


def test_owner_organization_and_addresses() -> None:
    org = Customer.create(name="Acme AB", kind=CustomerKind.ORGANIZATION)
    ada = _ada().assigned_to("usr_1").in_organization(org.id)
    assert (ada.owner, ada.organization_id) == ("usr_1", org.id)
    assert ada.in_organization(None).organization_id is None
    with pytest.raises(ValidationError):
        org.in_organization(ada.id)
    home = PostalAddress(lines=("12 St James's Square",), locality="London", country="GB")
    assert ada.with_address(home).with_address(home).addresses == (home,)
    assert ada.renamed("Augusta Ada King").name == PersonName(
        given="Augusta", middle="Ada", family="King"
    )


# --------------------------------------------------------------------------- stages


@pytest.mark.parametrize("target", STAGES)
@pytest.mark.parametrize("start", STAGES)
def test_stage_changes(start: LifecycleStage, target: LifecycleStage) -> None:
    customer = attrs.evolve(_ada(), stage=start)
    backwards = target.rank < start.rank
    if backwards:
        with pytest.raises(InvalidTransition):
            customer.advance_stage(target)
        with pytest.raises(InvalidTransition):
            customer.advance_stage(target, reason="   ")
        moved = customer.advance_stage(target, reason="Churned after the price change")
        assert moved.stage_reason == "Churned after the price change"
    else:
        moved = customer.advance_stage(target)
    assert moved.stage is target


def test_funnel_order() -> None:
    assert [s.rank for s in FUNNEL] == list(range(len(FUNNEL)))
    assert LifecycleStage.OTHER.rank < LifecycleStage.SUBSCRIBER.rank
    assert _ada().advance_stage("evangelist").stage is LifecycleStage.EVANGELIST
    with pytest.raises(ValidationError) as bad:
        _ada().advance_stage("champion")
    assert bad.value.paths == ("stage",)


# --------------------------------------------------------------------------- consents


def test_consents_per_channel_and_purpose() -> None:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    ada = _ada().with_consent(
        Channel.EMAIL, "Marketing", ConsentStatus.GRANTED, at=when, source="web form"
    )
    consent = ada.consent_for(Channel.EMAIL, "MARKETING")
    assert consent is not None
    assert consent.granted
    # ``at`` is when it takes effect; it is recorded now.
    assert (consent.purpose, consent.source) == ("marketing", "web form")
    assert consent.effective_at == when
    assert consent.recorded_at > when
    assert consent.legal_basis is LegalBasis.CONSENT
    assert len(ada.consent_events) == 1
    assert ada.consent_for(Channel.SMS, "marketing") is None
    # Looked up as stored: folded whitespace and case, and a channel by name.
    assert ada.consent_for(Channel.EMAIL, "  Marketing ") == consent
    assert ada.consent_for("email", "marketing") == consent
    for channel, purpose, path in ((Channel.EMAIL, 5, "purpose"), ("pigeon", "x", "channel")):
        with pytest.raises(ValidationError) as info:
            ada.consent_for(channel, purpose)  # type: ignore[arg-type]
        assert info.value.paths == (path,)
    withdrawn = ada.with_consent(Channel.EMAIL, "marketing", ConsentStatus.WITHDRAWN)
    assert len(withdrawn.consents) == 1
    assert len(withdrawn.consent_events) == 2  # appended: the grant stays in the history
    current = withdrawn.consent_for(Channel.EMAIL, "marketing")
    assert current is not None
    assert not current.granted
    both = withdrawn.with_consent(Channel.SMS, "marketing", ConsentStatus.GRANTED)
    assert len(both.consents) == 2


def test_consent_validation() -> None:
    ada = _ada()
    with pytest.raises(ValidationError) as info:
        ada.with_consent(Channel.EMAIL, " ", ConsentStatus.GRANTED)
    assert info.value.paths == ("purpose",)
    with pytest.raises(ValidationError) as info:
        ada.with_consent(
            Channel.EMAIL,
            "marketing",
            ConsentStatus.GRANTED,
            at=datetime(2024, 5, 1),
        )
    assert info.value.paths == ("at",)
    granted = ada.with_consent(Channel.EMAIL, "marketing", ConsentStatus.GRANTED)
    # The same event twice is a ledger that says it twice: the state is one.
    twice = attrs.evolve(granted, consent_events=granted.consent_events * 2)
    assert twice.consents == granted.consents
    with pytest.raises(ValidationError) as info:
        attrs.evolve(granted, consent_events=granted.consents)  # type: ignore[arg-type]
    assert info.value.paths == ("consent_events",)


# --------------------------------------------------------------------------- birth dates


def test_birth_date() -> None:
    ada = Customer.create(name="Ada Lovelace", birth_date=date(1815, 12, 10))
    assert ada.birth_date == date(1815, 12, 10)


@given(customers(), st.sampled_from(STAGES))
def test_methods_return_new_valid_customers(customer: Customer, stage: LifecycleStage) -> None:
    moved = customer.advance_stage(stage, reason="re-engaged")
    assert (moved.stage, moved.stage_reason) == (stage, "re-engaged")
    # Nothing else changed, and the original is untouched.
    assert attrs.evolve(moved, stage=customer.stage, stage_reason=customer.stage_reason) == customer


def test_consent_may_be_given_by_values_and_bad_ones_are_named() -> None:
    ada = _ada().with_consent("email", "newsletter", "withdrawn", legal_basis="contract")
    consent = ada.consent_for(Channel.EMAIL, "newsletter")
    assert consent is not None
    assert consent.status is ConsentStatus.WITHDRAWN
    assert consent.legal_basis is LegalBasis.CONTRACT
    with pytest.raises(ValidationError) as bad:
        _ada().with_consent("pigeon", "newsletter", "granted")
    assert bad.value.paths == ("channel",)


def test_lead_and_customer_take_none_for_no_contact_points() -> None:
    assert Lead.create(name="Ada", emails=None, phones=None).emails == ()  # type: ignore[arg-type]
    assert Customer.create(name="Ada", emails=None, phones=None).phones == ()  # type: ignore[arg-type]


ONE_VALUE = [
    ("emails", "ada@example.com"),
    ("emails", EmailAddress.parse("ada@example.com")),
    ("phones", "+46 70 123 45 67"),
    ("phones", PhoneNumber.parse("+46 70 123 45 67")),
    ("tags", "vip"),
]


@pytest.mark.parametrize(("field", "value"), ONE_VALUE)
def test_one_value_for_a_collection_is_one_item_alike(field: str, value: object) -> None:
    # One rule for emails, phones and tags: one value is a collection of one
    # (emails="a@x" was read as one email while tags="vip" was refused), and
    # never a collection of characters.
    alone = Customer.create(name="Ada", **{field: value})  # type: ignore[arg-type]
    listed = Customer.create(name="Ada", **{field: [value]})  # type: ignore[arg-type]
    assert getattr(alone, field) == getattr(listed, field)
    assert len(getattr(alone, field)) == 1
    lead = Lead.create(name="Ada", **{field: value})  # type: ignore[arg-type]
    assert getattr(lead, field) == getattr(listed, field)


@pytest.mark.parametrize(("field", "value"), [v for v in ONE_VALUE if v[0] != "phones"])
def test_evolve_takes_one_value_as_one_item(field: str, value: object) -> None:
    # Phones need a region to parse, so a constructor takes only ContactPhone
    # entries; emails and tags parse on their own.
    evolved = attrs.evolve(_ada(), **{field: value})  # type: ignore[arg-type]
    listed = attrs.evolve(_ada(), **{field: [value]})  # type: ignore[arg-type]
    assert getattr(evolved, field) == getattr(listed, field)


def test_a_value_that_is_no_collection_is_still_refused_by_name() -> None:
    for field in ("emails", "phones", "tags"):
        with pytest.raises(ValidationError) as info:
            Customer.create(name="Ada", **{field: 5})  # type: ignore[arg-type]
        assert info.value.paths == (field,)


@pytest.mark.parametrize(("field", "value"), ONE_VALUE)
def test_one_value_in_a_list_is_taken(field: str, value: object) -> None:
    customer = Customer.create(name="Ada", **{field: [value]})  # type: ignore[arg-type]
    assert len(getattr(customer, field)) == 1


@pytest.mark.parametrize(
    ("call", "paths"),
    [
        (lambda c: c.with_custom_field("score", float("nan")), ("value",)),
        (lambda c: c.with_custom_field("not a key!", 1), ("key",)),
        (lambda c: c.with_custom_field("n", {"a": [float("inf")]}), ("value.#1[0]",)),
        (lambda c: c.with_identifier("vat", 5), ("value",)),
        (lambda c: c.with_identifier("", "SE1"), ("scheme",)),
    ],
)
def test_the_with_methods_name_the_argument_at_fault(
    call: Callable[[Customer], Customer], paths: tuple[str, ...]
) -> None:
    # The caller passed the key and the value: the error names those
    # arguments, never the key's text nor an entry position they did not use.
    with pytest.raises(ValidationError) as info:
        call(Customer.create(name="Ada"))
    assert info.value.paths == paths
