"""No personal data in repr(), str() or error messages.

Reprs are checked by changing every piece of personal data and asserting the
repr does not change (no false positives from short names hiding in words
like "person"); error messages are checked for the personal text itself.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given

from crmcore import (
    Consent,
    ContactEmail,
    ContactPhone,
    Customer,
    CustomFields,
    EmailAddress,
    ExternalIds,
    Interaction,
    Lead,
    PersonName,
    PhoneNumber,
    PostalAddress,
    ValidationError,
    from_dict,
    from_json,
    to_dict,
    to_json,
)
from crmcore.testing.strategies import (
    consents,
    customers,
    email_addresses,
    interactions,
    leads,
    person_names,
    phone_numbers,
    postal_addresses,
)

OTHER_NAME = PersonName(given="Placeholder", family="Person")


def _scrub_customer(customer: Customer) -> Customer:
    return attrs.evolve(
        customer,
        name=OTHER_NAME if isinstance(customer.name, PersonName) else "Placeholder Ltd",
        emails=(),
        phones=(),
        addresses=(),
        notes=None,
        birth_date=None,
        custom_fields=CustomFields(),
        identifiers=ExternalIds(),
    )


@given(customers())
def test_customer_repr_holds_no_personal_data(customer: Customer) -> None:
    scrubbed = _scrub_customer(customer)
    assert repr(customer) == repr(scrubbed)
    assert str(customer) == str(scrubbed)


@given(leads())
def test_lead_repr_holds_no_personal_data(lead: Lead) -> None:
    scrubbed = attrs.evolve(lead, name=OTHER_NAME, company=None, emails=(), phones=())
    assert repr(lead) == repr(scrubbed)
    assert str(lead) == str(scrubbed)


@given(interactions())
def test_interaction_repr_holds_no_content(ixn: Interaction) -> None:
    scrubbed = attrs.evolve(ixn, subject=None, body=None, outcome=None, external_id=None)
    assert repr(ixn) == repr(scrubbed)


@given(email_addresses(), phone_numbers(), person_names(), postal_addresses())
def test_value_reprs_are_masked(
    email: EmailAddress, phone: PhoneNumber, name: PersonName, address: PostalAddress
) -> None:
    assert repr(email) == "EmailAddress(<masked>)"
    assert repr(phone) == "PhoneNumber(<masked>)"
    assert repr(name) == str(name) == "PersonName(<masked>)"
    assert repr(address) == f"PostalAddress(<masked>, country={address.country!r})"
    assert repr(ContactEmail(email)) == "ContactEmail(<masked>, label='other')"
    assert repr(ContactPhone(phone)) == "ContactPhone(<masked>, label='other')"


def _assert_not_in_error(exc: ValidationError, *secrets: str) -> None:
    rendered = " ".join([str(exc), repr(exc), *(f"{p} {m}" for p, m in exc.problems)])
    for secret in secrets:
        # Very short fragments ("a", "0") appear in any text; they identify no one.
        if len(secret) >= 4:
            assert secret not in rendered


@given(email_addresses())
def test_email_errors_do_not_repeat_the_address(email: EmailAddress) -> None:
    for bad in (f"{email}@", f"{email} {email}", f"<{email}>", f"{email}.test"):
        with pytest.raises(ValidationError) as info:
            EmailAddress.parse(bad)
        # One fixed message for every address: it cannot carry any of them.
        assert str(info.value) == "email: is not a valid email address"


@given(phone_numbers())
def test_phone_errors_do_not_repeat_the_number(phone: PhoneNumber) -> None:
    national = phone.format_national()
    for text, region in (
        (phone.e164 + "999999999", None),  # too long to be possible
        (phone.e164 + " call me", None),
        (phone.e164.removeprefix("+"), None),  # no region
        (national, "ZZ"),
    ):
        with pytest.raises(ValidationError) as info:
            PhoneNumber.parse(text, region)
        _assert_not_in_error(info.value, phone.e164, phone.national_number, text)


@given(person_names())
def test_name_errors_do_not_repeat_the_name(name: PersonName) -> None:
    with pytest.raises(ValidationError) as info:
        PersonName(given=f"{name.full}\x00", family=f"{name.full}\u202e")
    with pytest.raises(ValidationError) as stand_in:
        PersonName(given="Zz\x00", family="Zz\u202e")
    # The errors do not depend on the name at all (a substring check would flag a
    # name like "give" inside the path "given").
    assert info.value.problems == stand_in.value.problems


def _corrupt(payload: dict[str, Any], email: str, e164: str, name: str, key: str) -> None:
    if payload["emails"]:
        payload["emails"][0]["address"] = email + "@"
    if payload["phones"]:
        payload["phones"][0]["number"]["e164"] = e164 + "x"
    if isinstance(payload["name"], dict):
        payload["name"]["given"] = name + "\x00"
    payload[key] = True  # an unknown key may itself be pasted personal data


@given(customers(), email_addresses())
def test_payload_errors_do_not_repeat_personal_data(customer: Customer, key: EmailAddress) -> None:
    payload: dict[str, Any] = to_dict(customer)
    stand_in: dict[str, Any] = to_dict(customer)
    name = customer.name.full if isinstance(customer.name, PersonName) else ""
    email = str(customer.emails[0].address) if customer.emails else ""
    e164 = customer.phones[0].number.e164 if customer.phones else ""
    _corrupt(payload, email, e164, name, str(key))
    _corrupt(stand_in, "zz@zz.example", "+10000000", "Zz", "qq@qq.example")
    with pytest.raises(ValidationError) as info:
        from_dict(Customer, payload)
    with pytest.raises(ValidationError) as expected:
        from_dict(Customer, stand_in)
    # The same problems whatever the personal data was: none of it is repeated.
    assert info.value.problems == expected.value.problems


def test_json_errors_do_not_repeat_the_document() -> None:
    ada = Customer.create(name="Ada Lovelace", emails=["ada.lovelace@example.com"])
    text = to_json(ada).replace("ada.lovelace@example.com", "ada.lovelace@@example.com")
    with pytest.raises(ValidationError) as info:
        from_json(Customer, text)
    _assert_not_in_error(info.value, "ada.lovelace", "Lovelace")
    with pytest.raises(ValidationError) as info:
        from_json(Customer, text[:-5])
    _assert_not_in_error(info.value, "ada.lovelace", "Lovelace")


def test_create_errors_do_not_repeat_input() -> None:
    with pytest.raises(ValidationError) as info:
        Customer.create(
            name="Ada\x00Lovelace",
            emails=["ada.lovelace@example"],
            phones=["+46 8 123 456 78 99 99 99"],
            tags=["Lovelace fan club" * 10],
        )
    _assert_not_in_error(info.value, "Lovelace", "ada.lovelace", "46 8 123", "4681234")


@given(consents(max_size=1).filter(bool))
def test_consent_repr_masks_its_free_text(drawn: tuple[Consent, ...]) -> None:
    consent = drawn[0]
    source = None if consent.source is None else "a web form"
    stand_in = attrs.evolve(consent, purpose="placeholder", source=source)
    assert repr(consent) == repr(stand_in)
    filled = attrs.evolve(consent, purpose="placeholder", source="a web form")
    assert "placeholder" not in repr(filled)
    assert "a web form" not in repr(filled)
    assert "source=None" in repr(attrs.evolve(consent, source=None))
