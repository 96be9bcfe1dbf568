"""Hypothesis strategies for every crmcore model, valid by construction.

Every strategy is a plural, keyword-only function returning a
``SearchStrategy``. They build their values the way an app would (through
``parse()`` and the entity constructors), but from inputs chosen so that no
example is ever thrown away: hypothesis' own ``st.emails()`` draws addresses
that email-validator rejects, so addresses, numbers and names are assembled
here from parts known to be valid.

:func:`raw_emails` and :func:`raw_phones` draw messy user input together with
the value it must normalise to, for tests of the parsing itself.
:func:`register_strategies` makes ``st.from_type(Customer)`` and friends work.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

import phonenumbers
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from crmcore.consent import Consent, ConsentStatus, LegalBasis
from crmcore.contacts import ContactEmail, ContactPhone
from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.ids import CustomerId, InteractionId, LeadId, RecordId
from crmcore.interactions import Channel, Direction, Interaction, Participant, ParticipantRole
from crmcore.leads import Lead, LeadSource, LeadStatus
from crmcore.values import (
    ContactLabel,
    CustomFields,
    EmailAddress,
    ExternalIds,
    JSONValue,
    Money,
    PersonName,
    PhoneNumber,
    PostalAddress,
    normalize_tags,
)

__all__ = [
    "ALL_REGIONS",
    "RawEmail",
    "RawPhone",
    "consents",
    "custom_fields",
    "customer_ids",
    "customers",
    "email_addresses",
    "external_ids",
    "interaction_ids",
    "interactions",
    "lead_ids",
    "leads",
    "money",
    "person_names",
    "phone_numbers",
    "postal_addresses",
    "raw_emails",
    "raw_phones",
    "register_strategies",
    "tags",
    "texts",
    "utc_datetimes",
]

# --------------------------------------------------------------------------- text and ids

# Everything but control, format, private-use, unassigned and separator
# characters: what clean_text() keeps unchanged inside one word.
_WORD_CHARS = st.characters(exclude_categories=("C", "Z"))


def texts(*, max_words: int = 4, max_word_length: int = 12) -> st.SearchStrategy[str]:
    """Draw clean one-line text in any script: words joined by single spaces.

    The result is what :func:`crmcore.values.clean_text` leaves unchanged, so
    it is accepted by every text field of the models.

    Args:
        max_words: the most words to draw.
        max_word_length: the most characters in one word.
    """
    return _texts(max_words, max_word_length)


@cache
def _texts(max_words: int, max_word_length: int) -> st.SearchStrategy[str]:
    # Strategies are cached: building them anew inside every draw costs more
    # than the draw itself.
    word = st.text(_WORD_CHARS, min_size=1, max_size=max_word_length)
    return st.lists(word, min_size=1, max_size=max_words).map(" ".join)


_ULID_CHARS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The first character of a ULID is at most 7: 26 base-32 digits hold 130 bits, a ULID 128.
_ULID = st.builds(
    str.__add__,
    st.sampled_from("01234567"),
    st.text(st.sampled_from(_ULID_CHARS), min_size=25, max_size=25),
)


@cache
def customer_ids() -> st.SearchStrategy[CustomerId]:
    """Draw well-formed customer ids (``cus_`` + a ULID)."""
    return _ULID.map(lambda u: CustomerId("cus_" + u))


@cache
def lead_ids() -> st.SearchStrategy[LeadId]:
    """Draw well-formed lead ids (``led_`` + a ULID)."""
    return _ULID.map(lambda u: LeadId("led_" + u))


@cache
def interaction_ids() -> st.SearchStrategy[InteractionId]:
    """Draw well-formed interaction ids (``ixn_`` + a ULID)."""
    return _ULID.map(lambda u: InteractionId("ixn_" + u))


def utc_datetimes(
    *, min_value: datetime | None = None, max_value: datetime | None = None
) -> st.SearchStrategy[datetime]:
    """Draw timezone-aware datetimes in UTC, microseconds included.

    Args:
        min_value: the earliest, naive (read as UTC); default 1970-01-01.
        max_value: the latest, naive (read as UTC); default 2100-01-01.
    """
    return st.datetimes(
        min_value=min_value or datetime(1970, 1, 1),
        max_value=max_value or datetime(2100, 1, 1),
        timezones=st.just(UTC),
    )


# Models turn any aware datetime into UTC; drawing other offsets checks they do.
_OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7))])
_AWARE = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 31), timezones=_OFFSETS
)

# --------------------------------------------------------------------------- email

_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
# Letters email-validator accepts in an internationalised local part (NFC, no
# marks that could start a part): Latin with diacritics, Greek, Cyrillic, CJK, Hangul.
_INTL_LOCAL = "äöüßéèñçøåæœÄÖÜÉÑΩαβγδεζηθλμπσωДЖИКЛМНабвгджзиклмнопрстуфя山田太郎花子한국어"
_SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
# Internationalised labels that IDNA 2008 accepts (checked by the kit's tests).
_IDN_LABELS = (
    "bücher",
    "münchen",
    "köln",
    "españa",
    "пример",
    "испытание",
    "δοκιμή",
    "例え",
    "テスト",
    "中国",
    "한국",
    "भारत",
    "مثال",
    "קום",
)
_RTL_LABELS = frozenset({"مثال", "קום"})
_IDN_TLDS = ("рф", "中国", "한국", "ελ")
_ASCII_TLDS = ("com", "org", "net", "de", "se", "io", "co", "uk", "jp", "info", "museum")


@cache
def _ascii_label(max_chunks: int = 3) -> st.SearchStrategy[str]:
    # Alphanumeric chunks joined by single hyphens: never a leading, trailing or
    # doubled hyphen, so never an "xn--"-like label that IDNA would inspect.
    chunk = st.text(st.sampled_from(string.ascii_lowercase + string.digits), min_size=1, max_size=8)
    return st.lists(chunk, min_size=1, max_size=max_chunks).map("-".join)


_TLD = st.one_of(
    st.sampled_from(_ASCII_TLDS),
    st.text(st.sampled_from(string.ascii_lowercase), min_size=2, max_size=6).filter(
        lambda t: t not in _SPECIAL_USE
    ),
)


@st.composite
def _email_text(draw: st.DrawFn, international: bool) -> str:
    alphabet = _ATEXT + _INTL_LOCAL if international else _ATEXT
    # At most 3 atoms of 6 characters of at most 3 UTF-8 octets: under the 64-octet cap.
    atom = st.text(st.sampled_from(alphabet), min_size=1, max_size=6)
    local = ".".join(draw(st.lists(atom, min_size=1, max_size=3)))
    labels = [draw(_ascii_label()) for _ in range(draw(st.integers(1, 2)))]
    if international and draw(st.booleans()):
        labels[-1] = draw(st.sampled_from(_IDN_LABELS))
        if labels[-1] in _RTL_LABELS:
            # IDNA's bidi rule: beside a right-to-left label, no label may start with a digit.
            labels = [label if label[0].isalpha() else f"x{label}" for label in labels]
    tld = draw(st.sampled_from(_IDN_TLDS)) if international and draw(st.booleans()) else draw(_TLD)
    return f"{local}@{'.'.join(labels)}.{tld}"


def email_addresses(*, international: bool = True) -> st.SearchStrategy[EmailAddress]:
    """Draw valid email addresses, parsed by :meth:`EmailAddress.parse`.

    Local parts mix letters, digits, dots and the RFC 5322 specials; domains
    have one to three labels and a top-level domain that is not special-use.

    Args:
        international: also draw non-ASCII local parts (SMTPUTF8) and
            internationalised domain names.
    """
    return _email_addresses(international)


@cache
def _email_addresses(international: bool) -> st.SearchStrategy[EmailAddress]:
    return _email_text(international).map(EmailAddress.parse)


class RawEmail(NamedTuple):
    """An email address as a user might type it, and what it must parse to."""

    text: str
    """The messy input: surrounding whitespace, domain in any case, IDNA or Unicode."""
    expected: EmailAddress
    """``EmailAddress.parse(text)`` must equal this (same normalized form and match key)."""


_PADDING = st.text(st.sampled_from(" \t\n\r\u00a0\u3000"), max_size=3)


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def _raw_email(draw: st.DrawFn, international: bool) -> RawEmail:
    expected = draw(email_addresses(international=international))
    local = expected.local_part
    domain = expected.normalized.rpartition("@")[2]
    if draw(st.booleans()) and domain != expected.domain:
        domain = expected.domain  # the IDNA ("xn--") form of the same domain
    # Only the domain is case-insensitive everywhere; the local part's case
    # is kept in ``normalized`` (``match_key`` folds it).
    domain = _random_case(draw, domain)
    text = f"{draw(_PADDING)}{local}@{domain}{draw(_PADDING)}"
    return RawEmail(text, expected)


def raw_emails(*, international: bool = True) -> st.SearchStrategy[RawEmail]:
    """Draw messy but valid typed email addresses with the value they must parse to.

    The input has surrounding whitespace (spaces, tabs, newlines, no-break
    spaces), its domain in random case and sometimes in IDNA (``xn--``) form.

    Args:
        international: also draw non-ASCII local parts and domains.
    """
    return _raw_email(international)


# --------------------------------------------------------------------------- phone

_TYPES = (
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.PAGER,
    phonenumbers.PhoneNumberType.UAN,
    phonenumbers.PhoneNumberType.VOICEMAIL,
)
ALL_REGIONS: tuple[str, ...] = tuple(sorted(phonenumbers.SUPPORTED_REGIONS))
"""Every ISO 3166 alpha-2 region phonenumbers has numbering metadata for."""


@cache
def _examples(region: str) -> tuple[tuple[int, str], ...]:
    """(country code, national significant number) of the region's example numbers."""
    found: dict[str, int] = {}
    for kind in _TYPES:
        number = phonenumbers.example_number_for_type(region, kind)
        if number is not None and phonenumbers.is_possible_number(number):
            nsn = phonenumbers.national_significant_number(number)
            found.setdefault(nsn, number.country_code or 0)
    return tuple((cc, nsn) for nsn, cc in found.items())


@cache
def _dialling_prefix(region: str, country_code: int) -> str | None:
    """What to dial in ``region`` before ``country_code`` (``00``, ``011``...), if known.

    Only a prefix that phonenumbers reads back as exactly the prefix qualifies:
    Hong Kong's pattern ``00(?:30|5[09]|[126-9]?)`` reads "00 852" as the
    carrier prefix "008" followed by "52".
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or not metadata.international_prefix:
        return None
    pattern = re.compile(metadata.international_prefix)
    for candidate in ("00", metadata.preferred_international_prefix, metadata.international_prefix):
        if candidate and candidate.isdigit():
            found = pattern.match(f"{candidate}{country_code}")
            if found is not None and found.end() == len(candidate):
                return str(candidate)
    return None


def _check_regions(regions: Iterable[str] | None) -> tuple[str, ...]:
    if regions is None:
        return ALL_REGIONS
    if isinstance(regions, str):
        raise InvalidArgument("regions must be a collection of region codes, not one string")
    chosen = tuple(sorted({r.upper() for r in regions}))
    unknown = [r for r in chosen if r not in phonenumbers.SUPPORTED_REGIONS]
    if not chosen or unknown:
        raise InvalidArgument(f"regions must be codes phonenumbers supports, got {unknown}")
    return chosen


@st.composite
def _phone_in(draw: st.DrawFn, region: str, extensions: bool) -> phonenumbers.PhoneNumber:
    country_code, nsn = draw(st.sampled_from(_examples(region)))
    # Vary the last digits only: the leading ones carry the area or operator
    # prefix (and Italy's leading zero), and possibility depends on length alone.
    tail = min(4, len(nsn) - 2)
    if tail > 0:
        digits = draw(st.text(st.sampled_from(string.digits), min_size=tail, max_size=tail))
        varied = nsn[:-tail] + digits
        candidate = phonenumbers.parse(f"+{country_code}{varied}", None)
        if phonenumbers.is_possible_number(candidate):
            nsn = varied
    number = phonenumbers.parse(f"+{country_code}{nsn}", None)
    if extensions and draw(st.integers(0, 3)) == 0:
        number.extension = draw(st.from_regex(r"[1-9][0-9]{0,5}", fullmatch=True))
    return number


def _to_value(number: phonenumbers.PhoneNumber) -> PhoneNumber:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneNumber.parse(f"{e164} ext. {number.extension}" if number.extension else e164)


def phone_numbers(
    *, regions: Iterable[str] | None = None, extensions: bool = True
) -> st.SearchStrategy[PhoneNumber]:
    """Draw possible phone numbers of the given regions.

    Numbers are phonenumbers' example numbers for each region and line type
    with their last digits varied, so they are always *possible* (the right
    length) and usually, not always, *valid* (assigned in the metadata).

    Args:
        regions: ISO 3166 alpha-2 codes; default every region phonenumbers
            supports.
        extensions: whether about one number in four gets an extension.
    """
    chosen = _check_regions(regions)
    return st.sampled_from(chosen).flatmap(lambda r: _phone_in(r, extensions)).map(_to_value)


class RawPhone(NamedTuple):
    """A phone number as a user might type it, and what it must parse to."""

    text: str
    """The messy input (national or international format, odd separators, padding)."""
    region: str
    """The region the input was typed in: pass it to :meth:`PhoneNumber.parse`."""
    expected: PhoneNumber
    """``PhoneNumber.parse(text, region)`` must equal this (E.164 and extension)."""


_FULLWIDTH = str.maketrans(
    string.digits + "+", "".join(chr(0xFF10 + d) for d in range(10)) + "\uff0b"
)
_ARABIC_INDIC = str.maketrans(string.digits, "٠١٢٣٤٥٦٧٨٩")


@st.composite
def _raw_phone(draw: st.DrawFn, regions: tuple[str, ...], extensions: bool) -> RawPhone:
    region = draw(st.sampled_from(regions))
    # Mostly a number of the region the user is in; sometimes a foreign one,
    # which can only be typed with its country code.
    home = draw(st.integers(0, 3)) > 0
    number = draw(_phone_in(region if home else draw(st.sampled_from(ALL_REGIONS)), extensions))
    national = phonenumbers.region_code_for_country_code(number.country_code or 0)
    forms = ["e164", "international"]
    if home and national != "001":
        forms.append("national")
    idd = _dialling_prefix(region, number.country_code or 0)
    if idd is not None:
        forms.append("idd")
    form = draw(st.sampled_from(forms))
    plain = phonenumbers.PhoneNumber(
        country_code=number.country_code,
        national_number=number.national_number,
        italian_leading_zero=number.italian_leading_zero,
        number_of_leading_zeros=number.number_of_leading_zeros,
    )
    if form == "e164":
        text = phonenumbers.format_number(plain, phonenumbers.PhoneNumberFormat.E164)
    elif form == "national":
        text = phonenumbers.format_number(plain, phonenumbers.PhoneNumberFormat.NATIONAL)
    else:
        text = phonenumbers.format_number(plain, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if form == "idd":
            text = f"{idd} {text.removeprefix('+')}"
    separator = draw(st.sampled_from([" ", "-", ".", "", "\u00a0"]))
    if separator != " " and form != "e164":
        text = text.replace(" ", separator)
    if number.extension:
        marker = draw(st.sampled_from([" ext. ", " ext ", " x", " #", " extension "]))
        text += marker + number.extension
    script = draw(st.sampled_from(["ascii", "ascii", "ascii", "fullwidth", "arabic-indic"]))
    if script == "fullwidth":
        text = text.translate(_FULLWIDTH)
    elif script == "arabic-indic":
        text = text.translate(_ARABIC_INDIC)
    return RawPhone(f"{draw(_PADDING)}{text}{draw(_PADDING)}", region, _to_value(number))


def raw_phones(
    *, region: str | None = None, extensions: bool = True
) -> st.SearchStrategy[RawPhone]:
    """Draw messy but valid typed phone numbers with the value they must parse to.

    Inputs are in E.164, international (``+46 8 123 456 78``), national
    (``08-123 456 78``) or dialling-prefix (``00 46 8 ...``, ``011 ...``)
    form, with spaces, dashes, dots, no-break spaces or nothing between the
    groups, sometimes in full-width or Arabic-Indic digits, sometimes with an
    extension, with whitespace around.

    Args:
        region: the region the user types in; default any region.
        extensions: whether some inputs carry an extension.
    """
    regions = _check_regions(None if region is None else [region])
    return _raw_phone(regions, extensions)


# --------------------------------------------------------------------------- names

# Real given and family names by culture, so examples read like data; random
# words in the same scripts are mixed in for everything else.
_GIVEN = (
    "Ada", "José", "María José", "Zoë", "Søren", "Łukasz", "Ngũgĩ", "Anne-Marie", "Oğuz",
    "Иван", "Αλέξανδρος", "محمد", "יעל", "प्रिया", "Nguyễn Văn", "Chioma", "Mário",
)  # fmt: skip
_FAMILY = (
    "Lovelace", "García Márquez", "van der Berg", "O'Neill", "Müller", "Nørgaard", "Dvořák",
    "Smith-Jones", "Иванова", "Παπαδόπουλος", "الحسيني", "כהן", "शर्मा", "Okonkwo", "de la Cruz",
)  # fmt: skip
_FAMILY_FIRST = (  # (family, given) in cultures that put the family name first
    ("毛", "泽东"), ("山田", "太郎"), ("김", "민준"), ("Nagy", "Ferenc"), ("Nguyễn", "Thị Lan"),
)  # fmt: skip
_FAMILY_FIRST_NAMES = st.sampled_from(_FAMILY_FIRST)
_MONONYMS = ("Sukarno", "Madonna", "Teller", "Ронни", "ज़ाकिर", "Pelé")
_PREFIXES = ("Dr.", "Ms.", "Mr.", "Prof.", "Mx.", "Sir", "Frau")
_SUFFIXES = ("Jr.", "Sr.", "III", "PhD", "KC")
_SCRIPTS = (
    string.ascii_letters + "áéíóúñçäöüåøæłšžčřğıņ",
    "абвгдежзийклмнопрстуфхцчшщыэюяАБВГДЕЖЗИКЛМНОПРСТУ",
    "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΚΛΜΝΠΡΣΤΦΧΨΩ",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "אבגדהוזחטיכלמנסעפצקרשת",
    "山田中村佐藤鈴木高橋小林太郎花子明美",
    "김이박최정민준서연지우",
)


@cache
def _words(max_words: int) -> st.SearchStrategy[str]:
    word = st.sampled_from(_SCRIPTS).flatmap(
        lambda s: st.text(st.sampled_from(s), min_size=1, max_size=10)
    )
    return st.lists(word, min_size=1, max_size=max_words).map(" ".join)


@cache
def _part(pool: Sequence[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(pool), _words(2))


_OPTIONAL_MIDDLE = st.none() | _part(_GIVEN)
_OPTIONAL_PREFIX = st.none() | st.sampled_from(_PREFIXES)
_OPTIONAL_SUFFIX = st.none() | st.sampled_from(_SUFFIXES)
_NAME_SHAPES = st.sampled_from(["western", "western", "family_first", "mononym", "family"])


@st.composite
def _person_name(draw: st.DrawFn) -> PersonName:
    shape = draw(_NAME_SHAPES)
    if shape == "mononym":
        return PersonName(given=draw(_part(_MONONYMS)))
    if shape == "family":  # only a family name is known
        return PersonName(family=draw(_part(_FAMILY)))
    if shape == "family_first":
        family, given = draw(_FAMILY_FIRST_NAMES)
        if draw(st.booleans()):
            family, given = draw(_words(1)), draw(_words(2))
        return PersonName(given=given, family=family, family_first=True)
    return PersonName(
        given=draw(_part(_GIVEN)),
        family=draw(_part(_FAMILY)),
        middle=draw(_OPTIONAL_MIDDLE),
        prefix=draw(_OPTIONAL_PREFIX),
        suffix=draw(_OPTIONAL_SUFFIX),
    )


def person_names() -> st.SearchStrategy[PersonName]:
    """Draw person names from many cultures.

    Given-family names with optional middle names, prefixes and suffixes;
    family-name-first names (Chinese, Japanese, Korean, Hungarian,
    Vietnamese); mononyms; family-name-only records; diacritics and
    non-Latin scripts (Cyrillic, Greek, Arabic, Hebrew, Devanagari, CJK, Hangul).
    """
    return _PERSON_NAMES


_PERSON_NAMES = _person_name()


# --------------------------------------------------------------------------- addresses, money

_COUNTRIES = st.sampled_from(ALL_REGIONS)


_LINES = st.lists(texts(max_words=5), max_size=3).map(tuple)
_OPTIONAL_PLACE = st.none() | texts(max_words=3)
_OPTIONAL_POSTAL_CODE = st.none() | st.from_regex(
    r"[0-9A-Z]{2,5}( ?[0-9A-Z]{2,4})?", fullmatch=True
)
_OPTIONAL_COUNTRY = st.none() | _COUNTRIES
_LABELS = st.sampled_from(ContactLabel)


@st.composite
def _postal_address(draw: st.DrawFn) -> PostalAddress:
    lines = draw(_LINES)
    locality = draw(_OPTIONAL_PLACE)
    postal_code = draw(_OPTIONAL_POSTAL_CODE)
    if not (lines or locality or postal_code):
        locality = draw(texts(max_words=3))
    return PostalAddress(
        lines=lines,
        locality=locality,
        region=draw(_OPTIONAL_PLACE),
        postal_code=postal_code,
        country=draw(_OPTIONAL_COUNTRY),
        label=draw(_LABELS),
    )


def postal_addresses() -> st.SearchStrategy[PostalAddress]:
    """Draw postal addresses: up to three lines, locality, region, postal code, country."""
    return _POSTAL_ADDRESSES


_POSTAL_ADDRESSES = _postal_address()


_CURRENCIES = ("EUR", "USD", "SEK", "GBP", "JPY", "CHF", "INR", "BRL", "KWD", "CNY")


def money(*, currencies: Sequence[str] = _CURRENCIES) -> st.SearchStrategy[Money]:
    """Draw amounts of money: finite decimals with up to three places, ISO 4217 codes.

    Args:
        currencies: the currency codes to draw from.
    """
    amounts = st.decimals(
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
        allow_nan=False,
        allow_infinity=False,
        places=3,
    )
    return st.builds(Money, amounts, st.sampled_from(list(currencies)))


# --------------------------------------------------------------------------- maps, tags, consents

_KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9_.:-]{0,15}", fullmatch=True)
_JSON_LEAVES: st.SearchStrategy[JSONValue] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)


def custom_fields(*, max_size: int = 4) -> st.SearchStrategy[CustomFields]:
    """Draw custom fields: text keys to JSON values (nested lists and objects too).

    Args:
        max_size: the most top-level keys.
    """
    values = st.recursive(
        _JSON_LEAVES,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
        max_leaves=6,
    )
    return st.dictionaries(_KEYS, values, max_size=max_size).map(CustomFields.parse)


def external_ids(*, max_size: int = 3) -> st.SearchStrategy[ExternalIds]:
    """Draw external identifiers: a scheme (``vat``, ``erp:id``...) to clean text.

    Args:
        max_size: the most schemes.
    """
    return st.dictionaries(_KEYS, texts(max_words=2), max_size=max_size).map(ExternalIds.parse)


def tags(*, max_size: int = 4) -> st.SearchStrategy[frozenset[str]]:
    """Draw tag sets as the models keep them (trimmed, folded, case-folded).

    Args:
        max_size: the most tags drawn (before case-folding merges any).
    """
    tag = texts(max_words=3, max_word_length=10)
    return st.lists(tag, max_size=max_size).map(normalize_tags)


_PURPOSES = ("marketing", "newsletter", "profiling", "product updates", "surveys")


@cache
def _consent(channel: Channel, purpose: str) -> st.SearchStrategy[Consent]:
    return st.builds(
        Consent,
        channel=st.just(channel),
        purpose=st.just(purpose),
        status=st.sampled_from(ConsentStatus),
        recorded_at=_AWARE,
        source=st.none() | texts(max_words=3),
        legal_basis=st.sampled_from(LegalBasis),
    )


@st.composite
def _consents(draw: st.DrawFn, max_size: int) -> tuple[Consent, ...]:
    keys = draw(st.lists(_CONSENT_KEYS, max_size=max_size, unique=True))
    return tuple(draw(_consent(channel, purpose)) for channel, purpose in keys)


def consents(*, max_size: int = 3) -> st.SearchStrategy[tuple[Consent, ...]]:
    """Draw a customer's consents: at most one per channel and purpose.

    Args:
        max_size: the most consents.
    """
    return _consents(max_size)


_CONSENT_KEYS = st.tuples(st.sampled_from(Channel), st.sampled_from(_PURPOSES))


_TAGS = tags()
_CUSTOM_FIELDS = custom_fields()
_EXTERNAL_IDS = external_ids()
_CONSENTS = consents()

# --------------------------------------------------------------------------- entities


@cache
def _contact_emails(max_size: int) -> st.SearchStrategy[tuple[ContactEmail, ...]]:
    entry = st.builds(ContactEmail, email_addresses(), _LABELS)
    return st.lists(entry, max_size=max_size, unique_by=lambda e: e.address.match_key).map(tuple)


@cache
def _contact_phones(
    regions: Iterable[str] | None, max_size: int
) -> st.SearchStrategy[tuple[ContactPhone, ...]]:
    entry = st.builds(ContactPhone, phone_numbers(regions=regions), _LABELS)
    return st.lists(
        entry, max_size=max_size, unique_by=lambda p: (p.number.e164, p.number.extension)
    ).map(tuple)


_ORG_NAMES = (
    "Acme AB",
    "Globex GmbH",
    "Initech Ltd.",
    "株式会社テスト",
    "\u041e\u041e\u041e «Ромашка»",
)
_VERSIONS = st.integers(0, 2**31)
_OWNERS = st.none() | st.from_regex(r"usr_[a-z0-9]{1,12}", fullmatch=True)
_OPTIONAL_TEXT = st.none() | texts()
_OPTIONAL_CUSTOMER_ID = st.none() | customer_ids()
_OPTIONAL_LEAD_ID = st.none() | lead_ids()
_BIRTH_DATES = st.none() | st.dates(date(1900, 1, 1), date(2020, 12, 31))
_ORG_NAME = st.sampled_from(_ORG_NAMES) | texts(max_words=4)
_NOTES = st.none() | st.text(max_size=200)
_ADDRESSES = st.lists(_POSTAL_ADDRESSES, max_size=2).map(tuple)
_STAGES = st.sampled_from(LifecycleStage)
_AGE = st.timedeltas(timedelta(0), timedelta(days=3650))
_ONE_IN_EIGHT = st.integers(0, 7).map(lambda n: n == 0)


@st.composite
def _customer(draw: st.DrawFn, kinds: tuple[CustomerKind, ...], regions: Any) -> Customer:
    customer_id = draw(customer_ids())
    kind = draw(st.sampled_from(kinds))
    if kind is CustomerKind.PERSON:
        name: PersonName | str = draw(_PERSON_NAMES)
        organization = draw(_OPTIONAL_CUSTOMER_ID)
        if organization == customer_id:
            organization = None
        birth_date = draw(_BIRTH_DATES)
    else:
        name = draw(_ORG_NAME)
        organization, birth_date = None, None
    created = draw(_AWARE)
    return Customer(
        id=customer_id,
        kind=kind,
        name=name,
        emails=draw(_contact_emails(3)),
        phones=draw(_contact_phones(regions, 3)),
        addresses=draw(_ADDRESSES),
        organization_id=organization,
        stage=draw(_STAGES),
        stage_reason=draw(_OPTIONAL_TEXT),
        tags=draw(_TAGS),
        custom_fields=draw(_CUSTOM_FIELDS),
        owner=draw(_OWNERS),
        identifiers=draw(_EXTERNAL_IDS),
        consents=draw(_CONSENTS),
        birth_date=birth_date,
        notes=draw(_NOTES),
        merged_into=draw(_OPTIONAL_CUSTOMER_ID) if draw(_ONE_IN_EIGHT) else None,
        version=draw(_VERSIONS),
        created_at=created,
        updated_at=created + draw(_AGE),
    )


def customers(
    *,
    kinds: Iterable[CustomerKind] = tuple(CustomerKind),
    regions: Iterable[str] | None = None,
) -> st.SearchStrategy[Customer]:
    """Draw customers, persons and organisations, with every field exercised.

    Persons get a :class:`PersonName`, maybe an organisation and a birth
    date; organisations a text name. Both get up to three emails and phones
    (labelled, without repeats), addresses, a stage, tags, custom fields,
    identifiers, consents and notes; versions and timestamps vary too.

    Args:
        kinds: the kinds of customer to draw.
        regions: the regions phone numbers are drawn from (default all).
    """
    chosen_kinds = tuple(kinds)
    if not chosen_kinds:
        raise InvalidArgument("kinds must name at least one CustomerKind")
    chosen_regions = _check_regions(regions)
    return _customer(chosen_kinds, chosen_regions)


_OPTIONAL_NAME = st.none() | _PERSON_NAMES
_OPTIONAL_COMPANY = st.none() | st.sampled_from(_ORG_NAMES) | texts(max_words=3)
_OPTIONAL_SOURCE = st.none() | st.sampled_from(LeadSource)
_OPTIONAL_SCORE = st.none() | st.integers(-1000, 1000)
_OPTIONAL_MONEY = st.none() | money()


@st.composite
def _lead(draw: st.DrawFn, statuses: tuple[LeadStatus, ...], regions: Any) -> Lead:
    name = draw(_OPTIONAL_NAME)
    company = draw(_OPTIONAL_COMPANY)
    emails = draw(_contact_emails(2))
    phones = draw(_contact_phones(regions, 2))
    if name is None and company is None and not emails and not phones:
        name = draw(_PERSON_NAMES)
    status = draw(st.sampled_from(statuses))
    disqualified = status is LeadStatus.DISQUALIFIED
    reason = draw(texts()) if disqualified else draw(_OPTIONAL_TEXT)
    converted = draw(customer_ids()) if status is LeadStatus.CONVERTED else None
    created = draw(_AWARE)
    return Lead(
        id=draw(lead_ids()),
        name=name,
        company=company,
        emails=emails,
        phones=phones,
        source=draw(_OPTIONAL_SOURCE),
        status=status,
        status_reason=reason,
        score=draw(_OPTIONAL_SCORE),
        estimated_value=draw(_OPTIONAL_MONEY),
        owner=draw(_OWNERS),
        tags=draw(_TAGS),
        custom_fields=draw(_CUSTOM_FIELDS),
        converted_customer_id=converted,
        merged_into=draw(_OPTIONAL_LEAD_ID) if draw(_ONE_IN_EIGHT) else None,
        version=draw(_VERSIONS),
        created_at=created,
        updated_at=created + draw(_AGE),
    )


def leads(
    *,
    statuses: Iterable[LeadStatus] = tuple(LeadStatus),
    regions: Iterable[str] | None = None,
) -> st.SearchStrategy[Lead]:
    """Draw leads in any status: a name, a company or a contact point at least.

    Disqualified leads carry a reason and converted ones a customer id, as
    :meth:`Lead.transition_to` would leave them.

    Args:
        statuses: the statuses to draw from.
        regions: the regions phone numbers are drawn from (default all).
    """
    chosen = tuple(statuses)
    if not chosen:
        raise InvalidArgument("statuses must name at least one LeadStatus")
    return _lead(chosen, _check_regions(regions))


_ANY_RECORD_ID = st.one_of(customer_ids(), lead_ids())
_ROLES = st.sampled_from(ParticipantRole)
_OPTIONAL_LINE = st.none() | texts(max_words=6)
_BODIES = st.none() | st.text(max_size=300)
_DURATIONS = st.none() | st.timedeltas(timedelta(0), timedelta(days=7))
_THREADS = st.none() | st.from_regex(r"thr-[a-z0-9]{1,20}", fullmatch=True)
_MESSAGE_IDS = st.none() | st.from_regex(r"<[a-z0-9.]{1,20}@[a-z]{1,8}\.com>", fullmatch=True)


@cache
def _participants(record_ids: tuple[RecordId, ...] | None) -> st.SearchStrategy[list[Participant]]:
    pool = _ANY_RECORD_ID if record_ids is None else st.sampled_from(record_ids)
    return st.lists(
        st.builds(Participant, pool, _ROLES),
        min_size=1,
        max_size=3,
        unique_by=lambda p: p.record_id,
    )


@st.composite
def _interaction(draw: st.DrawFn, record_ids: tuple[RecordId, ...] | None) -> Interaction:
    created = draw(_AWARE)
    return Interaction(
        id=draw(interaction_ids()),
        channel=draw(st.sampled_from(Channel)),
        direction=draw(st.sampled_from(Direction)),
        occurred_at=draw(_AWARE),
        participants=tuple(draw(_participants(record_ids))),
        subject=draw(_OPTIONAL_LINE),
        body=draw(_BODIES),
        duration=draw(_DURATIONS),
        outcome=draw(_OPTIONAL_LINE),
        thread_id=draw(_THREADS),
        external_id=draw(_MESSAGE_IDS),
        version=draw(_VERSIONS),
        created_at=created,
        updated_at=created + draw(_AGE),
    )


def interactions(*, record_ids: Sequence[RecordId] | None = None) -> st.SearchStrategy[Interaction]:
    """Draw interactions on every channel, with one to three participants.

    Args:
        record_ids: the customer and lead ids participants are drawn from (to
            log interactions about records a test created); default fresh ids.
    """
    if record_ids is not None:
        chosen = tuple(dict.fromkeys(record_ids))
        if not chosen:
            raise InvalidArgument("record_ids must hold at least one customer or lead id")
        return _interaction(chosen)
    return _interaction(None)


# --------------------------------------------------------------------------- registration


def register_strategies() -> None:
    """Make ``st.from_type()`` draw crmcore models with the strategies above.

    Covers the entities (:class:`Customer`, :class:`Lead`,
    :class:`Interaction`) and the value objects (:class:`EmailAddress`,
    :class:`PhoneNumber`, :class:`PersonName`, :class:`PostalAddress`,
    :class:`Money`, :class:`CustomFields`, :class:`ExternalIds`). Calling it
    again is harmless.
    """
    registry: dict[type[Any], st.SearchStrategy[Any]] = {
        Customer: customers(),
        Lead: leads(),
        Interaction: interactions(),
        EmailAddress: email_addresses(),
        PhoneNumber: phone_numbers(),
        PersonName: person_names(),
        PostalAddress: postal_addresses(),
        Money: money(),
        CustomFields: custom_fields(),
        ExternalIds: external_ids(),
        Consent: st.tuples(st.sampled_from(Channel), st.sampled_from(_PURPOSES)).flatmap(
            lambda key: _consent(*key)
        ),
    }
    for kind, strategy in registry.items():
        st.register_type_strategy(kind, strategy)
