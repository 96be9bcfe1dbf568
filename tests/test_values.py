"""Value objects: parsing, normalisation, idempotence and validation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crmcore import (
    CustomFields,
    EmailAddress,
    ExternalIds,
    Money,
    PersonName,
    PhoneKind,
    PhoneNumber,
    PostalAddress,
    ValidationError,
)
from crmcore.testing.strategies import (
    ALL_REGIONS,
    RawEmail,
    RawPhone,
    email_addresses,
    person_names,
    phone_numbers,
    raw_emails,
    raw_phones,
    texts,
)
from crmcore.values import _validate_whole, clean_text, normalize_tags

# --------------------------------------------------------------------------- the examples


def test_email_worked_example() -> None:
    email = EmailAddress.parse("  Ada.Lovelace@EXAMPLE.com ")
    assert email.match_key == "ada.lovelace@example.com"
    assert str(email) == "Ada.Lovelace@example.com"
    assert email.domain == "example.com"
    assert email.local_part == "Ada.Lovelace"


def test_phone_worked_example() -> None:
    phone = PhoneNumber.parse("08-123 456 78", region="SE")
    assert phone.e164 == "+46812345678"
    assert phone.raw == "08-123 456 78"
    assert phone.region == "SE"
    assert phone.country_code == 46
    assert phone.national_number == "812345678"
    assert phone.format_international() == "+46 8 123 456 78"
    assert phone.format_national() == "08-123 456 78"
    assert phone.format_rfc3966() == "tel:+46-8-123-456-78"


# --------------------------------------------------------------------------- email


@given(email_addresses())
def test_email_parse_is_idempotent(email: EmailAddress) -> None:
    again = EmailAddress.parse(str(email))
    assert again == email
    assert again.match_key == email.match_key
    assert hash(again) == hash(email)


@given(raw_emails())
def test_messy_email_input_normalises(raw: RawEmail) -> None:
    parsed = EmailAddress.parse(raw.text)
    assert parsed == raw.expected
    assert parsed.match_key == raw.expected.match_key


@given(email_addresses(), st.data())
def test_match_key_ignores_case_of_the_whole_address(
    email: EmailAddress, data: st.DataObject
) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(str(email)), max_size=len(str(email))))
    shouted = "".join(c.swapcase() if f else c for c, f in zip(str(email), flips, strict=True))
    # swapcase() is not always reversible (ß, ﬁ ...): only compare what parses.
    try:
        other = EmailAddress.parse(shouted)
    except ValidationError:
        return
    assert other.match_key == email.match_key.casefold() or other.match_key.casefold() == (
        email.match_key.casefold()
    )


def test_match_key_uses_the_ascii_form_of_the_domain() -> None:
    unicode_form = EmailAddress.parse("Jörg@Bücher.de")
    ascii_form = EmailAddress.parse("jörg@xn--bcher-kva.de")
    assert unicode_form.match_key == ascii_form.match_key == "jörg@xn--bcher-kva.de"
    assert unicode_form.domain == "xn--bcher-kva.de"
    assert str(ascii_form) == "jörg@bücher.de"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ada",
        "ada@",
        "@example.com",
        "ada@@example.com",
        "ada@example",  # no dot: not globally deliverable
        "ada@localhost",
        "ada@example.test",  # special-use domain
        '"ada lovelace"@example.com',  # quoted local parts are refused
        "Ada <ada@example.com>",  # display names are refused
        "ada@[192.0.2.1]",  # domain literals are refused
        "ada..lovelace@example.com",
        "ada@" + "a" * 64 + ".com",
        "x" * 5_000 + "@example.com",
    ],
)
def test_invalid_emails_are_refused(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        EmailAddress.parse(text)
    assert info.value.paths == ("email",)


def test_email_parse_refuses_non_text_and_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        EmailAddress.parse(None, field="contact.email")
    assert info.value.problems == (("contact.email", "must be text"),)


# --------------------------------------------------------------------------- phone


def _example_numbers() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    found = []
    for region in ALL_REGIONS:
        for kind in (
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.TOLL_FREE,
        ):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append((region, number))
    return found


def test_phone_parsing_round_trips_in_every_region() -> None:
    """Every region phonenumbers knows: national input, E.164 and str() agree."""
    regions_seen = set()
    for region, number in _example_numbers():
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        parsed = PhoneNumber.parse(national, region=region)
        assert PhoneNumber.parse(parsed.e164) == parsed, region
        assert PhoneNumber.parse(str(parsed)) == parsed, region
        assert parsed.e164 == phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164
        )
        assert parsed.is_valid, region
        regions_seen.add(region)
    assert regions_seen == set(phonenumbers.SUPPORTED_REGIONS)


@given(phone_numbers())
# phonenumbers formats Uruguay's extensions as " int. 1": found by this test.
@example(PhoneNumber.parse("+598 2123 0000 ext. 1"))
def test_phone_parse_is_idempotent(phone: PhoneNumber) -> None:
    from_e164 = PhoneNumber.parse(phone.e164)
    assert from_e164.e164 == phone.e164
    assert from_e164.extension is None
    again = PhoneNumber.parse(str(phone))
    assert again == phone
    assert again.extension == phone.extension
    assert PhoneNumber.parse(phone.format_international()).e164 == phone.e164


@given(raw_phones())
@example(
    RawPhone(
        "\uff0b\uff14\uff16\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
        "SE",
        PhoneNumber("+46812345678"),
    )
)
@example(RawPhone("+46 8 123 456 78 ext. ١٢", "SE", PhoneNumber("+46812345678", "12")))
@example(RawPhone(" 00 46 8-123 456 78\t", "DE", PhoneNumber("+46812345678")))
@example(RawPhone("011 46 8 123 456 78", "US", PhoneNumber("+46812345678")))
def test_messy_phone_input_normalises(raw: RawPhone) -> None:
    parsed = PhoneNumber.parse(raw.text, raw.region)
    assert parsed == raw.expected
    assert parsed.extension == raw.expected.extension
    assert parsed.raw == raw.text.strip()


def test_phone_extension_and_raw() -> None:
    phone = PhoneNumber.parse("+1 (650) 253-0000 ext. 123")
    assert (phone.e164, phone.extension) == ("+16502530000", "123")
    assert str(phone) == "+16502530000 ext. 123"
    assert phone.raw == "+1 (650) 253-0000 ext. 123"
    assert phone == PhoneNumber.parse("+16502530000 x123")
    assert phone != PhoneNumber.parse("+16502530000")


def test_phone_kind_and_validity() -> None:
    assert PhoneNumber.parse("070-123 45 67", region="SE").kind is PhoneKind.MOBILE
    assert PhoneNumber.parse("08-123 456 78", region="SE").kind is PhoneKind.FIXED_LINE
    toll_free = PhoneNumber.parse("+1 800 253 0000")
    assert toll_free.kind is PhoneKind.TOLL_FREE
    assert toll_free.region == "US"
    # Possible (right length) but unassigned: accepted, flagged as not valid.
    unassigned = PhoneNumber.parse("+1 555 012 3456")
    assert not unassigned.is_valid
    assert unassigned.kind is PhoneKind.UNKNOWN


def test_non_geographic_number_has_no_region() -> None:
    phone = PhoneNumber.parse("+800 1234 5678")
    assert phone.region is None
    assert phone.country_code == 800


@pytest.mark.parametrize(
    ("text", "region", "path"),
    [
        ("08-123 456 78", None, "phone"),  # needs a region
        ("08-123 456 78", "XX", "phone.region"),
        ("08-123 456 78", "Sweden", "phone.region"),
        ("+46 8", None, "phone"),  # too short to be possible
        ("+46 8 123 456 78 90 12 34", None, "phone"),
        ("call me", "SE", "phone"),
        ("tel:", None, "phone"),  # a tel: URI without a number
        ("+46 8 123 456 78;ext=1", None, "phone"),
        ("", "SE", "phone"),
        ("1" * 300, "SE", "phone"),
    ],
)
def test_invalid_phones_are_refused(text: str, region: str | None, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        PhoneNumber.parse(text, region)
    assert info.value.paths == (path,)


def test_region_hint_is_case_insensitive() -> None:
    assert PhoneNumber.parse("08-123 456 78", "se").e164 == "+46812345678"


@pytest.mark.parametrize(
    ("e164", "extension", "path"),
    [
        ("46812345678", None, "phone.e164"),
        ("+0812345678", None, "phone.e164"),
        ("+٤٦٨١٢٣٤٥٦٧٨", None, "phone.e164"),
        ("+46812345678", "١٢", "phone.extension"),
        ("+46812345678", "", "phone.extension"),
        (None, None, "phone.e164"),
    ],
)
def test_from_e164_checks_its_input(e164: object, extension: object, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        PhoneNumber.from_e164(e164, extension=extension)
    assert info.value.paths == (path,)


def test_raw_text_takes_no_part_in_equality() -> None:
    a = PhoneNumber.parse("08-123 456 78", "SE")
    b = PhoneNumber.parse("+46 8 123 456 78")
    assert a == b
    assert hash(a) == hash(b)
    assert a.raw != b.raw


# --------------------------------------------------------------------------- names


def test_person_name_forms() -> None:
    assert PersonName.parse("Ada Lovelace") == PersonName(given="Ada", family="Lovelace")
    assert PersonName.parse("Ada  King   Lovelace") == PersonName(
        given="Ada", middle="King", family="Lovelace"
    )
    assert PersonName.parse("Lovelace, Ada King") == PersonName(
        given="Ada", middle="King", family="Lovelace"
    )
    assert PersonName.parse("Sukarno") == PersonName(given="Sukarno")
    assert PersonName(family="毛", given="泽东", family_first=True).full == "毛 泽东"
    assert PersonName(given="Ferenc", family="Nagy", family_first=True).full == "Nagy Ferenc"
    assert (
        PersonName(given="Ada", family="Lovelace", prefix="Dr.", suffix="PhD").full
        == "Dr. Ada Lovelace PhD"
    )
    assert PersonName(family="Okonkwo").full == "Okonkwo"


@pytest.mark.parametrize("text", [",", " , ", ",,", ""])
def test_person_name_parse_refuses_blank_names(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        PersonName.parse(text)
    assert info.value.paths == ("name",)


def test_person_name_parts_are_cleaned() -> None:
    name = PersonName(given="  Ada \n ", family="Love   lace")
    assert (name.given, name.family) == ("Ada", "Love lace")
    assert PersonName(given="Ada", middle="  ").middle is None


@pytest.mark.parametrize(
    ("kwargs", "paths"),
    [
        ({}, ("given",)),
        ({"given": " ", "family": ""}, ("given",)),
        ({"given": "A\u200fda"}, ("given",)),  # a right-to-left mark is a format character
        ({"given": "Ada", "family": "x" * 201}, ("family",)),
        ({"given": 5, "family": b"x"}, ("given", "family")),
    ],
)
def test_invalid_person_names(kwargs: dict[str, object], paths: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        PersonName(**kwargs)  # type: ignore[arg-type]
    assert info.value.paths == paths


@given(person_names())
def test_person_names_are_hashable_values(name: PersonName) -> None:
    assert name == PersonName(
        given=name.given,
        family=name.family,
        middle=name.middle,
        prefix=name.prefix,
        suffix=name.suffix,
        family_first=name.family_first,
    )
    assert name.full
    assert {name: 1}[name] == 1


# --------------------------------------------------------------------------- addresses, money


def test_postal_address() -> None:
    address = PostalAddress(lines=("Drottninggatan 1", " "), locality="Stockholm", country="se")
    assert address.lines == ("Drottninggatan 1",)
    assert address.country == "SE"
    with pytest.raises(ValidationError) as info:
        PostalAddress(country="SE")
    assert info.value.paths == ("lines",)
    with pytest.raises(ValidationError) as info:
        PostalAddress(lines=("x",), country="Sweden", postal_code="1" * 21)
    assert set(info.value.paths) == {"country", "postal_code"}


def test_money() -> None:
    assert Money.of("12.50", "eur") == Money(Decimal("12.50"), "EUR")
    assert Money.of(3, "SEK").amount == Decimal(3)
    assert str(Money.of("12.50", "EUR")) == "12.50 EUR"
    with pytest.raises(ValidationError) as info:
        Money.of(1.5, "EUR", field="estimated_value")
    assert info.value.paths == ("estimated_value.amount",)
    with pytest.raises(ValidationError) as info:
        Money.of("lots", "EUR", field="value")
    assert info.value.paths == ("value.amount",)
    with pytest.raises(ValidationError) as info:
        Money.of("1", "euro", field="value")
    assert info.value.paths == ("value.currency",)
    with pytest.raises(ValidationError):
        Money(Decimal("NaN"), "EUR")


# --------------------------------------------------------------------------- text, tags, maps


@pytest.mark.parametrize(
    "text",
    ["", "  ", "a\x00b", "a\u200fb", "a\u202eb", "a\u200bb", "x" * 1_001, "x" * 10_000],
)
def test_clean_text_refuses(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        clean_text(text, "note")
    assert info.value.paths == ("note",)


def test_clean_text_folds_whitespace() -> None:
    assert clean_text(" a\u2028b\t\u3000c\n", "note") == "a b c"


@given(texts())
def test_clean_text_keeps_clean_text(text: str) -> None:
    assert clean_text(text, "x") == text
    assert clean_text(f"  {text}\n", "x") == text


@given(st.lists(texts(max_words=3, max_word_length=30), max_size=4))
@example(["ß" * 64])  # case-folds to 128 characters
@example(["ﬃ" * 30])
def test_normalize_tags_is_idempotent(raw: list[str]) -> None:
    try:
        tags = normalize_tags(raw)
    except ValidationError:
        return
    assert normalize_tags(tags) == tags


def test_normalize_tags() -> None:
    assert normalize_tags([" VIP ", "vip", "Big  Spender"]) == {"vip", "big spender"}
    assert normalize_tags(" VIP ") == {"vip"}  # one tag, not its characters
    with pytest.raises(ValidationError) as info:
        normalize_tags(5)  # type: ignore[arg-type]
    assert info.value.paths == ("tags",)
    with pytest.raises(ValidationError) as info:
        normalize_tags(["ok", "", None])
    assert info.value.paths == ("tags[1]", "tags[2]")


def test_custom_fields() -> None:
    fields = CustomFields({"plan": "pro", "seats": 5, "nested": {"a": [1, 2.5, None]}})
    assert fields["nested"] == {"a": (1, 2.5, None)}
    assert fields.to_dict() == {"nested": {"a": [1, 2.5, None]}, "plan": "pro", "seats": 5}
    assert hash(fields) == hash(CustomFields(fields.to_dict()))
    assert fields == {"plan": "pro", "seats": 5, "nested": {"a": (1, 2.5, None)}}
    assert repr(fields) == "CustomFields(<3 masked>)"
    with pytest.raises(TypeError):
        fields["plan"] = "free"  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "paths"),
    [
        ({"bad key": 1}, ("custom_fields",)),
        # Entries are named by position, from 1: a key may be personal data.
        ({"x": float("nan")}, ("custom_fields.#1",)),
        ({"a": 1, "x": {"y": [1, object()]}}, ("custom_fields.#2.#1[1]",)),
        ({"x": b"bytes"}, ("custom_fields.#1",)),
        ({"x": "y" * 70_000}, ("custom_fields",)),
        ("not a mapping", ("custom_fields",)),
    ],
)
def test_custom_fields_refuse(data: object, paths: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        CustomFields.parse(data, field="custom_fields")
    assert info.value.paths == paths


def test_custom_fields_refuse_deep_nesting() -> None:
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ValidationError):
        CustomFields.parse({"deep": deep})


def test_external_ids() -> None:
    ids = ExternalIds({"vat": "  SE556677889901 ", "erp:id": "42"})
    assert dict(ids) == {"erp:id": "42", "vat": "SE556677889901"}
    with pytest.raises(ValidationError) as info:
        ExternalIds.parse({"vat": 42, "ok": "1", "": "x"}, field="identifiers")
    assert set(info.value.paths) == {"identifiers.#1", "identifiers"}


_LOCAL_PARTS = st.text(alphabet="abcXYZ09.!#$%&'*+/=?^_`{|}~-\"(),;:@<>[]\\ é", max_size=70)
_DOMAINS = st.sampled_from(
    [
        "gmail.com",
        "EXAMPLE.com",
        "ex-ample.co.uk",
        "localhost",
        "-bad.com",
        "a..b",
        "xn--bcher-kva.de",
        "bücher.de",
        "ex_ample.com",
        "example.com.",
        "[1.2.3.4]",
        "x" * 64 + ".com",
        "example.invalid",
        " gmail.com",
    ]
)


@given(_LOCAL_PARTS, _DOMAINS)
def test_the_cached_domain_path_agrees_with_email_validator(local: str, domain: str) -> None:
    """EmailAddress.parse validates each domain once; the result must not change."""
    text = f"{local}@{domain}"
    try:
        email = EmailAddress.parse(text)
    except ValidationError:
        found = None
    else:
        found = (email.normalized, email.match_key)
    assert found == _validate_whole(text.strip())


@given(email_addresses())
def test_every_generated_address_parses_the_same_either_way(email: EmailAddress) -> None:
    assert _validate_whole(email.normalized) == (email.normalized, email.match_key)


# --------------------------------------------------------------------------- direct constructors


@given(email_addresses())
def test_the_email_constructor_accepts_what_parse_makes(email: EmailAddress) -> None:
    rebuilt = EmailAddress(email.normalized, email.match_key)
    assert rebuilt == email
    assert rebuilt.match_key == email.match_key
    assert EmailAddress.trusted(email.normalized, email.match_key) == email


@given(phone_numbers())
def test_the_phone_constructor_accepts_what_parse_makes(phone: PhoneNumber) -> None:
    rebuilt = PhoneNumber(phone.e164, phone.extension, phone.raw)
    assert rebuilt == phone
    assert rebuilt.raw == phone.raw
    assert PhoneNumber.trusted(phone.e164, phone.extension, phone.raw) == phone


@pytest.mark.parametrize(
    ("normalized", "match_key"),
    [
        ("not an email", "not an email"),
        ("Ada@Example.com", "ada@example.com"),  # parse lower-cases the domain
        ("ada@example.com", "someone.else@example.com"),
        ("ada@example.test", "ada@example.test"),
        (42, "x"),
    ],
)
def test_the_email_constructor_refuses_parts_parse_would_not_make(
    normalized: object, match_key: object
) -> None:
    with pytest.raises(ValidationError) as info:
        EmailAddress(normalized, match_key)  # type: ignore[arg-type]
    assert info.value.paths == ("email",)
    assert "EmailAddress.parse" in str(info.value)
    assert "example" not in str(info.value)


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        (("0701234567",), "phone.e164"),
        (("+46 70 123 45 67",), "phone.e164"),
        (("+46701234567", "ext 1"), "phone.extension"),
        (("+46701234567", None, "x" * 65), "phone.raw"),
    ],
)
def test_the_phone_constructor_refuses_what_a_store_could_not_read(
    parts: tuple[str, ...], path: str
) -> None:
    with pytest.raises(ValidationError) as info:
        PhoneNumber(*parts)
    assert info.value.paths == (path,)
    assert "0701234567" not in str(info.value)


def test_an_unvalidated_value_cannot_poison_a_store(tmp_path: Path) -> None:
    from crmcore import ContactEmail, ContactPhone, Customer
    from crmcore.dedup import find_duplicates
    from crmcore.storage import SQLiteStore

    with SQLiteStore(tmp_path / "crm.db") as store:
        store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@example.com"]))
        with pytest.raises(ValidationError):
            Customer.create(name="Poison", emails=[ContactEmail(EmailAddress("nope", "nope"))])
        with pytest.raises(ValidationError):
            Customer.create(name="Poison", phones=[ContactPhone(PhoneNumber("12345"))])
        assert len(store.customers.list().items) == 1
        assert len(list(store.customers.iter_all())) == 1
        assert find_duplicates(store).clusters == ()


@pytest.mark.parametrize(
    ("text", "region", "e164", "extension"),
    [
        ("tel:+46-8-123-456-78", None, "+46812345678", None),
        ("TEL:+46-8-123-456-78;ext=12", None, "+46812345678", "12"),
        ("tel:08-123-456-78;phone-context=+46", "SE", "+46812345678", None),
    ],
)
def test_a_tel_uri_is_the_number_it_holds(
    text: str, region: str | None, e164: str, extension: str | None
) -> None:
    phone = PhoneNumber.parse(text, region)
    assert (phone.e164, phone.extension) == (e164, extension)
