"""Match keys: normalisation for matching only (stored values stay as entered).

Every function here is pure, idempotent on its own output and cached on the
distinct values it sees, so that a batch of 150,000 records pays for each
distinct name, email or phone number once. The caches over such values are
bounded and :func:`clear_caches` empties them (erasing a person must not leave
their name in a process-wide cache).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, TypeVar

import attrs
import phonenumbers
from anyascii import anyascii

from crmcore._caches import clear_all, personal_cache
from crmcore.errors import ValidationError
from crmcore.values import EmailAddress, PersonName, PhoneNumber, mailbox_key

if TYPE_CHECKING:
    from functools import _lru_cache_wrapper

__all__ = [
    "ROLE_MAILBOXES",
    "NicknameTable",
    "clear_caches",
    "consonant_skeleton",
    "email_match_key",
    "fold",
    "free_email_domains",
    "is_role_mailbox",
    "modern_spelling",
    "name_tokens",
    "organization_domain",
    "organization_key",
    "person_name_key",
    "phone_match_keys",
    "phonetic_key",
    "written_without_vowels",
]

_CACHE = 1 << 18

R = TypeVar("R")


def value_cache(function: Callable[..., R]) -> _lru_cache_wrapper[R]:
    """Cache ``function`` on the values it sees (names, addresses...), bounded and clearable."""
    return personal_cache(_CACHE)(function)


def clear_caches() -> None:
    """Empty every process-wide cache over personal data.

    The match keys of names, emails, phones and addresses, the names every
    living :class:`~crmcore.dedup.PersonNameRule` has prepared (the default rule
    set's included), and the email domains :meth:`crmcore.EmailAddress.parse`
    has validated.
    """
    clear_all()


def _word_list(name: str) -> frozenset[str]:
    text = resources.files("crmcore.dedup").joinpath("data", name).read_text("utf-8")
    return frozenset(
        w for line in text.splitlines() if not line.startswith("#") for w in line.split()
    )


# Letters that Unicode decomposition does not reduce to a base letter plus marks.
_SPECIAL_LETTERS = str.maketrans(
    {"æ": "ae", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "œ": "oe", "\u0131": "i"}
)
# German digraphs written for umlauts (Mueller for Müller): collapsed after a
# consonant so that Müller, Muller and Mueller share one key. Not at the end of
# a word, before a final "l" or before "y", where the "e" is its own vowel:
# Joe, Zoe, Chloe, Michael, Manuel, Samuel, Noel, Joey.
_DIGRAPHS = re.compile(r"(?<=[bcdfghjklmnpqrstvwxz])([aou])e+(?=[a-km-xz]|l[a-z])")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_APOSTROPHES = re.compile(r"['\u2019\u02bc`]")


@value_cache
def fold(text: str) -> str:
    """Fold ``text`` for comparison: NFKC, case-folded, diacritics removed, other scripts
    transliterated (anyascii), spaces squeezed.

    >>> fold("  Åsa  MÜLLER ")
    'asa muller'
    >>> fold("Владимир Путин")
    'vladimir putin'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    # Special letters are replaced after decomposition: "ǽ" decomposes to "æ" + accent.
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.translate(_SPECIAL_LETTERS)
    if not stripped.isascii():
        # Other scripts are transliterated (Владимир -> vladimir, 王伟 -> wangwei),
        # so that names in them compare at all instead of folding to nothing.
        stripped = anyascii(stripped).casefold()
    return " ".join(stripped.split())


@value_cache
def _name_words(text: str) -> tuple[str, ...]:
    folded = _APOSTROPHES.sub("", fold(text))
    folded = _DIGRAPHS.sub(r"\1", folded)
    return tuple(w for w in _NON_ALNUM.split(folded) if w)


_ABJADS = ("ARABIC", "HEBREW", "SYRIAC", "THAANA")
_SKELETON_DROPS = re.compile(r"[aeiouwy]+|h$")
_REPEATS = re.compile(r"(.)\1+")


@value_cache
def written_without_vowels(text: str) -> bool:
    """Whether ``text`` is in a script that leaves out most vowels (Arabic, Hebrew, ...).

    Transliterated, such a name keeps only its consonants (محمد -> "mhmd"), so
    it is compared with a Latin spelling by :func:`consonant_skeleton`.
    """
    return any(
        not c.isascii() and c.isalpha() and unicodedata.name(c, "").startswith(_ABJADS)
        for c in text
    )


def consonant_skeleton(token: str) -> str:
    """A folded name token without vowels, semivowels, a final h and doubled letters.

    "muhammad" and "mhmd" (محمد transliterated) are both "mhmd"; "yusuf" and
    "ywsf" are "sf"; "fatimah" and "ftmh" are "ftm".
    """
    return _REPEATS.sub(r"\1", _SKELETON_DROPS.sub("", token))


# The Indonesian spelling before 1972 (Van Ophuijsen and Soewandi): oe for u,
# dj for j, tj for c, nj and sj for ny and sy, and j for y after a consonant.
# Soekarno is Sukarno, Djoko is Joko, Tjahjono is Cahyono. The old ch for kh is
# left out: it would make Chan and Khan one family name.
_OLD_SPELLING = re.compile(r"oe|dj|tj|nj|sj|(?<=[bcdfghklmnprstvwz])j")
_MODERN = {"oe": "u", "dj": "j", "tj": "c", "nj": "ny", "sj": "sy", "j": "y"}


@value_cache
def modern_spelling(token: str) -> str:
    """A folded name token in today's Indonesian spelling, if it has old-spelling letters.

    >>> modern_spelling("soekarno"), modern_spelling("tjahjono"), modern_spelling("anna")
    ('sukarno', 'cahyono', 'anna')
    """
    return _OLD_SPELLING.sub(lambda m: _MODERN[m.group()], token)


def name_tokens(text: str | None) -> tuple[str, ...]:
    """The words of a name part, folded, with hyphens and punctuation as word breaks.

    >>> name_tokens("Mueller-Lüdenscheidt")
    ('muller', 'ludenscheidt')
    """
    if not text:
        return ()
    return _name_words(text)


# --------------------------------------------------------------------------- nicknames


@attrs.frozen(repr=False)
class NicknameTable:
    """Given-name variants that one person goes by (Bob ~ Robert, Liz ~ Elizabeth).

    Each variant belongs to the groups of the names it is a variant of; two
    names are equivalent when one is the other or a variant of it. The default
    table ships with crmcore as ``crmcore/dedup/data/nicknames.csv``
    (``name,variant`` rows); extend it with :meth:`extended` or load your own
    with :meth:`from_csv`.
    """

    groups: Mapping[str, frozenset[str]] = attrs.field(factory=dict)

    @classmethod
    def default(cls) -> NicknameTable:
        """The table shipped with crmcore."""
        return _default_nicknames()

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> NicknameTable:
        """A table from ``(name, variant)`` pairs."""
        return cls().extended(pairs)

    @classmethod
    def from_csv(cls, text: str) -> NicknameTable:
        """A table from CSV text with ``name,variant`` rows (``#`` starts a comment line).

        Raises:
            ValidationError: ``text`` is not a string, is not CSV, or has a row
                without both a name and a variant (the message gives its line
                number, never its content).
        """
        if not isinstance(text, str):
            raise ValidationError("text", "must be CSV text (read the file first)")
        kept = [
            (number, line)
            for number, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.startswith("#")
        ]
        reader = csv.reader(io.StringIO("\n".join(line for _, line in kept)))
        rows: list[tuple[int, list[str]]] = []
        try:
            for row in reader:
                rows.append((kept[reader.line_num - 1][0], row))
        except csv.Error:
            raise ValidationError("text", "is not valid CSV") from None
        if rows and [c.strip().lower() for c in rows[0][1][:2]] == ["name", "variant"]:
            rows = rows[1:]
        # A file of the wrong shape must not load quietly as an empty table.
        for number, row in rows:
            if len(row) < 2:
                raise ValidationError("text", f"line {number} needs a name and a variant")
        return cls.from_pairs((r[0], r[1]) for _, r in rows)

    def extended(self, pairs: Iterable[tuple[str, str]]) -> NicknameTable:
        """A copy of this table with more ``(name, variant)`` pairs.

        Raises:
            ValidationError: a pair is not two strings (the path names which).
        """
        if isinstance(pairs, str) or not isinstance(pairs, Iterable):
            raise ValidationError("pairs", "must be (name, variant) pairs")
        groups = {k: set(v) for k, v in self.groups.items()}
        for i, pair in enumerate(pairs):
            if (
                not isinstance(pair, tuple | list)
                or len(pair) != 2
                or not all(isinstance(p, str) for p in pair)
            ):
                raise ValidationError(f"pairs[{i}]", "must be a (name, variant) pair of strings")
            name, variant = pair
            head = _one_word(name)
            other = _one_word(variant)
            if not head or not other:
                continue
            groups.setdefault(head, set()).add(head)
            groups.setdefault(other, set()).add(head)
        return NicknameTable({k: frozenset(v) for k, v in groups.items()})

    def canonical(self, token: str) -> frozenset[str]:
        """The groups of a folded given-name token (the token itself when it has none)."""
        return self.groups.get(token) or frozenset((token,))

    def equivalent(self, a: str, b: str) -> bool:
        """Whether two given names are the same name, or one is a variant of the other.

        Two variants of one name are not equivalent to each other: "Chris" and
        "Tina" are both short for Christine, but are mostly two people.
        """
        ta, tb = _one_word(a), _one_word(b)
        return variants(ta, tb, self.canonical(ta), self.canonical(tb))

    def __repr__(self) -> str:
        return f"NicknameTable({len(self.groups)} names)"


def variants(a: str, b: str, groups_a: frozenset[str], groups_b: frozenset[str]) -> bool:
    """Whether folded given names ``a`` and ``b`` are one name: equal, or one a variant of
    the other (its name is among the other's groups, :meth:`NicknameTable.canonical`)."""
    return a == b or a in groups_b or b in groups_a


def _one_word(text: str) -> str:
    return "".join(name_tokens(text))


@lru_cache(maxsize=1)
def _default_nicknames() -> NicknameTable:
    text = resources.files("crmcore.dedup").joinpath("data/nicknames.csv").read_text("utf-8")
    return NicknameTable.from_csv(text)


# --------------------------------------------------------------------------- phonetics

_SOUNDEX = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556")


@value_cache
def phonetic_key(token: str) -> str:
    """A Soundex-style code of a folded word, for blocking names that sound alike.

    >>> phonetic_key("meyer") == phonetic_key("maier")
    True
    """
    word = "".join(name_tokens(token))
    if not word:
        return ""
    if not word.isalpha():
        return word
    codes = word.translate(_SOUNDEX)
    out = [word[0]]
    last = codes[0]
    for letter, code in zip(word[1:], codes[1:], strict=True):
        if code.isdigit():
            if code != last:
                out.append(code)
            last = code
        elif letter not in "hw":  # h and w do not separate equal codes, vowels do
            last = ""
    return "".join(out)[:4].ljust(4, "0")


# --------------------------------------------------------------------------- person names


def person_name_key(name: PersonName | str | None, nicknames: NicknameTable | None = None) -> str:
    """An order-free key of a whole name: nicknames resolved, words sorted.

    Equal for "Bob Müller" and "Mueller, Robert".

    Raises:
        ValidationError: ``name`` or ``nicknames`` is of the wrong kind.
    """
    if nicknames is not None and not isinstance(nicknames, NicknameTable):
        raise ValidationError("nicknames", "must be a NicknameTable")
    if name is None:
        return ""
    if not isinstance(name, str | PersonName):
        raise ValidationError("name", "must be a PersonName or a string")
    table = nicknames or NicknameTable.default()
    if isinstance(name, str):
        words = name_tokens(name)
    else:
        words = (*name_tokens(name.given), *name_tokens(name.middle), *name_tokens(name.family))
    return " ".join(sorted(min(table.canonical(w)) for w in words))


# --------------------------------------------------------------------------- emails

_LOCAL_WORDS = re.compile(r"[._\-]")

ROLE_MAILBOXES = _word_list("role_mailboxes.txt")
"""Local parts of shared mailboxes (info, sales, familie, ...), from ``data/role_mailboxes.txt``."""


def email_match_key(email: EmailAddress | str, *, provider_rules: bool = False) -> str:
    """The key two email addresses of one mailbox share.

    Without ``provider_rules`` (the default) the key is the address case-folded
    with its domain in ASCII form, exactly :attr:`EmailAddress.match_key`:
    ``a.b+news@x.com`` and ``ab@x.com`` stay different, because most mail
    servers deliver them to different people. With ``provider_rules=True``,
    a ``+tag`` is dropped for every domain, dots are ignored in Gmail
    addresses and googlemail.com counts as gmail.com.

    Raises:
        ValidationError: ``email`` is neither an EmailAddress nor a string.
    """
    if not isinstance(email, str | EmailAddress):
        raise ValidationError("email", "must be an EmailAddress or a string")
    base = email.match_key if isinstance(email, EmailAddress) else _plain_email_key(email)
    return mailbox_key(base) if provider_rules else base


@value_cache
def _plain_email_key(text: str) -> str:
    local, _, domain = text.strip().rpartition("@")
    return f"{local.casefold()}@{domain.lower()}" if local else text.strip().casefold()


def is_role_mailbox(email: EmailAddress | str) -> bool:
    """Whether the address is a shared role mailbox (info@, sales@, ...)."""
    key = email_match_key(email)
    local = key.rpartition("@")[0].partition("+")[0]
    # "familie.schleich@" and "info-berlin@" are shared as much as "info@".
    return local in ROLE_MAILBOXES or _LOCAL_WORDS.split(local, 1)[0] in ROLE_MAILBOXES


@lru_cache(maxsize=1)
def free_email_domains() -> frozenset[str]:
    """Free-mail and ISP domains shipped with crmcore (``data/free_email_domains.txt``)."""
    text = resources.files("crmcore.dedup").joinpath("data/free_email_domains.txt")
    lines = text.read_text("utf-8").splitlines()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


def organization_domain(email: EmailAddress | str) -> str | None:
    """The domain of an address when it can name an organisation (never a free-mail one)."""
    domain = email_match_key(email).rpartition("@")[2]
    if not domain or domain in free_email_domains():
        return None
    return domain


# --------------------------------------------------------------------------- phones


def _country_codes() -> frozenset[str]:
    return frozenset(str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


_COUNTRY_CODES = _country_codes()


@value_cache
def _split_e164(e164: str) -> tuple[str, str]:
    digits = e164.lstrip("+")
    # Country calling codes are prefix-free, so the first known prefix is the code.
    for size in (1, 2, 3):
        if digits[:size] in _COUNTRY_CODES:
            return digits[:size], digits[size:]
    return "", digits


def phone_match_keys(phone: PhoneNumber | str) -> tuple[str, str]:
    """The E.164 form and the national significant number of a phone number.

    The second key lets a number typed with the wrong country still meet its
    twin. Extensions are left out: a switchboard and its extensions share a line.

    >>> phone_match_keys(PhoneNumber.parse("08-123 456 78", region="SE"))
    ('+46812345678', '812345678')

    Raises:
        ValidationError: ``phone`` is neither a PhoneNumber nor a string.
    """
    if not isinstance(phone, str | PhoneNumber):
        raise ValidationError("phone", "must be a PhoneNumber or a string")
    e164 = phone.e164 if isinstance(phone, PhoneNumber) else phone
    return e164, _split_e164(e164)[1]


# --------------------------------------------------------------------------- organisations

# Legal forms as words after folding and dropping dots (so "B.V." is "bv").
_LEGAL_FORMS = _word_list("legal_forms.txt")
_CONNECTIVES = frozenset({"and", "und", "u", "och", "og", "en", "et", "dan", "y", "e", "the"})


def organization_key(name: str) -> str:
    """A company name without legal forms, connectives, punctuation or case.

    >>> organization_key("PT Maju Jaya Tbk.") == organization_key("maju jaya")
    True
    >>> organization_key("Müller & Söhne GmbH & Co. KG") == organization_key("Mueller und Sohne")
    True

    Raises:
        ValidationError: ``name`` is not a string.
    """
    # Checked outside the cache: an unhashable argument fails inside lru_cache.
    if not isinstance(name, str):
        raise ValidationError("name", "must be a string")
    return _organization_key(name)


@value_cache
def _organization_key(name: str) -> str:
    text = fold(name).replace("&", " and ").replace(".", "")
    words = [w for w in _NON_ALNUM.split(_DIGRAPHS.sub(r"\1", text)) if w]
    core = [w for w in words if w not in _CONNECTIVES]
    # Legal forms are dropped from both ends (PT ... Tbk), never from the middle,
    # and never when nothing else is left ("AB" alone stays a name). A form may
    # be written in parts ("B. V.", "A/S", "Sp. z o.o."): up to four words at an
    # end that join into a form are one.
    while (size := _legal_form_at(core, end=True)) and len(core) > size:
        del core[-size:]
    while (size := _legal_form_at(core, end=False)) and len(core) > size:
        del core[:size]
    return " ".join(core)


def _legal_form_at(words: list[str], *, end: bool) -> int:
    for size in range(min(4, len(words)), 0, -1):
        part = words[-size:] if end else words[:size]
        if "".join(part) in _LEGAL_FORMS:
            return size
    return 0
