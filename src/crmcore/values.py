"""Value objects: frozen, hashable, validated, with ``parse()`` constructors.

Every ``parse()`` caps the length of its input and checks its alphabet before
any dependency sees the text (phonenumbers and idna have slow paths on crafted
input), and raises :class:`~crmcore.errors.ValidationError` naming the field,
never repeating the value. Reprs are masked: they never show personal data.
"""

from __future__ import annotations

import enum
import json
import math
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, ClassVar, Final, Self, TypeAlias, TypeVar, cast

import attrs
import email_validator
import phonenumbers

from crmcore._caches import personal_cache
from crmcore._names import is_suffix, is_title, split_columns, split_words
from crmcore._validation import Problems
from crmcore.errors import ValidationError, join_path

__all__ = [
    "CURRENCIES",
    "ContactLabel",
    "CustomFields",
    "EmailAddress",
    "ExternalIds",
    "JSONValue",
    "Money",
    "PersonName",
    "PhoneKind",
    "PhoneNumber",
    "PostalAddress",
    "amount_digits",
    "clean_text",
    "mailbox_key",
    "normalize_tags",
]

# RFC 5321 caps a path at 256 octets, so 254 for the address itself; a little
# headroom for internationalised characters that email-validator measures in octets.
MAX_EMAIL_LENGTH = 320
MAX_PHONE_LENGTH = 64
MAX_NAME_PART_LENGTH = 200
MAX_TEXT_LENGTH = 1_000
MAX_TAG_LENGTH = 64
MAX_KEY_LENGTH = 64
MAX_CUSTOM_FIELDS_SIZE = 64_000
MAX_INT_BITS = 1_024
MAX_AMOUNT_DIGITS = 38
"""The most digits a :class:`Money` amount holds, before and after the point together.

As in SQL's ``DECIMAL(38, s)``: every amount a store accepts it can read back,
and its text form stays within the 64 characters the converter reads.
"""

_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def clean_text(value: object, field: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Return ``value`` trimmed, with runs of whitespace folded to one space.

    Raises ValidationError when it is not a string, is blank, is longer than
    ``max_length`` or holds control or format characters.
    """
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    if len(value) > max_length * 4:
        raise ValidationError(field, f"is longer than {max_length} characters")
    text = " ".join(value.split())
    if not text:
        raise ValidationError(field, "must not be blank")
    if len(text) > max_length:
        raise ValidationError(field, f"is longer than {max_length} characters")
    if not text.isprintable() and any(
        unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in text
    ):
        raise ValidationError(field, "contains control or format characters")
    return text


def check_unicode(text: str, field: str) -> str:
    """Refuse text holding a lone surrogate: no UTF-8 store or JSON document can hold it.

    Free text (notes, bodies, custom values) may hold control characters, but
    not this: the in-memory store would accept it and SQLite would not.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(field, "is not valid Unicode (a lone surrogate)") from None
    return text


def optional_text(value: object, field: str, *, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    """Like :func:`clean_text`, but ``None`` and blank text become ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return clean_text(value, field, max_length=max_length)


# --------------------------------------------------------------------------- email

# The trusted constructors fill a frozen instance's slots directly (module-level
# names: they run once for every email and phone a contact list holds).
_new = object.__new__
_set = object.__setattr__

_EMAIL_OPTIONS: dict[str, Any] = {
    # Every option is passed explicitly: email-validator reads module-level
    # defaults that the host app may have changed, and crmcore's behaviour must
    # not depend on them. Nothing here touches the network.
    "allow_smtputf8": True,
    "allow_empty_local": False,
    "allow_quoted_local": False,
    "allow_domain_literal": False,
    "allow_display_name": False,
    "check_deliverability": False,
    "test_environment": False,
    "globally_deliverable": True,
    "timeout": None,
    "dns_resolver": None,
}
if "strict" in (email_validator.validate_email.__kwdefaults__ or {}):  # email-validator >= 2.3
    _EMAIL_OPTIONS["strict"] = False

# email-validator refuses the domains in its module-level SPECIAL_USE_DOMAIN_NAMES
# list, which host apps edit (its README suggests removing "test" in test
# suites); crmcore checks its own copy of the shipped list so such edits cannot
# make it accept reserved domains.
_SPECIAL_USE_DOMAINS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


# An unquoted ASCII local part (RFC 5322 dot-atom), which email-validator keeps as it is.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def _validate_whole(address: str) -> tuple[str, str] | None:
    """``(normalized, match_key)`` of an address by email-validator alone, or ``None``."""
    try:
        valid = email_validator.validate_email(address, **_EMAIL_OPTIONS)
    except Exception:  # EmailNotValidError, and idna or unicodedata failures on exotic input
        return None
    domain = (valid.ascii_domain or valid.domain).lower()
    if domain.rpartition(".")[2] in _SPECIAL_USE_DOMAINS:
        return None
    return valid.normalized, f"{valid.local_part.casefold()}@{domain}"


# Registered with the personal-data caches: a domain can name a person
# (ada@lovelace.example), so clear_caches() forgets it with the rest.
@personal_cache(maxsize=8192)
def _domain_parts(domain: str) -> tuple[str, str] | None:
    """``(normalized domain, ASCII domain)`` as email-validator sees it, or ``None``."""
    found = _validate_whole(f"x@{domain}")
    return None if found is None else (found[0][2:], found[1][2:])


def _check_email_parts(normalized: object, match_key: object, field: str) -> None:
    """The parts of an address, checked as a store reads them back."""
    if not isinstance(normalized, str) or not isinstance(match_key, str):
        raise ValidationError(field, "must be text; EmailAddress.parse reads raw input")
    try:
        checked = EmailAddress.parse(normalized)
    except ValidationError:
        raise ValidationError(
            field, "is not a valid email address; EmailAddress.parse reads raw input"
        ) from None
    if (checked.normalized, checked.match_key) != (normalized, match_key):
        raise ValidationError(field, "is not in normalised form; build it with EmailAddress.parse")


_GMAIL: Final = frozenset({"gmail.com", "googlemail.com"})


def mailbox_key(match_key: str) -> str:
    """The mailbox key of an address's match key (see :attr:`EmailAddress.mailbox_key`)."""
    local, _, domain = match_key.rpartition("@")
    if not local:
        return match_key
    local = local.partition("+")[0] or local
    if domain in _GMAIL:
        domain = "gmail.com"
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


@attrs.frozen(repr=False, order=False)
class EmailAddress:
    """A syntactically valid email address.

    ``normalized`` is email-validator's normalised form (what ``str()`` gives);
    ``match_key`` is the whole address case-folded with the domain in its ASCII
    (IDNA) form, the key duplicate detection compares.

    Build one from raw input with :meth:`parse`. The constructor
    (``EmailAddress(normalized, match_key)``) checks that its parts are what
    :meth:`parse` makes of ``normalized``, so a value that was never validated
    cannot reach a store; :meth:`trusted` skips that check for parts that were.

    >>> EmailAddress.parse("  Ada.Lovelace@EXAMPLE.com ").match_key
    'ada.lovelace@example.com'
    """

    normalized: str
    match_key: str = attrs.field(eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        _check_email_parts(self.normalized, self.match_key, "email")

    @property
    def mailbox_key(self) -> str:
        """The key of the mailbox the address delivers to, for matching.

        The :attr:`match_key` without a ``+tag``, and for Gmail without dots
        and with googlemail.com as gmail.com: ``Ann.Lee+crm@googlemail.com``
        and ``annlee@gmail.com`` reach one person. Dots matter at every other
        domain. The stored address is untouched.

        >>> EmailAddress.parse("Ann.Lee+crm@googlemail.com").mailbox_key
        'annlee@gmail.com'
        """
        return mailbox_key(self.match_key)

    @classmethod
    def trusted(cls, normalized: str, match_key: str) -> EmailAddress:
        """Build from parts :meth:`parse` produced before, without checking them again.

        For code that has validated the address already: crmcore's own
        :meth:`parse`, and :mod:`crmcore.io`'s parallel parsing, which parses in
        worker processes and sends back the parts. Parts that did not come from
        :meth:`parse` make a value that a store may be unable to read back.
        """
        email = _new(cls)
        _set(email, "normalized", normalized)
        _set(email, "match_key", match_key)
        return email

    @classmethod
    def parse(cls, text: object, *, field: str = "email") -> EmailAddress:
        """Validate and normalise ``text``; raise ValidationError naming ``field``."""
        if isinstance(text, EmailAddress):
            return text
        if not isinstance(text, str):
            raise ValidationError(field, "must be text")
        if len(text) > MAX_EMAIL_LENGTH * 4:
            raise ValidationError(field, "is too long to be an email address")
        stripped = text.strip()
        if not stripped:
            raise ValidationError(field, "must not be blank")
        if len(stripped) > MAX_EMAIL_LENGTH:
            raise ValidationError(field, "is too long to be an email address")
        local, _, domain = stripped.rpartition("@")
        if len(local) <= 64 and len(stripped) <= 250 and _DOT_ATOM.fullmatch(local):
            # The common case, a plain ASCII local part, which email-validator
            # takes as it is: only the domain needs its work (most of its time),
            # and real lists repeat domains, so each is validated once.
            parts = _domain_parts(domain)
            if parts is None:
                raise ValidationError(field, "is not a valid email address")
            return cls.trusted(f"{local}@{parts[0]}", f"{local.lower()}@{parts[1]}")
        found = _validate_whole(stripped)
        if found is None:
            raise ValidationError(field, "is not a valid email address")
        return cls.trusted(*found)

    @property
    def local_part(self) -> str:
        """The part before the ``@``."""
        return self.normalized.rpartition("@")[0]

    @property
    def domain(self) -> str:
        """The domain, in ASCII (IDNA) form and lower case."""
        return self.match_key.rpartition("@")[2]

    def __str__(self) -> str:
        return self.normalized

    def __repr__(self) -> str:
        return "EmailAddress(<masked>)"


# --------------------------------------------------------------------------- phone


class PhoneKind(enum.Enum):
    """What kind of line a phone number is, from phonenumbers' metadata."""

    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"


_PHONE_KINDS = {
    phonenumbers.PhoneNumberType.MOBILE: PhoneKind.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE: PhoneKind.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: PhoneKind.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE: PhoneKind.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE: PhoneKind.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST: PhoneKind.SHARED_COST,
    phonenumbers.PhoneNumberType.VOIP: PhoneKind.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: PhoneKind.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.PAGER: PhoneKind.PAGER,
    phonenumbers.PhoneNumberType.UAN: PhoneKind.UAN,
    phonenumbers.PhoneNumberType.VOICEMAIL: PhoneKind.VOICEMAIL,
}

# A phone number as people type it: digits (any script phonenumbers folds),
# an optional leading +, separators, and an optional extension. Everything else
# (letters, ';', '=', ':' as in 'tel:1;phone-context=...') is refused before
# phonenumbers sees it.
_PHONE_SHAPE = re.compile(
    r"""
    [+\uff0b]?\s*
    [\d\s().\-/\u00a0\u2010-\u2015]*\d[\d\s().\-/\u00a0\u2010-\u2015]*
    # An extension: a short word ('ext.', 'extn', 'int.' as phonenumbers formats
    # Uruguay, 'anexo', 'доб') or '#', ',', '~', then its digits.
    (?:\s*(?:[^\W\d_]{1,12}\.?|[\#,~])\s*\d{1,10}\s*\#?)?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_SUPPORTED_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


def normalize_region(region: object, field: str = "region") -> str:
    """Return an ISO 3166 alpha-2 region code that phonenumbers knows, upper case."""
    if not isinstance(region, str) or len(region) != 2:
        raise ValidationError(field, "must be an ISO 3166 alpha-2 code such as 'SE'")
    code = region.upper()
    if code not in _SUPPORTED_REGIONS:
        raise ValidationError(field, "is not a region with known phone numbering")
    return code


_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_EXTENSION = re.compile(r"[0-9]{1,10}")


def _check_phone_parts(
    e164: object, extension: object, raw: object, field: str
) -> tuple[str, str | None, str | None]:
    """The parts of a stored number, checked as a store reads them back."""
    if not isinstance(e164, str) or not _E164.fullmatch(e164):
        raise ValidationError(join_path(field, "e164"), "is not an E.164 number")
    if extension is not None and (
        not isinstance(extension, str) or not _EXTENSION.fullmatch(extension)
    ):
        raise ValidationError(join_path(field, "extension"), "must be 1 to 10 digits")
    if raw is not None:
        if not isinstance(raw, str) or len(raw) > MAX_PHONE_LENGTH:
            raise ValidationError(join_path(field, "raw"), "must be text of at most 64 characters")
        # A lone surrogate: the in-memory store would keep it and SQLite would not.
        check_unicode(raw, join_path(field, "raw"))
    return e164, extension, raw


def recheck_email(email: EmailAddress, field: str) -> None:
    """Check an address as a store reads it back: it may have been built with ``trusted``.

    Raises:
        ValidationError: naming ``field`` when the parts are not what
            :meth:`EmailAddress.parse` makes of ``normalized``.
    """
    normalized, match_key = email.normalized, email.match_key
    if type(normalized) is str and type(match_key) is str:
        # parse's own fast path, without building a value: a store checks every
        # address of every record it writes. Anything else gets the full check.
        local, _, domain = normalized.rpartition("@")
        if len(local) <= 64 and len(normalized) <= 250 and _DOT_ATOM.fullmatch(local):
            parts = _domain_parts(domain)
            if (
                parts is not None
                and normalized == f"{local}@{parts[0]}"
                and match_key == f"{local.lower()}@{parts[1]}"
            ):
                return
    _check_email_parts(normalized, match_key, field)


def recheck_phone(phone: PhoneNumber, field: str) -> None:
    """Check a number as a store reads it back: it may have been built with ``trusted``.

    Raises:
        ValidationError: naming the part (``field.raw``, ...) that no store could read back.
    """
    _check_phone_parts(phone.e164, phone.extension, phone.raw, field)


def _tel_uri(text: str) -> str:
    # RFC 3966: "tel:" + number + ";param=value"...; only the extension is kept.
    number, *params = text[4:].split(";")
    extension = next((v for k, _, v in (p.partition("=") for p in params) if k == "ext"), "")
    return f"{number} ext. {extension}" if extension else number


@attrs.frozen(repr=False, order=False)
class PhoneNumber:
    """A possible phone number, kept in E.164 form with its extension.

    ``raw`` keeps the text as typed and takes no part in equality. ``region``,
    ``kind`` and ``is_valid`` are read from phonenumbers' metadata when first
    asked: they are informational, so a stored number is never refused later
    because the metadata changed.

    Build one from raw input with :meth:`parse`, or from stored parts with
    :meth:`from_e164`. The constructor (``PhoneNumber(e164, extension, raw)``)
    makes the same checks as :meth:`from_e164`, so a value that was never
    validated cannot reach a store; :meth:`trusted` skips them for parts that were.

    >>> PhoneNumber.parse("08-123 456 78", region="SE").e164
    '+46812345678'
    """

    e164: str
    extension: str | None = None
    raw: str | None = attrs.field(default=None, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        _check_phone_parts(self.e164, self.extension, self.raw, "phone")

    @classmethod
    def trusted(
        cls, e164: str, extension: str | None = None, raw: str | None = None
    ) -> PhoneNumber:
        """Build from parts :meth:`parse` or :meth:`from_e164` produced, without checking again.

        For code that has validated the number already: crmcore's own
        constructors, and :mod:`crmcore.io`'s parallel parsing, which parses in
        worker processes and sends back the parts. Parts that were not checked
        make a value that a store may be unable to read back.
        """
        phone = _new(cls)
        _set(phone, "e164", e164)
        _set(phone, "extension", extension)
        _set(phone, "raw", raw)
        return phone

    @classmethod
    def parse(cls, text: object, region: str | None = None, *, field: str = "phone") -> PhoneNumber:
        """Parse ``text``; ``region`` (ISO alpha-2) is needed unless it starts with ``+``.

        A ``tel:`` URI (RFC 3966: ``tel:+46-8-123-456-78;ext=12``) is read as
        the number it holds.
        """
        if isinstance(text, PhoneNumber):
            return text
        if not isinstance(text, str):
            raise ValidationError(field, "must be text")
        if len(text) > MAX_PHONE_LENGTH * 4:
            raise ValidationError(field, "is too long to be a phone number")
        stripped = text.strip()
        if not stripped:
            raise ValidationError(field, "must not be blank")
        if stripped[:4].casefold() == "tel:":
            stripped = _tel_uri(stripped)
        if len(stripped) > MAX_PHONE_LENGTH or not _PHONE_SHAPE.fullmatch(stripped):
            raise ValidationError(field, "is not a phone number")
        hint = None
        if region is not None:
            hint = normalize_region(region, f"{field}.region" if field else "region")
        if hint is None and not stripped.startswith(("+", "\uff0b")):
            raise ValidationError(field, "needs a region for numbers without a + prefix")
        try:
            number = phonenumbers.parse(stripped, hint)
        except phonenumbers.NumberParseException:
            raise ValidationError(field, "is not a phone number") from None
        if not phonenumbers.is_possible_number(number):
            raise ValidationError(field, "is not a possible phone number")
        # What format_number(..., E164) returns for a possible number, without its checks.
        e164 = f"+{number.country_code}{phonenumbers.national_significant_number(number)}"
        # phonenumbers keeps an extension's digits as typed ("١٢" stays Arabic-Indic).
        extension = phonenumbers.normalize_digits_only(number.extension or "") or None
        return cls.trusted(e164, extension, stripped)

    @classmethod
    def from_e164(
        cls, e164: object, *, extension: object = None, raw: object = None, field: str = "phone"
    ) -> PhoneNumber:
        """Rebuild a stored number, checking that ``e164`` really is E.164."""
        return cls.trusted(*_check_phone_parts(e164, extension, raw, field))

    @cached_property
    def _parsed(self) -> phonenumbers.PhoneNumber:
        number = phonenumbers.parse(self.e164, None)
        if self.extension:
            number.extension = self.extension
        return number

    @property
    def region(self) -> str | None:
        """The ISO alpha-2 region the number belongs to (``None`` for non-geographic)."""
        code = phonenumbers.region_code_for_number(self._parsed)
        return code if code and code != "001" else None

    @property
    def country_code(self) -> int:
        """The international calling code (46 for Sweden)."""
        return self._parsed.country_code or 0

    @property
    def national_number(self) -> str:
        """The national significant number: the digits after the country code."""
        return phonenumbers.national_significant_number(self._parsed)

    @property
    def kind(self) -> PhoneKind:
        """Mobile, fixed line, ...; ``UNKNOWN`` when the metadata cannot tell."""
        return _PHONE_KINDS.get(phonenumbers.number_type(self._parsed), PhoneKind.UNKNOWN)

    @property
    def is_valid(self) -> bool:
        """Whether the metadata knows the number as assigned (informational only)."""
        return bool(phonenumbers.is_valid_number(self._parsed))

    def format_international(self) -> str:
        """Format for dialling from abroad: ``+46 8 123 456 78``."""
        return self._format(phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    def format_national(self) -> str:
        """Format for dialling at home: ``08-123 456 78``."""
        return self._format(phonenumbers.PhoneNumberFormat.NATIONAL)

    def format_rfc3966(self) -> str:
        """Format as a ``tel:`` URI."""
        return self._format(phonenumbers.PhoneNumberFormat.RFC3966)

    def _format(self, fmt: int) -> str:
        return phonenumbers.format_number(self._parsed, fmt)

    def __str__(self) -> str:
        return f"{self.e164} ext. {self.extension}" if self.extension else self.e164

    def __repr__(self) -> str:
        return "PhoneNumber(<masked>)"


# --------------------------------------------------------------------------- names


def _is_clean_name_part(value: object) -> bool:
    # The common case, already-clean text, skips clean_text: isprintable()
    # rules out control characters and every whitespace but the ASCII space.
    return (
        type(value) is str
        and 0 < len(value) <= MAX_NAME_PART_LENGTH
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
        and "  " not in value
    )


def _name_part(value: object, field: str) -> str | None:
    return optional_text(value, field, max_length=MAX_NAME_PART_LENGTH)


@attrs.frozen(repr=False)
class PersonName:
    """A person's name in parts, any of which may be missing.

    A mononym has only ``given`` (or only ``family``). ``family_first`` records
    cultures that put the family name first (Chinese, Hungarian, Japanese,
    Korean, ...) so :attr:`full` renders in the person's own order.
    """

    given: str | None = None
    family: str | None = None
    middle: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    family_first: bool = False

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        for part in ("given", "family", "middle", "prefix", "suffix"):
            value = getattr(self, part)
            if value is None or _is_clean_name_part(value):
                continue
            try:
                cleaned = _name_part(value, part)
            except ValidationError as exc:
                problems.extend(exc.problems)
                continue
            if cleaned != value:
                object.__setattr__(self, part, cleaned)
        if not problems and self.given is None and self.family is None:
            problems.append(("given", "a name needs a given or a family name"))
        if problems:
            raise ValidationError(problems)

    @classmethod
    def parse(cls, text: object, *, field: str = "name") -> PersonName:
        """Split a full name as typed into parts.

        Leading titles and forms of address (``Dr.``, ``Mrs``, ``Herr``,
        ``Bapak``) fill ``prefix``; trailing generational and academic
        suffixes (``Jr.``, ``III``, ``PhD``, ``S.H.``) fill ``suffix``;
        particles (``van``, ``de la``, ``bin``) stay with the family name.
        ``"Family, Given Middle"`` is read family first, unless everything
        after the comma is a suffix (``"Budi Santoso, S.H."``). Otherwise the
        last word is the family name, the first the given name and any words
        between are middle names. One word is a mononym (given name only), and
        so is one word after an Indonesian form of address; after a Western
        title it is the family name (``"Mr Smith"``).
        """
        if isinstance(text, PersonName):
            return text
        cleaned = clean_text(text, field, max_length=MAX_NAME_PART_LENGTH * 2)
        suffix: list[str] = []
        if "," in cleaned:
            head, _, tail = cleaned.partition(",")
            rest = tail.replace(",", " ").split()
            if rest and all(is_suffix(w) for w in rest):
                # "Given Family, Jr." or "Budi Santoso, S.H., M.M.": suffixes, not a given name.
                suffix, cleaned = rest, head.strip()
            elif head.strip() and rest:
                titles: list[str] = []
                while len(rest) > 1 and is_title(rest[0]):
                    titles.append(rest.pop(0))
                return cls._built(
                    field,
                    prefix=" ".join(titles) or None,
                    given=rest[0],
                    middle=" ".join(rest[1:]) or None,
                    family=head.strip(),
                )
            else:
                cleaned = " ".join(cleaned.replace(",", " ").split())
        words = cleaned.split()
        if not words:  # only commas
            raise ValidationError(field, "must not be blank")
        parts = split_words(words)
        trailing = " ".join(w for w in (parts.suffix, *suffix) if w) or None
        return cls._built(
            field,
            prefix=parts.prefix,
            given=parts.given,
            middle=parts.middle,
            family=parts.family,
            suffix=trailing,
        )

    @classmethod
    def from_columns(
        cls, given: str | None, middle: str | None = None, family: str | None = None
    ) -> PersonName:
        """A name kept in columns, with titles and suffixes moved out of them.

        Exports put titles in the given-name column and suffixes in the
        family-name one: ``("Prof. Anna", None, "Berg, Jr.")`` is prefix
        ``Prof.``, given ``Anna``, family ``Berg`` and suffix ``Jr.``.
        Blank columns are missing parts.
        """
        parts = split_columns(given or None, middle or None, family or None)
        return cls(
            given=parts.given,
            family=parts.family,
            middle=parts.middle,
            prefix=parts.prefix,
            suffix=parts.suffix,
        )

    @classmethod
    def _built(
        cls,
        field: str,
        *,
        prefix: str | None = None,
        given: str | None = None,
        middle: str | None = None,
        family: str | None = None,
        suffix: str | None = None,
    ) -> PersonName:
        try:
            return cls(given=given, family=family, middle=middle, prefix=prefix, suffix=suffix)
        except ValidationError as exc:
            raise exc.prefixed(field) from None

    @property
    def full(self) -> str:
        """The whole name in the person's own order."""
        if self.family_first:
            core = [self.family, self.given, self.middle]
        else:
            core = [self.given, self.middle, self.family]
        return " ".join(p for p in (self.prefix, *core, self.suffix) if p)

    def __str__(self) -> str:
        return "PersonName(<masked>)"

    def __repr__(self) -> str:
        return "PersonName(<masked>)"


# --------------------------------------------------------------------------- addresses


class ContactLabel(enum.Enum):
    """What a contact point (email, phone, address) is used for."""

    WORK = "work"
    HOME = "home"
    MOBILE = "mobile"
    PERSONAL = "personal"
    MAIN = "main"
    BILLING = "billing"
    SHIPPING = "shipping"
    OTHER = "other"


def _country(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value):
        raise ValidationError(field, "must be an ISO 3166 alpha-2 code such as 'DE'")
    return value.upper()


@attrs.frozen(repr=False)
class PostalAddress:
    """A postal address; ``country`` is an ISO 3166 alpha-2 code."""

    lines: tuple[str, ...] = ()
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    label: ContactLabel = ContactLabel.OTHER

    def __attrs_post_init__(self) -> None:
        problems = Problems()
        cleaned_lines: list[str] = []
        if not isinstance(self.lines, tuple | list):
            problems.add("lines", "must be a sequence of text lines")
        else:
            for i, line in enumerate(self.lines):
                text = problems.value(optional_text, line, f"lines[{i}]")
                if text is not None:
                    cleaned_lines.append(text)
        object.__setattr__(self, "lines", tuple(cleaned_lines))
        for name, limit in (("locality", 200), ("region", 200), ("postal_code", 20)):
            problems.set(self, name, optional_text, getattr(self, name), name, max_length=limit)
        problems.set(self, "country", _country, self.country, "country")
        if not problems.found and not (self.lines or self.locality or self.postal_code):
            problems.add("lines", "an address needs lines, a locality or a postal code")
        problems.raise_if_any()

    def __repr__(self) -> str:
        return f"PostalAddress(<masked>, country={self.country!r})"


# --------------------------------------------------------------------------- money

CURRENCIES: Final[frozenset[str]] = frozenset(
    (
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XCD",
        "XCG",
        "XDR",
        "XOF",
        "XPD",
        "XPF",
        "XPT",
        "XSU",
        "XUA",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    )
)
"""The active ISO 4217 currency codes (list one, with the funds and precious metals).

Withdrawn codes (``HRK``, ``ZWL``, ``CUC``, ``SLL``) and the codes reserved for
tests and "no currency" (``XTS``, ``XXX``) are not money an app can be owed.
"""


def amount_digits(amount: Decimal) -> int:
    """How many digits ``amount`` (finite) has written out: before and after the point."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:  # 12E+3 is 12000
        return len(digits) + exponent
    return max(len(digits), -exponent)  # 1.25 has three digits, 0.005 three


_AMOUNT_TOO_LONG = f"must have at most {MAX_AMOUNT_DIGITS} digits"
_AMOUNT_LIMIT = 10**MAX_AMOUNT_DIGITS


@attrs.frozen
class Money:
    """An amount in an ISO 4217 currency; never a float.

    The amount has at most :data:`MAX_AMOUNT_DIGITS` (38) digits, counting
    those before and after the decimal point (``0.005`` has three).
    """

    amount: Decimal
    currency: str

    def __attrs_post_init__(self) -> None:
        problems = []
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            problems.append(("amount", "must be a finite decimal"))
        elif amount_digits(self.amount) > MAX_AMOUNT_DIGITS:
            # No store could read back the text of 10**70 (and the converter
            # reads at most 64 characters of a decimal).
            problems.append(("amount", _AMOUNT_TOO_LONG))
        if not isinstance(self.currency, str) or self.currency not in CURRENCIES:
            problems.append(("currency", "must be an active ISO 4217 code such as 'EUR'"))
        if problems:
            raise ValidationError(problems)

    @classmethod
    def of(cls, amount: object, currency: object, *, field: str = "") -> Money:
        """Build from a decimal, an int or a decimal string (floats are refused)."""
        if isinstance(amount, (bool, float)):
            raise ValidationError(
                f"{field}.amount" if field else "amount", "must be a Decimal, int or decimal string"
            )
        if isinstance(amount, int) and not -_AMOUNT_LIMIT < amount < _AMOUNT_LIMIT:
            # Before converting: Decimal() of an int with a million digits takes seconds.
            raise ValidationError(f"{field}.amount" if field else "amount", _AMOUNT_TOO_LONG)
        try:
            value = Decimal(amount) if isinstance(amount, int | str) else amount
            if isinstance(amount, str) and len(amount) > 64:
                raise InvalidOperation
        except InvalidOperation:
            raise ValidationError(
                f"{field}.amount" if field else "amount", "is not a decimal number"
            ) from None
        code = currency.upper() if isinstance(currency, str) else currency
        try:
            return cls(cast(Decimal, value), cast(str, code))
        except ValidationError as exc:
            raise exc.prefixed(field) from None

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


# --------------------------------------------------------------------------- tags, maps


def normalize_tags(tags: Iterable[object], field: str = "tags") -> frozenset[str]:
    """Return tags trimmed, whitespace-folded and case-folded, as a frozenset.

    One string counts as one tag (``tags="vip"``), as one email or phone does
    for ``emails`` and ``phones``: never as a collection of characters.
    """
    if isinstance(tags, str):
        tags = (tags,)
    elif not isinstance(tags, Iterable):
        raise ValidationError(field, "must be a collection of tags")
    result = set()
    problems: list[tuple[str, str]] = []
    for i, tag in enumerate(tags):
        try:
            # Fold case before the length check: case-folding can lengthen a tag
            # ("ß" -> "ss"), and a stored tag must pass this function again.
            folded = tag.casefold() if isinstance(tag, str) else tag
            result.add(clean_text(folded, f"{field}[{i}]", max_length=MAX_TAG_LENGTH))
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return frozenset(result)


JSONValue: TypeAlias = (
    "bool | int | float | str | tuple[JSONValue, ...] | Mapping[str, JSONValue] | None"
)
"""A JSON-compatible value; lists are kept as tuples and objects as read-only maps."""


def _freeze_json(value: object, field: str, depth: int = 0) -> JSONValue:
    if depth > 16:
        raise ValidationError(field, "is nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_unicode(value, field)
    if isinstance(value, int):
        # Python refuses to turn an int of over 4,300 digits into text (a ValueError
        # from json.dumps); nothing sensible in a custom field comes near this.
        if value.bit_length() > MAX_INT_BITS:
            raise ValidationError(field, "is too large a number")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(field, "must be a finite number")
        return value
    if isinstance(value, list | tuple):
        return tuple(_freeze_json(v, f"{field}[{i}]", depth + 1) for i, v in enumerate(value))
    if isinstance(value, Mapping):
        return CustomFields._build(value, field, depth + 1)
    raise ValidationError(field, "must be a JSON value (null, bool, number, text, list, object)")


def _thaw_json(value: JSONValue) -> object:
    if isinstance(value, tuple):
        return [_thaw_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _thaw_json(v) for k, v in value.items()}
    return value


class _FrozenMap(Mapping[str, Any], Hashable):
    """A read-only, hashable mapping with text keys, sorted by key."""

    __slots__ = ("_data", "_hash")
    _data: dict[str, Any]
    EMPTY: ClassVar[Self]
    """The empty mapping, shared (it is immutable)."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        built = type(self)._build(data or {}, "", 0)
        self._data = built._data
        self._hash: int | None = None

    _NAME: ClassVar[str] = ""

    @classmethod
    def parse(cls, data: object, *, field: str | None = None) -> Self:
        """Validate ``data`` (a mapping); problems are reported under ``field``.

        ``field`` defaults to the entity field's name (``custom_fields`` or
        ``identifiers``); ``""`` reports paths relative to the mapping itself.
        """
        return cast(Self, cls._build(data, cls._NAME if field is None else field, 0))

    @classmethod
    def _build(cls, data: object, field: str, depth: int) -> Any:
        raise NotImplementedError

    @classmethod
    def _from_checked(cls, data: dict[str, Any]) -> Any:
        instance = cls.__new__(cls)
        instance._data = dict(sorted(data.items()))
        instance._hash = None
        return instance

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{len(self._data)} masked>)"

    def to_dict(self) -> dict[str, Any]:
        """Return a plain, mutable ``dict`` copy (nested values thawed to lists and dicts)."""
        return {k: _thaw_json(v) for k, v in self._data.items()}


def _check_key(key: object, field: str) -> str:
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", key):
        raise ValidationError(
            field, "keys must be 1 to 64 characters of letters, digits and _ . : -"
        )
    return key


V = TypeVar("V")


def _checked_items(data: object, field: str, check: Callable[[object, str], V]) -> dict[str, V]:
    """``data``'s items, keys checked and values as ``check(value, path)`` returns them."""
    if not isinstance(data, Mapping):
        raise ValidationError(field, "must be a mapping")
    result: dict[str, V] = {}
    problems: list[tuple[str, str]] = []
    for position, (key, value) in enumerate(data.items(), start=1):
        try:
            name = _check_key(key, field)
            # An entry is named by its position, never by its key: the keys of a
            # free-form map are data too (a surname, a phone number).
            entry = f"#{position}"
            result[name] = check(value, f"{field}.{entry}" if field else entry)
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return result


class CustomFields(_FrozenMap):
    """App-defined fields: a read-only mapping of text keys to JSON-compatible values."""

    __slots__ = ()
    _NAME = "custom_fields"

    @classmethod
    def _build(cls, data: object, field: str, depth: int) -> CustomFields:
        if isinstance(data, CustomFields):
            return data
        result = _checked_items(data, field, lambda value, path: _freeze_json(value, path, depth))
        if depth == 0 and result and len(json.dumps(_thaw_json(result))) > MAX_CUSTOM_FIELDS_SIZE:
            raise ValidationError(field, "is larger than 64 kB")
        return cast(CustomFields, cls._from_checked(result))


class ExternalIds(_FrozenMap):
    """Identifiers of a record in other systems: scheme -> value (``{"vat": "SE556..."}``)."""

    __slots__ = ()
    _NAME = "identifiers"

    @classmethod
    def _build(cls, data: object, field: str, depth: int) -> ExternalIds:
        if isinstance(data, ExternalIds):
            return data
        result = _checked_items(
            data, field, lambda value, path: clean_text(value, path, max_length=200)
        )
        return cast(ExternalIds, cls._from_checked(result))


CustomFields.EMPTY = CustomFields()
ExternalIds.EMPTY = ExternalIds()
