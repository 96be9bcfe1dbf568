"""Match keys: folding, names, nicknames, emails, phones, organisations."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from crmcore import EmailAddress, PersonName, PhoneNumber, ValidationError
from crmcore.dedup import (
    NicknameTable,
    email_match_key,
    organization_domain,
    organization_key,
    person_name_key,
    phone_match_keys,
)
from crmcore.dedup.normalize import fold, is_role_mailbox, name_tokens, phonetic_key
from crmcore.testing.strategies import email_addresses, person_names, phone_numbers

words = st.text(
    alphabet=st.characters(categories=["L", "Nd", "Zs", "Pd", "Po"]), min_size=1, max_size=30
)


@example("\u01fc")  # Ǽ decomposes to Æ and an accent, and Æ folds to "ae"
@given(words)
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(words)
def test_name_tokens_are_idempotent(text: str) -> None:
    once = " ".join(name_tokens(text))
    assert " ".join(name_tokens(once)) == once


@given(words)
def test_organization_key_is_idempotent(text: str) -> None:
    assert organization_key(organization_key(text)) == organization_key(text)


@given(email_addresses(), st.booleans())
def test_email_match_key_is_idempotent(email: EmailAddress, provider_rules: bool) -> None:
    key = email_match_key(email, provider_rules=provider_rules)
    assert email_match_key(key, provider_rules=provider_rules) == key


@given(phone_numbers())
def test_phone_keys_are_idempotent_and_national_is_a_suffix(phone: PhoneNumber) -> None:
    e164, national = phone_match_keys(phone)
    assert phone_match_keys(e164) == (e164, national)
    assert e164.endswith(national)
    assert e164 == phone.e164


@given(person_names(), st.data())
def test_person_name_key_ignores_case_whitespace_diacritics_and_order(
    name: PersonName, data: st.DataObject
) -> None:
    parts = [p for p in (name.given, name.middle, name.family) if p]
    shuffled = data.draw(st.permutations(parts))
    variant = "  ".join(p.upper() for p in shuffled)
    assert person_name_key(variant) == person_name_key(name)
    assert person_name_key(person_name_key(name)) == person_name_key(name)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Åsa Lindqvist", "Asa Lindqvist"),
        ("Jürgen Müller", "Juergen Mueller"),
        ("Jürgen Müller", "Jurgen Muller"),
        ("Müller, Jürgen", "jurgen   MULLER"),
        ("Bob Smith", "Robert Smith"),
        ("Liz Taylor", "Elizabeth Taylor"),
        ("Bill Gates", "Gates William"),
        ("Seán O'Brien", "Sean OBrien"),
    ],
)
def test_person_name_keys_meet(a: str, b: str) -> None:
    assert person_name_key(a) == person_name_key(b)


def test_person_name_keys_of_different_people_differ() -> None:
    assert person_name_key("Anna Berg") != person_name_key("Hanna Berg")


def test_nickname_table_is_package_data_and_extensible() -> None:
    table = NicknameTable.default()
    assert table.equivalent("Bob", "Robert")
    assert table.equivalent("bill", "WILLIAM")
    assert table.equivalent("Liz", "Elizabeth")
    assert not table.equivalent("Robert", "William")
    # Equivalence goes through a shared name, never further: Jan is both
    # Janet's and Johannes' nickname, but Janet is not Johannes.
    assert table.equivalent("Jan", "Janet")
    assert table.equivalent("Jan", "Johannes")
    assert not table.equivalent("Janet", "Johannes")
    # Two variants of one name are not one name: Chris and Tina are both Christine.
    assert table.equivalent("Chris", "Christine")
    assert table.equivalent("Tina", "Christine")
    assert not table.equivalent("Chris", "Tina")
    extended = table.extended([("Theodor", "Totte")])
    assert extended.equivalent("totte", "Theodor")
    assert not table.equivalent("totte", "Theodor")
    custom = NicknameTable.from_csv("# comment\nname,variant\nTheodor,Teo\n")
    assert custom.equivalent("Teo", "Theodor")
    assert "names" in repr(custom)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"Bob,Robert\n", "must be CSV text"),
        (None, "must be CSV text"),
        ("# names\nname,variant\nBob,Robert\n\nBill\n", "line 5 needs a name and a variant"),
        ("Robert\nBob\n", "line 1 needs a name and a variant"),
        ('"Bob,Robert\n', "line 1 needs a name and a variant"),
        ("x" * 200_000 + ",y\n", "is not valid CSV"),
    ],
)
def test_a_bad_nickname_file_is_a_validation_error(text: object, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NicknameTable.from_csv(text)  # type: ignore[arg-type]
    assert caught.value.paths == ("text",)
    assert message in str(caught.value)
    assert "Bob" not in str(caught.value)
    assert "Bill" not in str(caught.value)


@pytest.mark.parametrize(
    ("pairs", "field"),
    [
        (5, "pairs"),
        ("Bob", "pairs"),
        ([("Bob",)], "pairs[0]"),
        ([("Bob", "Robert"), (1, 2)], "pairs[1]"),
    ],
)
def test_bad_nickname_pairs_are_a_validation_error(pairs: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        NicknameTable.from_pairs(pairs)  # type: ignore[arg-type]
    assert caught.value.paths == (field,)


def test_email_match_key_keeps_tags_and_dots_unless_asked() -> None:
    email = EmailAddress.parse("First.Last+news@GoogleMail.com")
    assert email_match_key(email) == "first.last+news@googlemail.com"
    assert email_match_key(email, provider_rules=True) == "firstlast@gmail.com"
    plus = EmailAddress.parse("ann+crm@example.org")
    assert email_match_key(plus, provider_rules=True) == "ann@example.org"
    # Dots matter outside Gmail.
    dotted = EmailAddress.parse("a.nn@example.org")
    assert email_match_key(dotted, provider_rules=True) == "a.nn@example.org"


@pytest.mark.parametrize(
    ("address", "role"),
    [
        ("info@acme.com", True),
        ("Sales@acme.com", True),
        ("familie.schmidt@gmail.com", True),
        ("info-berlin@acme.com", True),
        ("anna.berg@acme.com", False),
        ("informatics@uni.edu", False),
    ],
)
def test_role_mailboxes(address: str, role: bool) -> None:
    assert is_role_mailbox(EmailAddress.parse(address)) is role


def test_phone_national_key_meets_across_country_codes() -> None:
    sweden = PhoneNumber.parse("08-123 456 78", region="SE")
    assert phone_match_keys(sweden) == ("+46812345678", "812345678")
    wrong_country = PhoneNumber.parse("+49 812345678")
    assert phone_match_keys(wrong_country)[1] == phone_match_keys(sweden)[1]
    # Italian numbers keep their leading zero in the national number.
    assert phone_match_keys("+390612345678") == ("+390612345678", "0612345678")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Inc.", "ACME, Incorporated"),
        ("Acme LLC", "acme"),
        ("Müller & Söhne GmbH & Co. KG", "Mueller und Sohne"),
        ("Volvo Aktiebolag", "Volvo AB (publ)"),
        ("Lindqvist & Berg HB", "Lindqvist och Berg Handelsbolag"),
        ("PT Maju Jaya Tbk.", "Maju Jaya"),
        ("Bakkerij de Vries B.V.", "Bakkerij de Vries"),
        ("Boulangerie Martin SARL", "boulangerie martin s.a.r.l."),
        ("Tesco PLC", "Tesco Ltd"),
    ],
)
def test_organization_keys_meet(a: str, b: str) -> None:
    assert organization_key(a) == organization_key(b)


def test_organization_key_keeps_a_name_that_is_only_a_legal_form() -> None:
    assert organization_key("AB") == "ab"
    assert organization_key("Acme AB") != organization_key("Acme Bank")


def test_free_mail_domains_name_no_organisation() -> None:
    assert organization_domain(EmailAddress.parse("ann@gmail.com")) is None
    assert organization_domain(EmailAddress.parse("ann@web.de")) is None
    assert organization_domain(EmailAddress.parse("ann@Acme.example")) == "acme.example"


def test_phonetic_key_meets_for_names_that_sound_alike() -> None:
    assert phonetic_key("Meyer") == phonetic_key("Maier")
    assert phonetic_key("Smith") == phonetic_key("Smyth")
    assert phonetic_key("Smith") != phonetic_key("Jones")
    assert phonetic_key("") == ""


ascii_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
marks = st.sampled_from(["\u0301", "\u0308", "\u030a", "\u0303", "\u0327", "\u030c"])


@given(st.lists(st.tuples(ascii_words, st.lists(marks, max_size=3)), min_size=1, max_size=3))
def test_person_name_key_ignores_diacritics(parts: list[tuple[str, list[str]]]) -> None:
    plain = " ".join(word for word, _ in parts)
    # Put marks on vowels only: a mark after a consonant and before "e" could
    # turn "ue" into an umlaut spelling, which the key folds on purpose.
    accented = " ".join(
        unicodedata.normalize("NFC", word[0] + "".join(m for m in accents) + word[1:])
        if word[0] in "aiy"
        else word
        for word, accents in parts
    )
    assert person_name_key(accented) == person_name_key(plain)
    assert organization_key(accented) == organization_key(plain)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: email_match_key(5), "email"),  # type: ignore[arg-type]
        (lambda: organization_domain(None), "email"),  # type: ignore[arg-type]
        (lambda: phone_match_keys(5), "phone"),  # type: ignore[arg-type]
        (lambda: person_name_key(5), "name"),  # type: ignore[arg-type]
        (lambda: person_name_key("Bob Smith", nicknames={"bob": "robert"}), "nicknames"),  # type: ignore[arg-type]
        (lambda: organization_key(5), "name"),  # type: ignore[arg-type]
        (lambda: organization_key(["Acme Inc"]), "name"),  # type: ignore[arg-type]
    ],
)
def test_key_functions_name_an_argument_of_the_wrong_kind(call: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.paths == (field,)
