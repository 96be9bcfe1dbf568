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
from functools import cache, lru_cache
from typing import Any, NamedTuple, TypeVar

import attrs
import phonenumbers
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from crmcore._work import MAX_DESCRIPTION_LENGTH
from crmcore.cases import CASE_TRANSITIONS, Case, CaseEvent, CaseStatus
from crmcore.consent import (
    Consent,
    ConsentEvent,
    ConsentEvidence,
    ConsentStatus,
    LegalBasis,
    Restriction,
)
from crmcore.contacts import ContactEmail, ContactPhone
from crmcore.customers import MAX_NOTES_LENGTH, Customer, CustomerKind, LifecycleStage
from crmcore.ids import (
    CaseId,
    CustomerId,
    InteractionId,
    LeadId,
    MergeId,
    OpportunityId,
    RecordId,
    TaskId,
)
from crmcore.interactions import (
    MAX_BODY_LENGTH,
    MAX_DURATION,
    Channel,
    Direction,
    Interaction,
    Participant,
    ParticipantRole,
)
from crmcore.leads import MAX_SCORE, MIN_SCORE, Lead, LeadSource, LeadStatus
from crmcore.merge import (
    BulkMergeResult,
    Candidate,
    FieldDecision,
    MergePlan,
    MergePolicy,
    MergeRecord,
    MergeResult,
    Snapshot,
    Survivorship,
    plan_merge,
)
from crmcore.opportunities import (
    MAX_DEAL_AMOUNT_DIGITS,
    ROLE_DECISION_MAKER,
    ROLE_ECONOMIC_BUYER,
    ROLE_INFLUENCER,
    ROLE_TECHNICAL_BUYER,
    ROLE_USER,
    ContactRole,
    Opportunity,
    StageChange,
)
from crmcore.pipelines import DealStatus, Pipeline, Stage
from crmcore.tasks import Priority, Task, TaskKind, TaskStatus
from crmcore.values import (
    MAX_AMOUNT_DIGITS,
    MAX_PHONE_LENGTH,
    MAX_TEXT_LENGTH,
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

T = TypeVar("T", bound=str)

__all__ = [
    "ALL_REGIONS",
    "RawEmail",
    "RawPhone",
    "case_ids",
    "cases",
    "consent_events",
    "consent_evidence",
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
    "merge_records",
    "money",
    "opportunities",
    "opportunity_ids",
    "person_names",
    "phone_numbers",
    "pipelines",
    "postal_addresses",
    "raw_emails",
    "raw_phones",
    "register_strategies",
    "restrictions",
    "tags",
    "task_ids",
    "tasks",
    "texts",
    "utc_datetimes",
]

# --------------------------------------------------------------------------- text and ids

_LOWER_ALNUM = string.ascii_lowercase + string.digits


def _joined(*parts: st.SearchStrategy[str] | str) -> st.SearchStrategy[str]:
    # Fixed and drawn text concatenated. Patterns are spelled out this way and not
    # with st.from_regex, which spends a choice per character: a list of ten
    # customers then overruns the choices hypothesis allows its early examples.
    drawn = [st.just(part) if isinstance(part, str) else part for part in parts]
    return st.tuples(*drawn).map("".join)


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
    # than the draw itself. The letters and the number of words are two choices
    # whatever the length: a list of words would spend two per word, and an
    # entity holds many texts.
    letters = st.text(_WORD_CHARS, min_size=1, max_size=max_words * max_word_length)
    return st.builds(_split_words, letters, st.integers(1, max_words), st.just(max_word_length))


def _split_words(letters: str, words: int, longest: int) -> str:
    """``letters`` cut into about ``words`` equal words, none longer than ``longest``."""
    words = min(max(words, -(-len(letters) // longest)), len(letters))
    size = -(-len(letters) // words)
    return " ".join(letters[i : i + size] for i in range(0, len(letters), size))


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
_MICROSECOND = timedelta(microseconds=1)


def _span(low: timedelta, high: timedelta) -> st.SearchStrategy[timedelta]:
    # One integer choice instead of st.timedeltas' one per unit (days, seconds, microseconds):
    # entities hold many timestamps, and every choice counts against hypothesis' budget.
    return st.integers(low // _MICROSECOND, high // _MICROSECOND).map(lambda n: n * _MICROSECOND)


_EPOCH = datetime(1970, 1, 2, tzinfo=UTC)
_AWARE = st.builds(
    lambda offset, zone: (_EPOCH + offset).astimezone(zone),
    _span(timedelta(0), datetime(2099, 12, 31, tzinfo=UTC) - _EPOCH),
    _OFFSETS,
)

# Edge values (``edge=True``): the ends of every range a model accepts. Each is
# one choice more than the ordinary value it stands beside, and the ordinary
# strategies stay as they were.
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
_A_YEAR = timedelta(days=366)
# Year 1 and year 9999, in UTC and at the offsets (+14:00, -14:00) that keep the
# local time in range; shrinking goes to the very first and last microsecond.
_EXTREME_AWARE = st.one_of(
    st.builds(
        lambda offset, zone: (_EARLIEST + offset).astimezone(zone),
        _span(timedelta(0), _A_YEAR),
        st.sampled_from([UTC, timezone(timedelta(hours=14))]),
    ),
    st.builds(
        lambda offset, zone: (_LATEST - offset).astimezone(zone),
        _span(timedelta(0), _A_YEAR),
        st.sampled_from([UTC, timezone(timedelta(hours=-14))]),
    ),
)
_EDGE_AWARE = _AWARE | _EXTREME_AWARE


def _aware(edge: bool) -> st.SearchStrategy[datetime]:
    return _EDGE_AWARE if edge else _AWARE


def _later(start: datetime, age: timedelta) -> datetime:
    """``start + age``, or ``start`` where that would leave the range of datetimes."""
    return start + age if start <= _LATEST - age else start


def _at_cap(length: int, letters: str = "xä山\U0001f4de") -> st.SearchStrategy[str]:
    # One choice: a text of exactly ``length`` characters (an emoji is four UTF-8 bytes).
    return st.sampled_from(letters).map(lambda letter: letter * length)


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


_RUNS_OF_HYPHENS = re.compile("-+")
_RUNS_OF_DOTS = re.compile(r"\.+")


def _label_of(text: str) -> str:
    # Single hyphens only, never leading or trailing: never an "xn--"-like
    # label that IDNA would inspect.
    return _RUNS_OF_HYPHENS.sub("-", text).strip("-") or "x"


# One drawn text per label (not a list of chunks): every choice counts against
# hypothesis' budget for a list of customers.
_ASCII_LABEL = st.text(_LOWER_ALNUM + "-", min_size=1, max_size=26).map(_label_of)


_TLD = st.one_of(
    st.sampled_from(_ASCII_TLDS),
    st.text(st.sampled_from(string.ascii_lowercase), min_size=2, max_size=6).filter(
        lambda t: t not in _SPECIAL_USE
    ),
)


@st.composite
def _email_text(draw: st.DrawFn, international: bool) -> str:
    alphabet = _ATEXT + _INTL_LOCAL if international else _ATEXT
    # At most 18 characters of at most 3 UTF-8 octets: under the 64-octet cap.
    local = draw(st.text(alphabet, min_size=1, max_size=6))
    rest = draw(st.none() | st.text(alphabet + ".", min_size=1, max_size=12))
    if rest is not None:  # dot-atoms: single dots, none at either end
        local = _RUNS_OF_DOTS.sub(".", f"{local}.{rest}").rstrip(".")
    labels = [draw(_ASCII_LABEL) for _ in range(draw(st.integers(1, 2)))]
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
    return _email_text(international).map(_parsed_email)


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
_EXTENSIONS = _joined(  # [1-9][0-9]{0,5}
    st.text("123456789", min_size=1, max_size=1), st.text(string.digits, max_size=5)
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
    return draw(_phone_from(st.sampled_from(_examples(region)), extensions))


@st.composite
def _phone_from(
    draw: st.DrawFn, examples: st.SearchStrategy[tuple[int, str]], extensions: bool
) -> phonenumbers.PhoneNumber:
    country_code, nsn = draw(examples)
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
        number.extension = draw(_EXTENSIONS)
    return number


def _to_value(number: phonenumbers.PhoneNumber) -> PhoneNumber:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return _parsed_phone(f"{e164} ext. {number.extension}" if number.extension else e164)


# Shrinking and mutation redraw the same inputs over and over; parsing is the
# costly part of a drawn value. Bounded, and only ever fed generated test data.
_parsed_phone = lru_cache(maxsize=4096)(PhoneNumber.parse)
_parsed_email = lru_cache(maxsize=4096)(EmailAddress.parse)


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
    return _phone_numbers(_check_regions(regions), extensions)


@cache
def _phone_numbers(regions: tuple[str, ...], extensions: bool) -> st.SearchStrategy[PhoneNumber]:
    # One sampled example number among all of the regions' (not a region, then a
    # strategy built for it per draw, as flatmap would).
    examples = [example for region in regions for example in _examples(region)]
    return _phone_from(st.sampled_from(examples), extensions).map(_to_value)


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
    # one_of, not flatmap (which builds a strategy per draw), and two choices per
    # name part, not two per word (see _texts).
    return st.one_of(
        *(
            st.builds(
                _split_words,
                st.text(script, min_size=1, max_size=10 * max_words),
                st.integers(1, max_words),
                st.just(10),
            )
            for script in _SCRIPTS
        )
    )


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
_POSTAL_CHARS = string.digits + string.ascii_uppercase
_OPTIONAL_POSTAL_CODE = st.none() | _joined(  # [0-9A-Z]{2,5}( ?[0-9A-Z]{2,4})?
    st.text(_POSTAL_CHARS, min_size=2, max_size=5),
    st.just("")
    | _joined(st.sampled_from(["", " "]), st.text(_POSTAL_CHARS, min_size=2, max_size=4)),
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


_AMOUNTS = st.decimals(
    min_value=Decimal("-1e12"),
    max_value=Decimal("1e12"),
    allow_nan=False,
    allow_infinity=False,
    places=3,
)
_LARGEST_COEFFICIENT = 10**MAX_AMOUNT_DIGITS - 1
# Amounts of up to MAX_AMOUNT_DIGITS digits, with up to as many decimal places
# (built from text: Decimal arithmetic would round to 28 digits).
_EDGE_AMOUNTS = _AMOUNTS | st.one_of(
    st.builds(
        lambda coefficient, places: Decimal(f"{coefficient}E-{places}"),
        st.integers(-_LARGEST_COEFFICIENT, _LARGEST_COEFFICIENT),
        st.integers(0, MAX_AMOUNT_DIGITS),
    ),
    # 38 digits, as many of them decimal places as drawn.
    st.builds(
        lambda coefficient, places: Decimal(f"{coefficient}E-{places}"),
        st.integers(10 ** (MAX_AMOUNT_DIGITS - 1), _LARGEST_COEFFICIENT),
        st.integers(0, MAX_AMOUNT_DIGITS),
    ),
    st.sampled_from(
        [
            Decimal("9" * MAX_AMOUNT_DIGITS),
            Decimal("-" + "9" * MAX_AMOUNT_DIGITS),
            Decimal("0." + "9" * MAX_AMOUNT_DIGITS),
            Decimal(f"-0E-{MAX_AMOUNT_DIGITS}"),
            Decimal(f"1E+{MAX_AMOUNT_DIGITS - 1}"),
        ]
    ),
)


def money(
    *, currencies: Sequence[str] = _CURRENCIES, edge: bool = False
) -> st.SearchStrategy[Money]:
    """Draw amounts of money: finite decimals with up to three places, ISO 4217 codes.

    Args:
        currencies: the currency codes to draw from.
        edge: also draw amounts at the cap, about half the time: up to 38
            digits (:data:`~crmcore.values.MAX_AMOUNT_DIGITS`) before and
            after the point, the largest and smallest amounts there are.
    """
    return st.builds(Money, _EDGE_AMOUNTS if edge else _AMOUNTS, st.sampled_from(list(currencies)))


# --------------------------------------------------------------------------- maps, tags, consents

_KEYS = _joined(  # [A-Za-z][A-Za-z0-9_.:-]{0,15}
    st.text(string.ascii_letters, min_size=1, max_size=1),
    st.text(string.ascii_letters + string.digits + "_.:-", max_size=15),
)
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
    """Draw states of consent (as ``current_consents`` derives them): one per channel and purpose.

    Records hold a ledger of events instead: see :func:`consent_events`.

    Args:
        max_size: the most consents.
    """
    return _consents(max_size)


# One choice per key, not one per part.
_CONSENT_KEYS = st.sampled_from([(c, p) for c in Channel for p in _PURPOSES])
# Few keys for ledgers: several events of one key are what the derivation is about.
_LEDGER_KEYS = st.sampled_from(
    [(c, p) for c in (Channel.EMAIL, Channel.SMS, Channel.PHONE_CALL) for p in _PURPOSES[:3]]
)
_CONTACT_POINTS = ("ada@example.com", "+46701234567", "grace@example.org")
_IP_ADDRESSES = st.sampled_from(["192.0.2.1", "198.51.100.7", "2001:db8::1", "::ffff:c000:201"])
_FORM_IDS = st.none() | _joined("form-", st.text(_LOWER_ALNUM, min_size=1, max_size=8))


def consent_evidence() -> st.SearchStrategy[ConsentEvidence]:
    """Draw consent evidence: a form id, an IP address, a double opt-in, a reference."""
    return st.builds(
        ConsentEvidence,
        form_id=_FORM_IDS,
        ip_address=st.none() | _IP_ADDRESSES,
        confirmed_at=st.none() | _AWARE,
        reference=st.none() | texts(max_words=3),
    )


_EVIDENCE = st.none() | consent_evidence()


@st.composite
def _consent_event(draw: st.DrawFn, points: tuple[str | None, ...], edge: bool) -> ConsentEvent:
    channel, purpose = draw(_LEDGER_KEYS)
    status = draw(st.sampled_from(ConsentStatus))
    effective = draw(_aware(edge))
    expires = None
    if status is ConsentStatus.GRANTED and draw(_ONE_IN_FOUR):
        expires = _later(effective, draw(_span(_MICROSECOND, timedelta(days=3650))))
        if expires == effective:
            expires = None  # at the very end of time nothing can come after
    return ConsentEvent(
        channel=channel,
        purpose=purpose,
        status=status,
        effective_at=effective,
        recorded_at=draw(_aware(edge)),
        contact_point=draw(st.sampled_from(points)),
        source=draw(st.none() | texts(max_words=3)),
        evidence=draw(_EVIDENCE),
        legal_basis=draw(st.sampled_from(LegalBasis)),
        expires_at=expires,
    )


_ONE_IN_FOUR = st.integers(0, 3).map(lambda n: n == 0)


@cache
def _ledger(
    points: tuple[str | None, ...], max_size: int, edge: bool
) -> st.SearchStrategy[tuple[ConsentEvent, ...]]:
    return st.lists(_consent_event(points, edge), max_size=max_size).map(tuple)


def consent_events(
    *,
    max_size: int = 6,
    contact_points: Iterable[str | None] | None = None,
    edge: bool = False,
) -> st.SearchStrategy[tuple[ConsentEvent, ...]]:
    """Draw a consent ledger: grants and withdrawals, some of one key, in any order.

    Events fall on a few channels and purposes, so that one key often has
    several of them (out of order, with ties, some expiring).

    Args:
        max_size: the most events.
        contact_points: what the events may concern (normalised emails or
            E.164 numbers; ``None`` the person as a whole). Default: the
            person as a whole and a few fixed addresses and numbers.
        edge: draw timestamps at the ends of the range too.
    """
    points = (None, *_CONTACT_POINTS) if contact_points is None else tuple(contact_points)
    if not points:
        raise InvalidArgument("contact_points must name at least one contact point (or None)")
    return _ledger(points, max_size, edge)


def restrictions(*, edge: bool = False) -> st.SearchStrategy[Restriction]:
    """Draw restrictions of processing (GDPR Art. 18): a reason and a moment.

    Args:
        edge: draw a reason at its cap (500 characters) and timestamps at the
            ends of the range too.
    """
    reasons = texts(max_words=6)
    if edge:
        reasons = reasons | _at_cap(500)
    return st.builds(Restriction, reason=reasons, since=_aware(edge))


def _points_of(
    emails: tuple[ContactEmail, ...], phones: tuple[ContactPhone, ...]
) -> tuple[str | None, ...]:
    """What a record's consent events may concern: the person, or one of its contact points."""
    return (
        None,
        *(e.address.match_key for e in emails[:2]),
        *(p.number.e164 for p in phones[:1]),
    )


def _restriction(draw: st.DrawFn, restricted: bool, edge: bool) -> Restriction | None:
    if restricted and draw(_ONE_IN_EIGHT):
        return draw(restrictions(edge=edge))
    return None


# Smaller collections on entities than the building blocks default to: a list of
# entities must stay within the choices hypothesis allows its early examples.
_TAGS = tags(max_size=3)
# Entities get flat custom fields (lists at most): nested values cost many
# choices, and custom_fields() covers them on its own.
_CUSTOM_FIELDS = st.dictionaries(
    _KEYS, _JSON_LEAVES | st.lists(_JSON_LEAVES, max_size=2), max_size=2
).map(CustomFields.parse)
_EXTERNAL_IDS = external_ids(max_size=2)
_EDGE_CUSTOM_FIELDS = _CUSTOM_FIELDS | st.sampled_from(
    [
        CustomFields({"big": 2**1024 - 1, "small": -(2**1024 - 1)}),
        CustomFields({"max": 1.7976931348623157e308, "tiny": 5e-324, "zero": -0.0}),
        CustomFields({"text": '\U0001f4de\u2028\x00"\\' * 2_000}),
    ]
)

# --------------------------------------------------------------------------- entities


# Entities draw their contact points from pools of parts known to be valid: two
# choices per address or number instead of a dozen, so that a list of ten
# customers draws within hypothesis' health checks. email_addresses() and
# phone_numbers() exercise the parsing in all its variety on their own.
_POOLED_LOCALS = (
    "ada", "grace.hopper", "o'neill", "first.last", "x+tag", "j_doe", "user-1", "a.b.c",
    "info", "müller", "δοκιμή", "иван.петров", "山田", "!#$%&'*+-/=?^_`{|}~",
)  # fmt: skip
_POOLED_DOMAINS = (
    "example.com", "mail.example.org", "acme.de", "x1-y2.io", "a.b.co", "globex.info",
    "bücher.se", "münchen.de", "пример.рф", "例え.jp", "테스트.한국", "δοκιμή.ελ",
)  # fmt: skip
_POOLED_EMAILS = st.builds(
    lambda local, domain: _parsed_email(f"{local}@{domain}"),
    st.sampled_from(_POOLED_LOCALS),
    st.sampled_from(_POOLED_DOMAINS),
)


@cache
def _pooled_phones(regions: tuple[str, ...]) -> st.SearchStrategy[PhoneNumber]:
    examples = [example for region in regions for example in _examples(region)]
    return st.sampled_from(examples).map(lambda cc_nsn: _parsed_phone(f"+{cc_nsn[0]}{cc_nsn[1]}"))


@cache
def _contact_emails(max_size: int) -> st.SearchStrategy[tuple[ContactEmail, ...]]:
    entry = st.builds(ContactEmail, _POOLED_EMAILS, _LABELS)
    return st.lists(entry, max_size=max_size, unique_by=lambda e: e.address.match_key).map(tuple)


# Raw texts as typed, at the cap (what parse keeps is at most 64 characters).
_EDGE_RAW = _at_cap(MAX_PHONE_LENGTH, '0 ä\U0001f4de"\\\u2028')


@cache
def _edge_phones(regions: tuple[str, ...]) -> st.SearchStrategy[PhoneNumber]:
    pooled = _pooled_phones(regions)
    return pooled | st.builds(
        lambda phone, raw: PhoneNumber(phone.e164, phone.extension, raw), pooled, _EDGE_RAW
    )


@cache
def _contact_phones(
    regions: Iterable[str] | None, max_size: int, edge: bool = False
) -> st.SearchStrategy[tuple[ContactPhone, ...]]:
    chosen = _check_regions(regions)
    entry = st.builds(
        ContactPhone, _edge_phones(chosen) if edge else _pooled_phones(chosen), _LABELS
    )
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
_OWNERS = st.none() | _joined("usr_", st.text(_LOWER_ALNUM, min_size=1, max_size=12))
_OPTIONAL_TEXT = st.none() | texts()
_OPTIONAL_CUSTOMER_ID = st.none() | customer_ids()
_FIRST_BIRTH_DATE = date(1900, 1, 1)
_BIRTH_DATES = st.none() | st.integers(0, (date(2020, 12, 31) - _FIRST_BIRTH_DATE).days).map(
    lambda days: _FIRST_BIRTH_DATE + timedelta(days=days)
)
_ORG_NAME = st.sampled_from(_ORG_NAMES) | texts(max_words=4)
_NOTES = st.none() | st.text(max_size=200)
_ADDRESSES = st.lists(_POSTAL_ADDRESSES, max_size=2).map(tuple)
_STAGES = st.sampled_from(LifecycleStage)
_AGE = _span(timedelta(0), timedelta(days=3650))
_ONE_IN_EIGHT = st.integers(0, 7).map(lambda n: n == 0)


def _tombstone(merged: bool) -> st.SearchStrategy[bool]:
    return _ONE_IN_EIGHT if merged else st.just(False)


def _shared_fields(
    draw: st.DrawFn, own: T, ids: st.SearchStrategy[T], merged: bool, edge: bool
) -> dict[str, Any]:
    """What customers and leads share: owner, tags, custom fields, tombstone, bookkeeping."""
    created = draw(_aware(edge))
    return {
        "owner": draw(_OWNERS),
        "tags": draw(_TAGS),
        "custom_fields": draw(_EDGE_CUSTOM_FIELDS if edge else _CUSTOM_FIELDS),
        "merged_into": _other(own, draw(ids)) if draw(_tombstone(merged)) else None,
        "version": draw(_VERSIONS),
        "created_at": created,
        "updated_at": _later(created, draw(_AGE)),
    }


def _other(own: T, drawn: T) -> T:
    """``drawn``, or a neighbour of it when it is ``own``: a record never merges into itself."""
    if drawn != own:
        return drawn
    last = "1" if drawn[-1] == "0" else "0"
    return type(drawn)(drawn[:-1] + last)


_EDGE_BIRTH_DATES = _BIRTH_DATES | st.sampled_from([date.min, date.max])
_EDGE_NOTES = _NOTES | _at_cap(MAX_NOTES_LENGTH, "x\x00\u2028\U0001f4de")
_EDGE_REASONS = _OPTIONAL_TEXT | _at_cap(MAX_TEXT_LENGTH)


@st.composite
def _customer(
    draw: st.DrawFn,
    kinds: tuple[CustomerKind, ...],
    regions: Any,
    merged: bool,
    edge: bool,
    restricted: bool,
) -> Customer:
    customer_id = draw(customer_ids())
    kind = draw(st.sampled_from(kinds))
    if kind is CustomerKind.PERSON:
        name: PersonName | str = draw(_PERSON_NAMES)
        organization = draw(_OPTIONAL_CUSTOMER_ID)
        if organization == customer_id:
            organization = None
        birth_date = draw(_EDGE_BIRTH_DATES if edge else _BIRTH_DATES)
    else:
        name = draw(_ORG_NAME)
        organization, birth_date = None, None
    emails = draw(_contact_emails(3))
    phones = draw(_contact_phones(regions, 3, edge))
    return Customer(
        id=customer_id,
        kind=kind,
        name=name,
        emails=emails,
        phones=phones,
        addresses=draw(_ADDRESSES),
        organization_id=organization,
        stage=draw(_STAGES),
        stage_reason=draw(_EDGE_REASONS if edge else _OPTIONAL_TEXT),
        identifiers=draw(_EXTERNAL_IDS),
        consent_events=draw(_ledger(_points_of(emails, phones), 3, edge)),
        restriction=_restriction(draw, restricted, edge),
        birth_date=birth_date,
        notes=draw(_EDGE_NOTES if edge else _NOTES),
        **_shared_fields(draw, customer_id, customer_ids(), merged, edge),
    )


def customers(
    *,
    kinds: Iterable[CustomerKind] = tuple(CustomerKind),
    regions: Iterable[str] | None = None,
    merged: bool = False,
    edge: bool = False,
    restricted: bool = False,
) -> st.SearchStrategy[Customer]:
    """Draw customers, persons and organisations, with every field exercised.

    Persons get a :class:`PersonName`, maybe an organisation and a birth
    date; organisations a text name. Both get up to three emails and phones
    (labelled, without repeats), addresses, a stage, tags, custom fields,
    identifiers, a consent ledger (events about the person or one of its
    own contact points) and notes; versions and timestamps vary too.

    Args:
        kinds: the kinds of customer to draw.
        regions: the regions phone numbers are drawn from (default all).
        merged: also draw tombstones, about one customer in eight: records
            merged into another one (``merged_into`` set, never to the record's
            own id). Off by default, since ``resolve`` and ``timeline`` refuse them.
        edge: also draw values at the ends of what the model accepts, each
            about half the time: timestamps in year 1 and year 9999 (in UTC and
            at +14:00 and -14:00), birth dates of 0001-01-01 and 9999-12-31,
            raw phone texts and notes at their caps, the largest integers and
            floats in custom fields. For round trips through a store.
        restricted: also draw restricted records (GDPR Art. 18), about one
            in eight. Off by default, since merges and conversions refuse them.
    """
    chosen_kinds = tuple(kinds)
    if not chosen_kinds:
        raise InvalidArgument("kinds must name at least one CustomerKind")
    chosen_regions = _check_regions(regions)
    return _customer(chosen_kinds, chosen_regions, merged, edge, restricted)


_OPTIONAL_NAME = st.none() | _PERSON_NAMES
_OPTIONAL_COMPANY = st.none() | st.sampled_from(_ORG_NAMES) | texts(max_words=3)
_OPTIONAL_SOURCE = st.none() | st.sampled_from(LeadSource)
_OPTIONAL_SCORE = st.none() | st.integers(-1000, 1000)
_OPTIONAL_MONEY = st.none() | money()
_EDGE_SCORES = _OPTIONAL_SCORE | st.sampled_from([MIN_SCORE, MAX_SCORE])
_EDGE_MONEY = st.none() | money(edge=True)
_EDGE_COMPANY = _OPTIONAL_COMPANY | _at_cap(300)


@st.composite
def _lead(
    draw: st.DrawFn,
    statuses: tuple[LeadStatus, ...],
    regions: Any,
    merged: bool,
    edge: bool,
    restricted: bool,
) -> Lead:
    lead_id = draw(lead_ids())
    name = draw(_OPTIONAL_NAME)
    company = draw(_EDGE_COMPANY if edge else _OPTIONAL_COMPANY)
    emails = draw(_contact_emails(2))
    phones = draw(_contact_phones(regions, 2, edge))
    if name is None and company is None and not emails and not phones:
        name = draw(_PERSON_NAMES)
    status = draw(st.sampled_from(statuses))
    disqualified = status is LeadStatus.DISQUALIFIED
    reason = draw(texts()) if disqualified else draw(_OPTIONAL_TEXT)
    converted = draw(customer_ids()) if status is LeadStatus.CONVERTED else None
    return Lead(
        id=lead_id,
        name=name,
        company=company,
        emails=emails,
        phones=phones,
        source=draw(_OPTIONAL_SOURCE),
        status=status,
        status_reason=reason,
        score=draw(_EDGE_SCORES if edge else _OPTIONAL_SCORE),
        estimated_value=draw(_EDGE_MONEY if edge else _OPTIONAL_MONEY),
        converted_customer_id=converted,
        consent_events=draw(_ledger(_points_of(emails, phones), 2, edge)),
        restriction=_restriction(draw, restricted, edge),
        **_shared_fields(draw, lead_id, lead_ids(), merged, edge),
    )


def leads(
    *,
    statuses: Iterable[LeadStatus] = tuple(LeadStatus),
    regions: Iterable[str] | None = None,
    merged: bool = False,
    edge: bool = False,
    restricted: bool = False,
) -> st.SearchStrategy[Lead]:
    """Draw leads in any status: a name, a company or a contact point at least.

    Disqualified leads carry a reason and converted ones a customer id, as
    :meth:`Lead.transition_to` would leave them.

    Args:
        statuses: the statuses to draw from.
        regions: the regions phone numbers are drawn from (default all).
        merged: also draw tombstones, about one lead in eight (``merged_into``
            set, never to the lead's own id).
        edge: also draw values at the ends of what the model accepts, each
            about half the time: the timestamps, raw phone texts and custom
            fields of ``customers(edge=True)``, the largest and smallest
            scores, amounts of 38 digits, a company name at its cap.
        restricted: also draw restricted leads (GDPR Art. 18), about one in
            eight. Off by default, since merges and conversions refuse them.

    Leads, like customers, carry a consent ledger.
    """
    chosen = tuple(statuses)
    if not chosen:
        raise InvalidArgument("statuses must name at least one LeadStatus")
    return _lead(chosen, _check_regions(regions), merged, edge, restricted)


_ANY_RECORD_ID = st.one_of(customer_ids(), lead_ids())
_ROLES = st.sampled_from(ParticipantRole)
_OPTIONAL_LINE = st.none() | texts(max_words=6)
_BODIES = st.none() | st.text(max_size=300)
_DURATIONS = st.none() | _span(timedelta(0), timedelta(days=7))
# The longest durations, to the microsecond (shrinking goes to MAX_DURATION itself).
_EDGE_DURATIONS = _DURATIONS | _span(timedelta(0), _A_YEAR).map(lambda short: MAX_DURATION - short)
_EDGE_LINES = _OPTIONAL_LINE | _at_cap(MAX_TEXT_LENGTH)
_EDGE_BODIES = _BODIES | _at_cap(MAX_BODY_LENGTH, "x\x00\u2028\U0001f4de")
_THREADS = st.none() | _joined("thr-", st.text(_LOWER_ALNUM, min_size=1, max_size=20))
_MESSAGE_IDS = st.none() | _joined(  # <[a-z0-9.]{1,20}@[a-z]{1,8}\.com>
    "<",
    st.text(_LOWER_ALNUM + ".", min_size=1, max_size=20),
    "@",
    st.text(string.ascii_lowercase, min_size=1, max_size=8),
    ".com>",
)


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
def _interaction(
    draw: st.DrawFn,
    record_ids: tuple[RecordId, ...] | None,
    edge: bool,
    case_ids: tuple[CaseId, ...] | None = None,
) -> Interaction:
    created = draw(_aware(edge))
    # Drawn only when asked: the default draws stay what they were (and shrink alike).
    case_id = None if case_ids is None else draw(st.none() | st.sampled_from(case_ids))
    return Interaction(
        id=draw(interaction_ids()),
        channel=draw(st.sampled_from(Channel)),
        direction=draw(st.sampled_from(Direction)),
        occurred_at=draw(_aware(edge)),
        participants=tuple(draw(_participants(record_ids))),
        subject=draw(_EDGE_LINES if edge else _OPTIONAL_LINE),
        body=draw(_EDGE_BODIES if edge else _BODIES),
        duration=draw(_EDGE_DURATIONS if edge else _DURATIONS),
        outcome=draw(_OPTIONAL_LINE),
        thread_id=draw(_THREADS),
        external_id=draw(_MESSAGE_IDS),
        case_id=case_id,
        version=draw(_VERSIONS),
        created_at=created,
        updated_at=_later(created, draw(_AGE)),
    )


def interactions(
    *,
    record_ids: Sequence[RecordId] | None = None,
    edge: bool = False,
    case_ids: Sequence[CaseId] | None = None,
) -> st.SearchStrategy[Interaction]:
    """Draw interactions on every channel, with one to three participants.

    Args:
        record_ids: the customer and lead ids participants are drawn from (to
            log interactions about records a test created); default fresh ids.
        edge: also draw values at the ends of what the model accepts, each
            about half the time: timestamps in year 1 and year 9999 (in UTC and
            at +14:00 and -14:00), durations up to
            :data:`~crmcore.interactions.MAX_DURATION`, subjects and bodies at
            their caps.
        case_ids: the support cases an interaction may belong to (``case_id``
            drawn from them, or none); by default interactions belong to no case.
    """
    cases_pool: tuple[CaseId, ...] | None = None
    if case_ids is not None:
        cases_pool = tuple(dict.fromkeys(case_ids))
        if not cases_pool:
            raise InvalidArgument("case_ids must hold at least one case id")
    if record_ids is not None:
        chosen = tuple(dict.fromkeys(record_ids))
        if not chosen:
            raise InvalidArgument("record_ids must hold at least one customer or lead id")
        return _interaction(chosen, edge, cases_pool)
    return _interaction(None, edge, cases_pool)


# --------------------------------------------------------------------------- work items


@cache
def opportunity_ids() -> st.SearchStrategy[OpportunityId]:
    """Draw well-formed opportunity ids (``opp_`` + a ULID)."""
    return _ULID.map(lambda u: OpportunityId("opp_" + u))


@cache
def task_ids() -> st.SearchStrategy[TaskId]:
    """Draw well-formed task ids (``tsk_`` + a ULID)."""
    return _ULID.map(lambda u: TaskId("tsk_" + u))


@cache
def case_ids() -> st.SearchStrategy[CaseId]:
    """Draw well-formed support case ids (``cas_`` + a ULID)."""
    return _ULID.map(lambda u: CaseId("cas_" + u))


_SLUGS = _joined(  # [a-z][a-z0-9_-]{0,11}: what check_slug accepts, short
    st.sampled_from(string.ascii_lowercase),
    st.text(_LOWER_ALNUM + "_-", max_size=11),
)
# Probabilities in steps of 0.0001 (the finest a probability holds), one choice.
_PROBABILITIES = st.integers(0, 10_000).map(lambda n: Decimal(n).scaleb(-4).normalize())
_STAGE_NAMES = st.sampled_from(["Qualify", "Propose", "Negotiate", "Cart", "Paid"]) | texts(
    max_words=3
)


_FIXED = {DealStatus.WON: Decimal(1), DealStatus.LOST: Decimal(0)}


@st.composite
def _pipeline(draw: st.DrawFn) -> Pipeline:
    statuses = [DealStatus.OPEN, DealStatus.WON]
    statuses += draw(st.lists(st.sampled_from(DealStatus), max_size=4))
    ids = draw(st.lists(_SLUGS, min_size=len(statuses), max_size=len(statuses), unique=True))
    stages = [
        Stage(
            stage_id,
            draw(_STAGE_NAMES),
            draw(_PROBABILITIES) if status is DealStatus.OPEN else _FIXED[status],
            status,
        )
        for stage_id, status in zip(ids, statuses, strict=True)
    ]
    return Pipeline(draw(_SLUGS), draw(_STAGE_NAMES), tuple(draw(st.permutations(stages))))


_PIPELINES = _pipeline()
# Deals draw their pipeline from a pool (one choice instead of thirty): a list of
# deals must stay within hypothesis' budget, and pipelines() draws every shape.
_POOLED_PIPELINES = st.sampled_from(
    [
        Pipeline.create(
            "b2b",
            "B2B",
            [
                {"id": "qualify", "name": "Qualify", "probability": "0.1"},
                {"id": "propose", "name": "Propose", "probability": "0.4"},
                {"id": "negotiate", "name": "Negotiate", "probability": "0.75"},
                {"id": "won", "name": "Won", "probability": 1, "status": "won"},
                {"id": "lost", "name": "Lost", "probability": 0, "status": "lost"},
            ],
        ),
        Pipeline.create(
            "web-shop",
            "Web shop",
            [
                {"id": "cart", "name": "Cart", "probability": "0.2"},
                {"id": "paid", "name": "Paid", "probability": 1, "status": "won"},
            ],
        ),
        # Closed stages between open ones, two of each kind, a 0 and a 1 open stage.
        Pipeline.create(
            "mixed_1",
            "Mixed",
            [
                {"id": "lost-early", "name": "Lost early", "probability": 0, "status": "lost"},
                {"id": "cold", "name": "Cold", "probability": 0},
                {"id": "won-small", "name": "Won small", "probability": 1, "status": "won"},
                {"id": "sure", "name": "Sure", "probability": "1"},
                {"id": "won-big", "name": "Won big", "probability": 1, "status": "won"},
                {"id": "lost-late", "name": "Lost late", "probability": 0, "status": "lost"},
            ],
        ),
    ]
)


def pipelines() -> st.SearchStrategy[Pipeline]:
    """Draw pipelines: two to six stages in any order, at least one open and one won.

    Open stages get probabilities in steps of 0.0001; lost stages (none, one
    or more) have probability 0 and won stages 1, as :class:`Stage` checks.
    """
    return _PIPELINES


_CONTACT_ROLE_NAMES = st.sampled_from(
    [
        ROLE_DECISION_MAKER,
        ROLE_INFLUENCER,
        ROLE_TECHNICAL_BUYER,
        ROLE_ECONOMIC_BUYER,
        ROLE_USER,
        "champion",
        "legal-team",
    ]
)
_DEAL_AMOUNTS = st.none() | money(currencies=_CURRENCIES).map(
    lambda m: Money(abs(m.amount), m.currency)
)
_FIRST_CLOSE_DATE = date(2000, 1, 1)
_CLOSE_DATES = st.none() | st.integers(0, 365 * 40).map(
    lambda days: _FIRST_CLOSE_DATE + timedelta(days=days)
)
_LARGEST_DEAL = 10**MAX_DEAL_AMOUNT_DIGITS - 1
# Deal amounts at the cap: up to 34 digits, as many of them decimal places as drawn.
_EDGE_DEAL_AMOUNTS = _DEAL_AMOUNTS | st.builds(
    lambda coefficient, places, currency: Money(Decimal(f"{coefficient}E-{places}"), currency),
    st.integers(0, _LARGEST_DEAL),
    st.integers(0, MAX_DEAL_AMOUNT_DIGITS),
    st.sampled_from(_CURRENCIES),
)
_EDGE_CLOSE_DATES = _CLOSE_DATES | st.sampled_from([date.min, date.max])
_OPTIONAL_LEAD_ID = st.none() | lead_ids()
_CAMPAIGNS = st.none() | texts(max_words=3)
_EDGE_DEAL_NAMES = texts(max_words=5) | _at_cap(300)
_EDGE_LOSS_REASONS = texts(max_words=4) | _at_cap(MAX_TEXT_LENGTH)
_STEP = _span(timedelta(0), timedelta(days=90))
_MOVES = st.integers(0, 3)


@cache
def _customer_pool(pool: tuple[CustomerId, ...] | None) -> st.SearchStrategy[CustomerId]:
    return customer_ids() if pool is None else st.sampled_from(pool)


@cache
def _contact_roles(pool: tuple[CustomerId, ...] | None) -> st.SearchStrategy[tuple[Any, ...]]:
    entry = st.builds(ContactRole, _customer_pool(pool), _CONTACT_ROLE_NAMES)
    return st.lists(entry, max_size=2, unique=True).map(tuple)


@st.composite
def _opportunity(
    draw: st.DrawFn, pipeline: Pipeline | None, pool: tuple[CustomerId, ...] | None, edge: bool
) -> Opportunity:
    chosen = draw(_POOLED_PIPELINES) if pipeline is None else pipeline
    starts = [stage for stage in chosen.stages if stage.status is not DealStatus.LOST]
    start = draw(st.sampled_from(starts))
    at = draw(_aware(edge))
    first = StageChange(start.id, start.status, start.probability, at)
    deal = Opportunity(
        id=draw(opportunity_ids()),
        name=draw(_EDGE_DEAL_NAMES if edge else texts(max_words=5)),
        customer_id=draw(_customer_pool(pool)),
        pipeline_id=chosen.id,
        stage_id=start.id,
        status=start.status,
        probability=start.probability,
        stage_history=(first,),
        amount=draw(_EDGE_DEAL_AMOUNTS if edge else _DEAL_AMOUNTS),
        close_date=draw(_EDGE_CLOSE_DATES if edge else _CLOSE_DATES),
        owner=draw(_OWNERS),
        contacts=draw(_contact_roles(pool)),
        lead_id=draw(_OPTIONAL_LEAD_ID),
        source=draw(_OPTIONAL_SOURCE),
        campaign=draw(_CAMPAIGNS),
        closed_at=at if start.is_closed else None,
        tags=draw(_TAGS),
        custom_fields=draw(_EDGE_CUSTOM_FIELDS if edge else _CUSTOM_FIELDS),
        created_at=at,
        updated_at=at,
    )
    reasons = _EDGE_LOSS_REASONS if edge else texts(max_words=4)
    for _ in range(draw(_MOVES)):
        target = draw(st.sampled_from([s for s in chosen.stages if s.id != deal.stage_id]))
        at = _later(at, draw(_STEP))
        reason = draw(reasons) if target.status is DealStatus.LOST else None
        deal = deal.move_to(chosen, target.id, at=at, reason=reason, reopen=deal.is_closed)
    if not deal.is_closed and draw(_ONE_IN_EIGHT):
        deal = deal.with_probability(draw(_PROBABILITIES))
    return attrs.evolve(deal, version=draw(_VERSIONS), updated_at=_later(at, draw(_AGE)))


def opportunities(
    *,
    pipeline: Pipeline | None = None,
    customer_ids: Sequence[CustomerId] | None = None,
    edge: bool = False,
) -> st.SearchStrategy[Opportunity]:
    """Draw deals with a stage history of one to four moves that obey their pipeline.

    Moves go forwards and backwards; a move to a lost stage has a reason, and
    a closed deal reopens before it moves on, as :meth:`Opportunity.move_to`
    requires. Some open deals override their stage's probability.

    Args:
        pipeline: the pipeline every deal is in (default: one of three fixed
            shapes per deal; draw one with :func:`pipelines` for any shape).
        customer_ids: the customers deals and contact roles are drawn from
            (to build deals about records a test created); default fresh ids.
        edge: also draw values at the ends of what the model accepts, each
            about half the time: the timestamps and custom fields of
            ``customers(edge=True)``, amounts of 34 digits
            (:data:`~crmcore.opportunities.MAX_DEAL_AMOUNT_DIGITS`), close
            dates of 0001-01-01 and 9999-12-31, names and loss reasons at
            their caps. For round trips through a store.
    """
    if pipeline is not None and not isinstance(pipeline, Pipeline):
        raise InvalidArgument("pipeline must be a Pipeline")
    return _opportunity(pipeline, _pool_of(customer_ids, "customer_ids"), edge)


def _pool_of(ids: Sequence[T] | None, name: str) -> tuple[T, ...] | None:
    """The distinct ids a strategy draws from, or ``None`` for fresh ones."""
    if ids is None:
        return None
    pool = tuple(dict.fromkeys(ids))
    if not pool:
        raise InvalidArgument(f"{name} must hold at least one id")
    return pool


_ANY_SUBJECT_ID = st.one_of(customer_ids(), lead_ids(), opportunity_ids(), case_ids())
_OPTIONAL_SUBJECT_ID = st.none() | _ANY_SUBJECT_ID
_OPTIONAL_AWARE = st.none() | _AWARE
_EDGE_OPTIONAL_AWARE = st.none() | _EDGE_AWARE
# Whitespace alone is kept as no description: the model turns it into None.
_DESCRIPTIONS = st.none() | st.text(max_size=200)
_EDGE_DESCRIPTIONS = _DESCRIPTIONS | _at_cap(MAX_DESCRIPTION_LENGTH, "x\x00\u2028\U0001f4de")
_TASK_TITLES = st.sampled_from(["Call back", "Send the quote", "Demo", "Follow up"]) | texts()
_EDGE_TITLES = _TASK_TITLES | _at_cap(300)
_OPTIONAL_INTERACTION_ID = st.none() | interaction_ids()


@st.composite
def _task(draw: st.DrawFn, about_ids: tuple[str, ...] | None, edge: bool) -> Task:
    created = draw(_aware(edge))
    status = draw(st.sampled_from(TaskStatus))
    done = status is TaskStatus.DONE
    about = _OPTIONAL_SUBJECT_ID if about_ids is None else st.none() | st.sampled_from(about_ids)
    return Task(
        id=draw(task_ids()),
        title=draw(_EDGE_TITLES if edge else _TASK_TITLES),
        kind=draw(st.sampled_from(TaskKind)),
        status=status,
        priority=draw(st.sampled_from(Priority)),
        due_at=draw(_EDGE_OPTIONAL_AWARE if edge else _OPTIONAL_AWARE),
        assignee=draw(_OWNERS),
        about_id=draw(about),
        description=draw(_EDGE_DESCRIPTIONS if edge else _DESCRIPTIONS),
        completed_at=_later(created, draw(_AGE)) if done else None,
        interaction_id=draw(_OPTIONAL_INTERACTION_ID) if done else None,
        tags=draw(_TAGS),
        custom_fields=draw(_EDGE_CUSTOM_FIELDS if edge else _CUSTOM_FIELDS),
        version=draw(_VERSIONS),
        created_at=created,
        updated_at=_later(created, draw(_AGE)),
    )


def tasks(*, about_ids: Sequence[str] | None = None, edge: bool = False) -> st.SearchStrategy[Task]:
    """Draw tasks of every kind, status and priority; done ones carry their completion.

    Args:
        about_ids: the customer, lead, opportunity or case ids a task may be
            about (default: fresh ids of every kind, or none).
        edge: also draw values at the ends of what the model accepts, each
            about half the time: timestamps and due times in year 1 and year
            9999, titles and descriptions at their caps, the custom fields of
            ``customers(edge=True)``.
    """
    return _task(_pool_of(about_ids, "about_ids"), edge)


_CASE_CHANNELS = st.sampled_from(
    [Channel.WEB_FORM, Channel.EMAIL, Channel.CHAT, Channel.PHONE_CALL]
) | st.sampled_from(Channel)
_CASE_MOVES = st.integers(0, 4)


_EDGE_SUBJECTS = texts(max_words=6) | _at_cap(300)


@st.composite
def _case(draw: st.DrawFn, pool: tuple[CustomerId, ...] | None, edge: bool) -> Case:
    reported = draw(_aware(edge))
    case = Case(
        id=draw(case_ids()),
        subject=draw(_EDGE_SUBJECTS if edge else texts(max_words=6)),
        customer_id=draw(_customer_pool(pool)),
        history=(CaseEvent(CaseStatus.NEW, reported),),
        reported_at=reported,
        channel=draw(_CASE_CHANNELS),
        priority=draw(st.sampled_from(Priority)),
        description=draw(_EDGE_DESCRIPTIONS if edge else _DESCRIPTIONS),
        assignee=draw(_OWNERS),
        tags=draw(_TAGS),
        custom_fields=draw(_EDGE_CUSTOM_FIELDS if edge else _CUSTOM_FIELDS),
        created_at=reported,
        updated_at=reported,
    )
    at = case.reported_at
    for _ in range(draw(_CASE_MOVES)):
        allowed = sorted(CASE_TRANSITIONS[case.status], key=lambda status: status.value)
        if not allowed:
            break
        at = _later(at, draw(_STEP))
        case = case.transition_to(draw(st.sampled_from(allowed)), at=at)
    if draw(st.booleans()):
        case = case.responded(at=_later(case.reported_at, draw(_AGE)))
    return attrs.evolve(case, version=draw(_VERSIONS), updated_at=_later(at, draw(_AGE)))


def cases(
    *, customer_ids: Sequence[CustomerId] | None = None, edge: bool = False
) -> st.SearchStrategy[Case]:
    """Draw support cases whose history obeys :data:`~crmcore.cases.CASE_TRANSITIONS`.

    Zero to four moves from ``new`` (so any status, closed included), with
    ``resolved_at`` and ``closed_at`` as the moves leave them, and a first
    response about half the time.

    Args:
        customer_ids: the customers cases are drawn for; default fresh ids.
        edge: also draw values at the ends of what the model accepts, each
            about half the time: report times in year 1 and year 9999,
            subjects and descriptions at their caps, the custom fields of
            ``customers(edge=True)``.
    """
    return _case(_pool_of(customer_ids, "customer_ids"), edge)


# --------------------------------------------------------------------------- merges

_PARTICIPANTS = st.builds(Participant, _ANY_RECORD_ID, _ROLES)
_MERGE_IDS = _ULID.map(lambda u: MergeId("mrg_" + u))
# Rules that suit any single-valued field, on fields both entities have.
_POLICIES = st.builds(
    MergePolicy,
    st.dictionaries(
        st.sampled_from(["owner", "custom_fields"]),
        st.sampled_from(
            [
                Survivorship.PREFER_SURVIVOR,
                Survivorship.MOST_RECENT,
                Survivorship.MOST_COMPLETE,
                Survivorship.MOST_FREQUENT,
            ]
        ),
        max_size=2,
    ),
)
# People merge with people, organisations with organisations.
_LIVE_CUSTOMERS = st.one_of(
    *(
        st.lists(customers(kinds=[kind]), min_size=2, max_size=3, unique_by=lambda c: c.id)
        for kind in CustomerKind
    )
)
_LIVE_LEADS = st.lists(leads(), min_size=2, max_size=3, unique_by=lambda lead: lead.id)


_EDGE_LIVE_CUSTOMERS = st.one_of(
    *(
        st.lists(
            customers(kinds=[kind], edge=True), min_size=2, max_size=3, unique_by=lambda c: c.id
        )
        for kind in CustomerKind
    )
)
_EDGE_LIVE_LEADS = st.lists(
    leads(edge=True), min_size=2, max_size=3, unique_by=lambda lead: lead.id
)


@st.composite
def _merge_plan(draw: st.DrawFn, edge: bool = False) -> MergePlan:
    live = _EDGE_LIVE_CUSTOMERS | _EDGE_LIVE_LEADS if edge else _LIVE_CUSTOMERS | _LIVE_LEADS
    records: list[Customer] | list[Lead] = draw(live)
    survivor = draw(st.sampled_from([None, *(r.id for r in records)]))
    return plan_merge(records, survivor=survivor, policy=draw(_POLICIES))


_MERGE_PLANS = _merge_plan()


@st.composite
def _merge_result(draw: st.DrawFn, edge: bool = False) -> MergeResult:
    # What merge() returns, without a store: the plan applied as written.
    plan = draw(_merge_plan(edge) if edge else _MERGE_PLANS)
    merged_at = draw(_aware(edge))
    record = MergeRecord(
        id=draw(_MERGE_IDS),
        survivor_id=plan.survivor_id,
        merged_ids=plan.merged_ids,
        before=Snapshot.of(plan.records),
        after=Snapshot.of([plan.result, *plan.retired]),
        merged_at=merged_at,
        unmerged_at=_later(merged_at, draw(_AGE)) if edge and draw(st.booleans()) else None,
    )
    return MergeResult(survivor=plan.result, merge_id=record.id, plan=plan, record=record)


_MERGE_RESULTS = _merge_result()
_EDGE_MERGE_RECORDS = _merge_result(edge=True).map(lambda result: result.record)


def merge_records(*, edge: bool = False) -> st.SearchStrategy[MergeRecord]:
    """Draw merge records: two or three customers (or leads) merged as planned.

    ``before`` holds the records, ``after`` the survivor and the tombstones,
    as :func:`crmcore.merge` writes them (without a store).

    Args:
        edge: draw the records with ``customers(edge=True)`` and
            ``leads(edge=True)``, the merge time at the ends of the range
            too, and records that were unmerged (``unmerged_at`` set) half
            the time.
    """
    return _EDGE_MERGE_RECORDS if edge else _by_type()[MergeRecord]


_CANDIDATES = st.builds(
    Candidate,
    record_id=_ANY_RECORD_ID,
    value=_JSON_LEAVES,
    is_survivor=st.booleans(),
    created_at=_AWARE,
    updated_at=_AWARE,
)
_CLUSTER_OUTCOMES = st.lists(st.tuples(texts(max_words=1), texts(max_words=3)), max_size=2)


@cache
def _by_type() -> dict[type[Any], st.SearchStrategy[Any]]:
    """The strategy ``st.from_type()`` uses for each crmcore model."""
    return {
        Customer: customers(),
        Lead: leads(),
        Interaction: interactions(),
        Participant: _PARTICIPANTS,
        Pipeline: _PIPELINES,
        Stage: _PIPELINES.flatmap(lambda pipeline: st.sampled_from(pipeline.stages)),
        Opportunity: opportunities(),
        StageChange: opportunities().flatmap(lambda deal: st.sampled_from(deal.stage_history)),
        ContactRole: st.builds(ContactRole, customer_ids(), _CONTACT_ROLE_NAMES),
        Task: tasks(),
        Case: cases(),
        CaseEvent: cases().flatmap(lambda case: st.sampled_from(case.history)),
        EmailAddress: email_addresses(),
        PhoneNumber: phone_numbers(),
        PersonName: person_names(),
        PostalAddress: postal_addresses(),
        Money: money(),
        CustomFields: custom_fields(),
        ExternalIds: external_ids(),
        Consent: _CONSENT_KEYS.flatmap(lambda key: _consent(*key)),
        ConsentEvent: _consent_event((None, *_CONTACT_POINTS), False),
        ConsentEvidence: consent_evidence(),
        Restriction: restrictions(),
        ContactEmail: st.builds(ContactEmail, email_addresses(), _LABELS),
        ContactPhone: st.builds(ContactPhone, phone_numbers(), _LABELS),
        MergePolicy: _POLICIES,
        Candidate: _CANDIDATES,
        MergePlan: _MERGE_PLANS,
        FieldDecision: _MERGE_PLANS.flatmap(lambda plan: st.sampled_from(plan.decisions)),
        MergeResult: _MERGE_RESULTS,
        MergeRecord: _MERGE_RESULTS.map(lambda result: result.record),
        Snapshot: _MERGE_RESULTS.map(lambda result: result.record.before),
        BulkMergeResult: st.builds(
            BulkMergeResult,
            st.lists(_MERGE_RESULTS, max_size=2).map(tuple),
            _CLUSTER_OUTCOMES.map(tuple),
            _CLUSTER_OUTCOMES.map(tuple),
        ),
    }


def _strategy_for(kind: type[Any]) -> st.SearchStrategy[Any]:
    """The kit's strategy for ``kind`` (hypothesis resolves registered types with it)."""
    return _by_type()[kind]


# --------------------------------------------------------------------------- registration


def register_strategies() -> None:
    """Make ``st.from_type()`` draw crmcore models with the strategies above.

    Installing crmcore already does this through hypothesis' entry point; call
    it only where plugins are off (``HYPOTHESIS_NO_PLUGINS``). Covers every
    model: entities, participants, consents, contact points, value objects and
    the merge types. Calling it again is harmless.
    """
    for kind, strategy in _by_type().items():
        st.register_type_strategy(kind, strategy)
