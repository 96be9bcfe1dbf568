"""Matching rules: blocking keys and field comparisons that explain themselves.

A rule answers two questions about records: which *blocking keys* a record
has (records that share no key are never compared) and what comparing one
field of two records says (:class:`~crmcore.dedup.Evidence`: a similarity
``score`` in [0, 1], a ``weight`` in bits of log-odds, Fellegi-Sunter style,
and the method used). A :class:`RuleSet` adds the weights of its rules to a
prior, turns the sum into a match probability and applies its boolean clauses
and thresholds.

The built-in rules share a faster path: :meth:`FieldRule.prepare` reduces a
record to the few normalised values the rule reads (cached per distinct value),
and :meth:`FieldRule.weigh` compares two prepared values without building
objects. User rules only need :class:`Rule`'s two methods.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, runtime_checkable

import attrs
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein

from crmcore._caches import track
from crmcore._names import generation
from crmcore.dedup._rules_data import rules_from_dict, rules_to_dict
from crmcore.dedup.normalize import (
    NicknameTable,
    consonant_skeleton,
    email_match_key,
    fold,
    is_role_mailbox,
    modern_spelling,
    name_tokens,
    organization_domain,
    organization_key,
    phone_match_keys,
    phonetic_key,
    value_cache,
    variants,
    written_without_vowels,
)
from crmcore.dedup.records import MatchRecord, RecordType
from crmcore.dedup.results import Decision, Evidence
from crmcore.errors import ValidationError
from crmcore.values import PhoneNumber, PostalAddress

__all__ = [
    "AddressRule",
    "BirthDateRule",
    "Clause",
    "EmailDomainRule",
    "EmailRule",
    "FieldRule",
    "IdentifierRule",
    "OrganizationNameRule",
    "PersonNameRule",
    "PhoneRule",
    "Rule",
    "RuleSet",
    "default_rules",
]

F = TypeVar("F")

# A comparison on the fast path: (score, weight, method).
Weighed = tuple[float, float, str]
# How many records share a blocking key (1 when unknown); lets a rule discount
# a contact point that many different records share.
Frequency = Callable[[str], int]


def _no_frequency(_key: str) -> int:
    return 1


@runtime_checkable
class Rule(Protocol):
    """What a matching rule provides: a name, blocking keys and a comparison.

    ``compare`` returns ``None`` when either record lacks the field: a blank
    field is no evidence either way. Keys should be selective (a key shared by
    thousands of records is capped by the engine) and should start with the
    rule's name so that keys of different rules never collide.
    """

    name: str

    def blocking_keys(self, record: MatchRecord) -> Iterable[str]:
        """The keys under which ``record`` is filed for candidate generation."""
        ...

    def compare(self, a: MatchRecord, b: MatchRecord) -> Evidence | None:
        """What this rule's field says about ``a`` and ``b`` being one entity."""
        ...


class FieldRule(Generic[F]):
    """Base of the built-in rules: prepare a record once, weigh prepared values fast.

    Subclasses set ``name`` and ``field`` and implement :meth:`prepare`,
    :meth:`keys` and :meth:`weigh`; ``blocking_keys`` and ``compare`` follow.
    """

    name: str = ""
    field: str = ""
    shared: bool = False
    """Whether several different people can hold the field's value (a phone, a mailbox)."""

    def __attrs_post_init__(self) -> None:
        # Weights are read in the hot loop: a text or NaN weight given here would
        # otherwise fail (or silently poison every score) in the middle of a run.
        for spec in attrs.fields(type(self)):  # type: ignore[arg-type]
            if spec.type not in (float, "float"):
                continue
            value = getattr(self, spec.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(spec.name, "must be a number")
            if not math.isfinite(value):
                raise ValidationError(spec.name, "must be a finite number")
            setattr(self, spec.name, float(value))

    @property
    def max_weight(self) -> float:
        """An upper bound of the weights :meth:`weigh` returns (lets the engine stop early)."""
        return math.inf

    def prepare(self, record: MatchRecord) -> F | None:
        """The normalised values this rule reads, or ``None`` when the field is blank."""
        raise NotImplementedError

    def keys(self, features: F) -> Iterable[str]:
        """Blocking keys of prepared values."""
        return ()

    def weigh(self, a: F, b: F, frequency: Frequency = _no_frequency) -> Weighed:
        """Compare two prepared values: ``(score, weight, method)``."""
        raise NotImplementedError

    def blocking_keys(self, record: MatchRecord) -> Iterable[str]:
        """The keys under which ``record`` is filed for candidate generation."""
        features = self.prepare(record)
        return () if features is None else self.keys(features)

    def compare(self, a: MatchRecord, b: MatchRecord) -> Evidence | None:
        """What this rule's field says about ``a`` and ``b`` being one entity."""
        fa, fb = self.prepare(a), self.prepare(b)
        if fa is None or fb is None:
            return None
        score, weight, method = self.weigh(fa, fb)
        return Evidence(self.name, self.field, method, round(score, 4), round(weight, 3))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _jw(a: str, b: str) -> float:
    return JaroWinkler.normalized_similarity(a, b)


def _one_letter_typo(a: str, b: str) -> bool:
    # Digits and separators in a mailbox name tell people apart (johnr9@ is not
    # johnr@, a.b@ is not a_b@ nor ab@); a slipped letter is a typo.
    if Levenshtein.distance(a, b, score_cutoff=1) > 1:
        return False
    if _MAILBOX_MARKS.sub("", a) == _MAILBOX_MARKS.sub("", b):
        return False
    return [c for c in a if c.isdigit()] == [c for c in b if c.isdigit()]


_MAILBOX_MARKS = re.compile(r"[._\-+0-9]")


def _shared_discount(frequency: Frequency, key: str) -> float:
    # Term-frequency adjustment: a value on k records is k/2 times less telling
    # than one on exactly the pair being compared.
    count = frequency(key)
    return math.log2(count / 2) if count > 2 else 0.0


# --------------------------------------------------------------------------- email


@attrs.define(repr=False)
class EmailRule(FieldRule[frozenset[str]]):
    """Email addresses: any shared mailbox is strong evidence, unless it is a shared one.

    Role mailboxes (info@, sales@, ...) and addresses many records share weigh
    little: several different people behind one mailbox must not merge on it
    alone. Addresses are compared by mailbox (``provider_rules``, on by
    default): a ``+tag`` is dropped, and Gmail's dots and googlemail.com are
    ignored (see :func:`~crmcore.dedup.normalize.email_match_key`).
    """

    name: str = "email"
    field: str = "emails"
    agree: float = 13.0
    role_agree: float = 3.0
    near: float = 3.0
    disagree: float = -1.0
    provider_rules: bool = True
    shared: bool = True

    @property
    def max_weight(self) -> float:
        """The weight of a shared personal mailbox."""
        return max(self.agree, self.role_agree, self.near, self.disagree)

    def prepare(self, record: MatchRecord) -> frozenset[str] | None:
        """The match keys of the record's addresses."""
        if not record.emails:
            return None
        # A shared mailbox keeps its exact key, so that it is still recognised
        # as one: without Gmail's dots "familie.berg@" would read as a person's.
        return frozenset(
            email_match_key(e, provider_rules=self.provider_rules and not is_role_mailbox(e))
            for e in record.emails
        )

    def keys(self, features: frozenset[str]) -> Iterable[str]:
        """One key per address."""
        return [f"{self.name}:{k}" for k in features]

    def weigh(
        self, a: frozenset[str], b: frozenset[str], frequency: Frequency = _no_frequency
    ) -> Weighed:
        """Shared address, a one-typo local part at the same domain, or different."""
        shared = a & b
        if shared:
            best = -math.inf
            for key in shared:
                base = self.role_agree if is_role_mailbox(key) else self.agree
                best = max(best, base - _shared_discount(frequency, f"{self.name}:{key}"))
            return 1.0, max(best, self.role_agree), "exact"
        for x in a:
            lx, _, dx = x.rpartition("@")
            for y in b:
                ly, _, dy = y.rpartition("@")
                if dx == dy and len(lx) > 5 and len(ly) > 5 and _one_letter_typo(lx, ly):
                    return 0.9, self.near, "one_edit"
        return 0.0, self.disagree, "different"


# --------------------------------------------------------------------------- phone


def _phone_features(phones: tuple[PhoneNumber, ...]) -> tuple[frozenset[str], frozenset[str]]:
    if len(phones) == 1:
        e164, national = phone_match_keys(phones[0])
        return frozenset((e164,)), frozenset((national,) if len(national) >= 6 else ())
    pairs = [phone_match_keys(p) for p in phones]
    return frozenset(p[0] for p in pairs), frozenset(p[1] for p in pairs if len(p[1]) >= 6)


@attrs.define(repr=False)
class PhoneRule(FieldRule[tuple[frozenset[str], frozenset[str]]]):
    """Phone numbers, compared in E.164 form, then by national significant number.

    A number many records share (a switchboard) is discounted by how many share it.
    """

    name: str = "phone"
    field: str = "phones"
    agree: float = 11.0
    national: float = 8.0
    disagree: float = -1.0
    shared: bool = True

    @property
    def max_weight(self) -> float:
        """The weight of a shared number."""
        return max(self.agree, self.national, self.disagree)

    def prepare(self, record: MatchRecord) -> tuple[frozenset[str], frozenset[str]] | None:
        """E.164 forms and national significant numbers of the record's numbers."""
        phones = record.phones
        if not phones:
            return None
        return _phone_features(phones)

    def keys(self, features: tuple[frozenset[str], frozenset[str]]) -> Iterable[str]:
        """One key per national significant number (it also catches wrong country codes)."""
        return [f"{self.name}:{k}" for k in features[1]]

    def weigh(
        self,
        a: tuple[frozenset[str], frozenset[str]],
        b: tuple[frozenset[str], frozenset[str]],
        frequency: Frequency = _no_frequency,
    ) -> Weighed:
        """Same number, same national number under another country code, or different."""
        shared = a[1] & b[1]
        if not shared:
            return 0.0, self.disagree, "different"
        discount = min(_shared_discount(frequency, f"{self.name}:{k}") for k in shared)
        if a[0] & b[0]:
            return 1.0, max(self.agree - discount, 1.0), "e164"
        return 0.9, max(self.national - discount, 1.0), "national_number"


# --------------------------------------------------------------------------- person name


class _Name(NamedTuple):
    given: str
    family: str
    groups: frozenset[str]
    key: str
    sound_keys: tuple[str, str]
    generation: str = ""
    abjad: bool = False


# Weights of (given level, family level); levels: 0 differ, 1 close or initial,
# 2 similar, 3 equal or a known variant. Agreement on the family name with a
# different given name is what colleagues and relatives look like, so it counts
# against a match rather than for it.
_NAME_WEIGHTS: tuple[tuple[float, ...], ...] = (
    # family: 0      1      2      3
    (-10.0, -5.0, -5.0, -5.0),  # given 0
    (-6.0, 0.0, 2.5, 3.5),  # given 1
    (-4.0, 4.0, 8.0, 9.5),  # given 2
    (-3.0, 5.0, 9.5, 12.5),  # given 3
)
_GIVEN_ONLY = (-5.0, 0.0, 2.5, 3.5)
_FAMILY_ONLY = (-5.0, 0.0, 3.5, 4.5)


def _skeleton(name: _Name) -> _Name:
    given = consonant_skeleton(name.given) or name.given
    family = " ".join(consonant_skeleton(w) or w for w in name.family.split())
    return name._replace(given=given, family=family, groups=frozenset((given,)))


@attrs.define(repr=False)
class PersonNameRule(FieldRule[_Name]):
    """Person names: nicknames, initials, typos, diacritics and swapped order.

    Given and family names are compared with Jaro-Winkler (rapidfuzz) after
    folding; given names also through the nickname table; the better of the
    direct and the swapped alignment counts. The weight comes from the pair of
    agreement levels, so that "same family name, different given name"
    (relatives, colleagues) counts against a match.
    """

    name: str = "name"
    field: str = "name"
    nicknames: NicknameTable = attrs.field(factory=NicknameTable.default)
    similar: float = 0.92
    close: float = 0.84
    weights: tuple[tuple[float, ...], ...] = _NAME_WEIGHTS
    given_only: tuple[float, ...] = _GIVEN_ONLY
    family_only: tuple[float, ...] = _FAMILY_ONLY
    _cache: dict[tuple[str | None, str | None, str], _Name | None] = attrs.field(
        factory=dict, init=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # A path or a dict given here would otherwise fail mid-run as AttributeError.
        if not isinstance(self.nicknames, NicknameTable):
            raise ValidationError(
                "nicknames", "must be a NicknameTable (see NicknameTable.from_csv)"
            )
        # The cache holds people's names, and the default rule set lives as long
        # as the process: crmcore.dedup.clear_caches() must reach it.
        track(self)

    def clear_cache(self) -> None:
        """Forget the prepared names (:func:`crmcore.dedup.clear_caches` calls this)."""
        self._cache.clear()

    @property
    def max_weight(self) -> float:
        """The weight of the best agreement level."""
        return max(max(max(row) for row in self.weights), *self.given_only, *self.family_only)

    def prepare(self, record: MatchRecord) -> _Name | None:
        """Folded given (first word) and family names, nickname groups, phonetic codes."""
        name = record.name
        if name is None:
            return None
        return self._prepare(name.given, name.family, generation(name.suffix))

    def _prepare(
        self, given_text: str | None, family_text: str | None, born: str = ""
    ) -> _Name | None:
        key = (given_text, family_text, born)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if len(self._cache) > 1 << 18:
            self._cache.clear()
        result = self._cache[key] = self._build(given_text, family_text, born)
        return result

    def _build(self, given_text: str | None, family_text: str | None, born: str) -> _Name | None:
        given_words = name_tokens(given_text)
        family_words = name_tokens(family_text)
        given = given_words[0] if given_words else ""
        family = " ".join(family_words)
        if not given and not family:
            return None
        groups = self.nicknames.canonical(given) if given else frozenset()
        abjad = written_without_vowels(f"{given_text or ''}{family_text or ''}")
        if not (given and family):
            return _Name(given, family, groups, "", ("", ""), born, abjad)
        canon = min(groups)
        exact = "|".join(sorted((canon, family)))
        # One part exact, the other by sound: a typo in either name still meets,
        # while blocks stay as small as those of exact names.
        sounds = (
            f"{self.name}~{canon}|{phonetic_key(family_words[-1])}",
            f"{self.name}~{phonetic_key(given)}|{family}",
        )
        return _Name(given, family, groups, f"{self.name}:{exact}", sounds, born, abjad)

    def keys(self, features: _Name) -> Iterable[str]:
        """The nickname-resolved name (order-free), and each part exact with the other's sound."""
        if not features.key:
            return ()
        return (features.key, *features.sound_keys)

    def _given_level(self, a: str, b: str, ga: frozenset[str], gb: frozenset[str]) -> int:
        if variants(a, b, ga, gb) or modern_spelling(a) == modern_spelling(b):
            return 3
        if len(a) == 1 or len(b) == 1:
            return 1 if a[0] == b[0] else 0
        return self._level(_jw(a, b))

    def _family_level(self, a: str, b: str) -> int:
        if a == b or modern_spelling(a) == modern_spelling(b):
            return 3
        sim = _jw(a, b)
        if sim < self.similar and (" " in a or " " in b):
            # Double-barrelled names: "muller ludenscheidt" ~ "muller".
            sim = max(sim, fuzz.token_set_ratio(a, b) / 100 * 0.95)
        return self._level(sim)

    def _level(self, sim: float) -> int:
        if sim >= 0.97:
            return 3
        if sim >= self.similar:
            return 2
        return 1 if sim >= self.close else 0

    def weigh(self, a: _Name, b: _Name, frequency: Frequency = _no_frequency) -> Weighed:
        """Best of the direct and the swapped alignment of given and family names.

        Equal names weigh less the more records carry them (term frequency):
        two records named "John Smith" among many say less than two "Åsa Lindqvist".
        A different generation ("John Smith" and "John Smith Jr.") is a
        relative, weighed as a different given name with the same family name.
        """
        if a.generation != b.generation:
            return 0.0, self.weights[0][3], "generation"
        if a.abjad != b.abjad:
            # Arabic or Hebrew on one side, transliterated without its vowels:
            # both sides are compared by their consonants.
            a, b = _skeleton(a), _skeleton(b)
        if a.given and a.family and b.given and b.family:
            if a.given == b.given and a.family == b.family:
                return 1.0, self.weights[3][3] - _shared_discount(frequency, a.key), "exact"
            gl = self._given_level(a.given, b.given, a.groups, b.groups)
            fl = self._family_level(a.family, b.family)
            weight = self.weights[gl][fl]
            if weight < 9.0:
                # Given and family names swapped on one side; either cross pair may
                # play the given-name role, so that comparing stays symmetric.
                nick = self.nicknames.canonical
                one = self._given_level(a.given, b.family, a.groups, nick(b.family))
                two = self._given_level(b.given, a.family, b.groups, nick(a.family))
                swapped = max(self.weights[one][two], self.weights[two][one]) - 0.5
                if swapped > weight:
                    return (one + two) / 6, swapped, "swapped"
            if gl == 3 and fl == 3:
                weight -= _shared_discount(frequency, a.key)
                return 1.0, weight, "exact" if a.given == b.given else "nickname"
            return (gl + fl) / 6, weight, "jaro_winkler"
        # One side lacks a part: compare what is there, in either position.
        best_level, table = -1, self.given_only
        for x, y, tab in (
            (a.given, b.given, self.given_only),
            (a.family, b.family, self.family_only),
            (a.given, b.family, self.family_only),
            (a.family, b.given, self.family_only),
        ):
            if x and y:
                level = self._family_level(x, y)
                if level > best_level:
                    best_level, table = level, tab
        if best_level < 0:
            return 0.0, 0.0, "incomparable"
        return best_level / 3, table[best_level], "partial"


# --------------------------------------------------------------------------- organisation


@attrs.define(repr=False)
class OrganizationNameRule(FieldRule[tuple[str, bool]]):
    """Organisation names without legal forms, compared by token-sorted similarity.

    Between organisations this is strong evidence; between people it only says
    that they work in the same place, so it weighs little.
    """

    name: str = "organization"
    field: str = "organization"
    agree: float = 9.0
    similar: float = 6.0
    disagree: float = -8.0
    person_agree: float = 2.0
    person_disagree: float = -0.5
    shared: bool = True
    #: One name inside the other only with words written short ("Arts Deli" /
    #: "Arts Delicatessen"): too weak to count for, since "Star Electric" /
    #: "Starbucks Electric" has the same shape, and no longer against.
    abbreviated: float = 0.0

    @property
    def max_weight(self) -> float:
        """The weight of equal organisation names."""
        return max(self.agree, self.similar, self.person_agree)

    def prepare(self, record: MatchRecord) -> tuple[str, bool] | None:
        """The organisation key and whether the record is an organisation."""
        if not record.organization:
            return None
        key = organization_key(record.organization)
        is_org = record.type is RecordType.ORGANIZATION or (
            record.type is RecordType.LEAD and record.name is None
        )
        return (key, is_org) if key else None

    def keys(self, features: tuple[str, bool]) -> Iterable[str]:
        """Organisations are filed under their key; people are not (colleagues would pile up)."""
        return (f"{self.name}:{features[0]}",) if features[1] else ()

    def weigh(
        self, a: tuple[str, bool], b: tuple[str, bool], frequency: Frequency = _no_frequency
    ) -> Weighed:
        """Equal keys, similar names, one name inside the other, or different.

        One name inside the other ("Saturnus" / "Café Saturnus Restaurang") is
        partial agreement, like a similar spelling: with the same phone or
        address it decides, on its own it does not.
        """
        orgs = a[1] and b[1]
        if a[0] == b[0]:
            return 1.0, self.agree if orgs else self.person_agree, "exact"
        sim = fuzz.token_sort_ratio(a[0], b[0]) / 100
        if sim >= 0.9:
            return sim, self.similar if orgs else self.person_agree, "token_sort"
        contained = _contained(a[0], b[0])
        if contained == _WHOLE:
            return 0.8, self.similar if orgs else self.person_agree, "contained"
        if contained == _SHORTENED:
            return 0.7, self.abbreviated if orgs else 0.0, "abbreviated"
        return sim, self.disagree if orgs else self.person_disagree, "token_sort"


_WHOLE, _SHORTENED, _APART = 2, 1, 0


def _contained(a: str, b: str) -> int:
    # _WHOLE: every word of the shorter name is a word of the longer one
    # ("Saturnus" / "Cafe Saturnus Restaurang"). _SHORTENED: the same, but some
    # words only written short, the first four letters or more ("Arts Deli" /
    # "Arts Delicatessen"), with at least one whole word in common: a prefix
    # alone is no containment ("Micro" / "Microsoft", "Tele" / "Telenor").
    words_a, words_b = a.split(), b.split()
    if len(words_a) > len(words_b):
        words_a, words_b = words_b, words_a
    if not words_a:
        return _APART
    whole = set(words_b)
    if all(w in whole for w in words_a):
        return _WHOLE
    if not whole.intersection(words_a):
        return _APART
    if _inside(words_a, words_b) or (len(words_a) == len(words_b) and _inside(words_b, words_a)):
        return _SHORTENED
    return _APART


def _inside(shorter: list[str], longer: list[str]) -> bool:
    whole = set(longer)
    # Index the longer name's words by their first letters once, so a long name
    # costs one pass rather than one per word of the shorter name.
    starts = {v[:_SHORT_WORD] for v in longer if len(v) >= _SHORT_WORD}
    return all(
        w in whole
        or (
            len(w) >= _SHORT_WORD
            and w[:_SHORT_WORD] in starts
            and any(v.startswith(w) for v in longer if v[:_SHORT_WORD] == w[:_SHORT_WORD])
        )
        for w in shorter
    )


_SHORT_WORD = 4


@attrs.define(repr=False)
class EmailDomainRule(FieldRule[tuple[frozenset[str], bool]]):
    """Organisation email domains (free-mail domains excluded).

    Two organisations on one domain are likely one; two people on one domain
    are likely colleagues, so for people the rule says nothing.
    """

    name: str = "email_domain"
    field: str = "emails.domain"
    agree: float = 5.0
    disagree: float = -1.0
    shared: bool = True

    @property
    def max_weight(self) -> float:
        """The weight of a shared domain."""
        return max(self.agree, self.disagree)

    def prepare(self, record: MatchRecord) -> tuple[frozenset[str], bool] | None:
        """Non-free-mail domains of an organisation's (or a company-only lead's) addresses."""
        is_org = record.type is RecordType.ORGANIZATION or (
            record.type is RecordType.LEAD and record.name is None and bool(record.organization)
        )
        if not is_org or not record.emails:
            return None
        domains = frozenset(d for d in map(organization_domain, record.emails) if d)
        return (domains, True) if domains else None

    def keys(self, features: tuple[frozenset[str], bool]) -> Iterable[str]:
        """One key per domain."""
        return [f"{self.name}:{d}" for d in features[0]]

    def weigh(
        self,
        a: tuple[frozenset[str], bool],
        b: tuple[frozenset[str], bool],
        frequency: Frequency = _no_frequency,
    ) -> Weighed:
        """A shared domain, or none."""
        if a[0] & b[0]:
            return 1.0, self.agree, "exact"
        return 0.0, self.disagree, "different"


# --------------------------------------------------------------------------- identifiers

_ID_JUNK = re.compile(r"[\s.\-/]+")


@attrs.define(repr=False)
class IdentifierRule(FieldRule[Mapping[str, str]]):
    """External identifiers (tax number, national id, another system's id) per scheme.

    Equal values under one scheme are near proof; different values under the same
    scheme are strong evidence against, except a single typo.
    """

    name: str = "identifier"
    field: str = "identifiers"
    agree: float = 20.0
    one_edit: float = 5.0
    disagree: float = -5.0

    @property
    def max_weight(self) -> float:
        """The weight of an equal identifier."""
        return max(self.agree, self.one_edit, 0.0)

    def prepare(self, record: MatchRecord) -> Mapping[str, str] | None:
        """Scheme (folded) to value without spaces, dots, dashes or slashes."""
        if not record.identifiers:
            return None
        out = {fold(k): _ID_JUNK.sub("", fold(v)) for k, v in record.identifiers.items() if v}
        return {k: v for k, v in out.items() if v} or None

    def keys(self, features: Mapping[str, str]) -> Iterable[str]:
        """One key per scheme and value."""
        return [f"{self.name}:{k}:{v}" for k, v in features.items()]

    def weigh(
        self, a: Mapping[str, str], b: Mapping[str, str], frequency: Frequency = _no_frequency
    ) -> Weighed:
        """Agreement on any shared scheme, else one typo, else different."""
        best: Weighed | None = None
        for scheme, value in a.items():
            other = b.get(scheme)
            if other is None:
                continue
            if other == value:
                return 1.0, self.agree, "exact"
            if len(value) >= 5 and Levenshtein.distance(value, other, score_cutoff=1) <= 1:
                best = (0.8, self.one_edit, "one_edit")
            elif (
                len(value) >= 5
                and len(value) == len(other)
                and sorted(value) == sorted(other)
                and sum(x != y for x, y in zip(value, other, strict=True)) == 2
            ):
                best = (0.8, self.one_edit, "transposition")
            elif best is None:
                best = (0.0, self.disagree, "different")
        return best if best is not None else (0.0, 0.0, "incomparable")


# --------------------------------------------------------------------------- addresses

_STREET_WORDS = {
    "st": "street",
    "str": "strasse",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "pl": "place",
    "cres": "crescent",
    "dr": "drive",
    "ln": "lane",
    "ct": "court",
    "hwy": "highway",
    "jl": "jalan",
    "jln": "jalan",
    "g": "gatan",
    "v": "vagen",
}


# Ordinal street names written out ("Fourth Street", "Second Avenue") read as
# their numerals ("4th St."), the way most lists write them; the house number
# is found before, so "570 Fourth St." keeps 570.
_ORDINALS = {
    word: f"{n}{suffix}"
    for n, (word, suffix) in enumerate(
        (
            ("first", "st"),
            ("second", "nd"),
            ("third", "rd"),
            ("fourth", "th"),
            ("fifth", "th"),
            ("sixth", "th"),
            ("seventh", "th"),
            ("eighth", "th"),
            ("ninth", "th"),
            ("tenth", "th"),
            ("eleventh", "th"),
            ("twelfth", "th"),
        ),
        start=1,
    )
}


_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")


class _Address(NamedTuple):
    street: str
    number: str
    postcode: str
    locality: str


@value_cache
def _street(lines: tuple[str, ...]) -> tuple[str, str]:
    words = [w for line in lines for w in name_tokens(line)]
    number = next(
        (w for w in words if any(c.isdigit() for c in w) and not _ORDINAL.fullmatch(w)), ""
    )
    out = []
    for w in words:
        if w == number:
            continue
        w = _ORDINALS.get(w) or _STREET_WORDS.get(w, w)
        if w.endswith("str") and len(w) > 5:
            w += "asse"
        out.append(w)
    return " ".join(out), number


def _prepare_address(address: PostalAddress) -> _Address:
    street, number = _street(address.lines)
    postcode = "".join(name_tokens(address.postal_code))
    locality = " ".join(name_tokens(address.locality))
    return _Address(street, number, postcode, locality)


class _Addresses(NamedTuple):
    places: tuple[_Address, ...]
    organization: bool


@attrs.define(repr=False)
class AddressRule(FieldRule[_Addresses]):
    """Postal addresses: street (token similarity), house number, postcode and locality.

    A shared address is good evidence but families and flatmates share one, so a
    full agreement weighs less than a personal email or phone number.

    Two organisations at different addresses are branches of one organisation
    (same name, same switchboard): ``branch`` keeps them apart. Set it to
    ``disagree`` to merge branches.
    """

    name: str = "address"
    field: str = "addresses"
    full: float = 9.0
    street_only: float = 4.0
    area: float = 1.5
    disagree: float = -2.5
    branch: float = -20.0
    shared: bool = True

    @property
    def max_weight(self) -> float:
        """The weight of a full agreement."""
        return max(self.full, self.street_only, self.area, self.disagree)

    def prepare(self, record: MatchRecord) -> _Addresses | None:
        """Normalised street, house number, postcode and locality of each address."""
        if not record.addresses:
            return None
        return _Addresses(
            tuple(_prepare_address(a) for a in record.addresses),
            record.type is RecordType.ORGANIZATION,
        )

    def place(self, features: _Addresses) -> str:
        """The first normalised locality and postcode: the order of one name in a big block."""
        for a in features.places:
            if a.locality or a.postcode:
                return f"{a.locality}\x00{a.postcode}"
        return ""

    def keys(self, features: _Addresses) -> Iterable[str]:
        """Postcode with house number, and house number with the street's sound."""
        out = []
        for a in features.places:
            if a.street and a.number:
                first = a.street.split()[0]
                out.append(f"{self.name}:{a.number}:{phonetic_key(first)}")
                if a.postcode:
                    out.append(f"{self.name}:{a.postcode}:{a.number}")
        return out

    def weigh(
        self,
        a: _Addresses,
        b: _Addresses,
        frequency: Frequency = _no_frequency,
    ) -> Weighed:
        """The best-agreeing pair of addresses; organisations' different streets are branches."""
        best: Weighed = (0.0, self.disagree, "different")
        for x in a.places:
            for y in b.places:
                result = self._pair(x, y)
                if result[1] > best[1]:
                    best = result
        if best[2] == "different" and a.organization and b.organization:
            return best[0], self.branch, "branch"
        return best

    def _pair(self, x: _Address, y: _Address) -> Weighed:
        street = fuzz.token_set_ratio(x.street, y.street) / 100 if x.street and y.street else -1.0
        number = x.number == y.number if x.number and y.number else None
        area = 0
        if x.postcode and x.postcode == y.postcode:
            area += 1
        if x.locality and y.locality and _jw(x.locality, y.locality) >= 0.92:
            area += 1
        if street >= 0.85 and number is not False:
            if area:
                return (street + 1) / 2, self.full if street >= 0.9 else self.full - 2, "full"
            return street / 2, self.street_only, "street"
        if area == 2:
            return 0.4, self.area, "area"
        if area == 1 and street < 0:
            return 0.3, self.area / 2, "area"
        return max(street, 0.0) / 3, self.disagree, "different"


# --------------------------------------------------------------------------- birth date


@attrs.define(repr=False)
class BirthDateRule(FieldRule[str]):
    """Dates of birth: equal, a typed digit or two off, day and month swapped, or different.

    A date of birth belongs to one person (relatives and colleagues rarely share
    one), so agreement is strong evidence and disagreement fairly strong.
    """

    name: str = "birth_date"
    field: str = "birth_date"
    agree: float = 12.0
    typo: float = 4.0
    near: float = 1.0
    same_year: float = -2.0
    disagree: float = -5.0

    @property
    def max_weight(self) -> float:
        """The weight of equal dates."""
        return max(self.agree, self.typo, self.near)

    def prepare(self, record: MatchRecord) -> str | None:
        """The date as ``YYYYMMDD``."""
        born = record.birth_date
        return None if born is None else f"{born.year:04d}{born.month:02d}{born.day:02d}"

    def keys(self, features: str) -> Iterable[str]:
        """The date itself: selective enough, and it survives any change of name."""
        return (f"{self.name}:{features}",)

    def weigh(self, a: str, b: str, frequency: Frequency = _no_frequency) -> Weighed:
        """Equal, one digit off or day and month swapped, two digits off, same year, or not."""
        if a == b:
            return 1.0, self.agree, "exact"
        if a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
            return 0.8, self.typo, "swapped_day_month"
        differing = sum(x != y for x, y in zip(a, b, strict=True))
        if differing == 1:
            return 0.8, self.typo, "one_digit"
        if differing == 2 and sorted(a) == sorted(b):
            return 0.7, self.typo, "transposition"
        if differing == 2:
            return 0.5, self.near, "two_digits"
        if a[:4] == b[:4]:
            return 0.3, self.same_year, "same_year"
        return 0.0, self.disagree, "different"


# --------------------------------------------------------------------------- rule sets


@attrs.frozen
class Clause:
    """A boolean matching clause in the spirit of Salesforce matching rules.

    The clause fires when every rule in ``at_least`` produced evidence with a
    score of at least the given value and every rule in ``below`` produced
    evidence with a score below it (a blank field never satisfies a condition).
    A firing clause decides the pair (``decision``) whatever the weights say;
    clauses are tried in order and the first that fires wins.

    >>> Clause("same_email_and_name", {"email": 1.0, "name": 0.8})
    Clause(name='same_email_and_name', at_least={'email': 1.0, 'name': 0.8}, below={}, decision=<Decision.MATCH: 'match'>)
    """  # noqa: E501

    name: str
    at_least: Mapping[str, float] = attrs.field(factory=dict)
    below: Mapping[str, float] = attrs.field(factory=dict)
    decision: Decision = Decision.MATCH

    def __attrs_post_init__(self) -> None:
        # decision="match" (a string) would fire and silently decide nothing.
        if not isinstance(self.name, str):
            raise ValidationError("name", "must be a string")
        for field in ("at_least", "below"):
            scores = getattr(self, field)
            if not isinstance(scores, Mapping) or not all(
                isinstance(rule, str) and isinstance(score, int | float)
                for rule, score in scores.items()
            ):
                raise ValidationError(field, "must map rule names to scores")
        if not isinstance(self.decision, Decision):
            raise ValidationError("decision", "must be a Decision")

    def fires(self, scores: Mapping[str, float]) -> bool:
        """Whether the clause holds for the per-rule scores of a pair."""
        for rule, minimum in self.at_least.items():
            score = scores.get(rule)
            if score is None or score < minimum:
                return False
        for rule, maximum in self.below.items():
            score = scores.get(rule)
            if score is None or score >= maximum:
                return False
        return bool(self.at_least or self.below)


def _check_probability(value: float, field: str) -> None:
    if not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise ValidationError(field, "must be a probability strictly between 0 and 1")


@attrs.frozen(repr=False)
class RuleSet:
    """Rules combined: weights summed as log-odds, clauses, thresholds.

    The match probability of a pair is ``1 / (1 + 2 ** -(prior + sum of weights))``;
    ``prior`` (bits) is the log-odds that two records sharing a blocking key are
    one entity before any field is compared. A pair is a MATCH at or above
    ``match`` and a POSSIBLE match (for a person to review) at or above
    ``possible``, unless a clause decides it. ``max_block_size`` caps blocking:
    records sharing a key with more records than that are compared only with
    their nearest neighbours in name order. ``cannot_link`` is the probability
    below which a compared pair keeps two clusters apart.

    Shared contact points: when the ``identity_rule`` (the person name) weighs
    ``conflict_weight`` or less, the records name different people, and the
    rules marked ``shared`` (phone, email, address, organisation: what a
    household or an office shares) add at most ``shared_cap`` together; their
    evidence then carries the clause name ``shared_contact``.
    """

    rules: tuple[Rule, ...]
    clauses: tuple[Clause, ...] = ()
    match: float = 0.9
    possible: float = 0.5
    prior: float = -9.0
    max_block_size: int = 16
    window: int = 8
    cannot_link: float = 0.0001
    identity_rule: str | None = "name"
    conflict_weight: float = -4.5
    shared_cap: float = 3.0

    def __attrs_post_init__(self) -> None:
        # Checked here, not first met deep in a run as a TypeError or AttributeError.
        if isinstance(self.rules, str) or not isinstance(self.rules, Sequence):
            raise ValidationError("rules", "must be a sequence of rules")
        for i, item in enumerate(self.rules):
            if not isinstance(getattr(item, "name", None), str) or not all(
                callable(getattr(item, m, None)) for m in ("blocking_keys", "compare")
            ):
                raise ValidationError(
                    f"rules[{i}]", "must be a rule (name, blocking_keys, compare)"
                )
        if isinstance(self.clauses, str) or not isinstance(self.clauses, Sequence):
            raise ValidationError("clauses", "must be a sequence of clauses")
        for i, clause in enumerate(self.clauses):
            if not isinstance(clause, Clause):
                raise ValidationError(f"clauses[{i}]", "must be a Clause")
        for field in ("prior", "conflict_weight", "shared_cap"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                raise ValidationError(field, "must be a number")
        for field in ("max_block_size", "window"):
            if isinstance(getattr(self, field), bool) or not isinstance(getattr(self, field), int):
                raise ValidationError(field, "must be a whole number")
        _check_probability(self.match, "match")
        _check_probability(self.possible, "possible")
        _check_probability(self.cannot_link, "cannot_link")
        if self.possible > self.match:
            raise ValidationError("possible", "must not exceed the match threshold")
        names = [r.name for r in self.rules]
        if not names:
            raise ValidationError("rules", "a rule set needs at least one rule")
        if len(set(names)) != len(names):
            raise ValidationError("rules", "rule names must be unique")
        if self.max_block_size < 2:
            raise ValidationError("max_block_size", "must be at least 2")
        if self.window < 1:
            raise ValidationError("window", "must be at least 1")
        for clause in self.clauses:
            for rule in (*clause.at_least, *clause.below):
                if rule not in names:
                    raise ValidationError("clauses", "a clause names a rule the set lacks")

    @classmethod
    def default(cls) -> RuleSet:
        """The default rules (see :func:`default_rules`)."""
        return default_rules()

    def to_dict(self) -> dict[str, Any]:
        """The rule set as JSON-ready data (``crmcore dedupe --rules`` reads it).

        Every setting, every rule with all its fields, and the clauses; the
        nickname table as ``"default"`` or its ``[name, variant]`` pairs.

        Raises:
            ValidationError: a rule is not one of crmcore's (a user rule is
                code, not data).
        """
        return rules_to_dict(self, _RULE_CLASSES)

    @classmethod
    def from_dict(cls, data: object) -> RuleSet:
        """The rule set :meth:`to_dict` wrote; fields left out take their defaults.

        >>> RuleSet.from_dict(default_rules().to_dict()) == default_rules()
        True

        Raises:
            ValidationError: the data names an unknown rule or field, or a value
                of the wrong type (the path says which: ``rules[2].agree``).
        """
        rules: RuleSet = rules_from_dict(data, _RULE_CLASSES, cls, Clause)
        return rules

    def with_rules(self, *rules: Rule) -> RuleSet:
        """A copy with more rules (a rule with a name already present replaces it)."""
        names = {r.name for r in rules}
        kept = tuple(r for r in self.rules if r.name not in names)
        return attrs.evolve(self, rules=(*kept, *rules))

    def probability(self, total_weight: float) -> float:
        """The match probability for a sum of rule weights."""
        bits = self.prior + total_weight
        if bits > 60:
            return 1.0
        if bits < -60:
            return 0.0
        return 1.0 / (1.0 + math.pow(2.0, -bits))

    def decide(self, evidence: Sequence[Evidence]) -> tuple[float, Decision, tuple[Evidence, ...]]:
        """Score, decision and (clause-annotated) evidence for a pair's evidence."""
        evidence = tuple(evidence)
        total = 0.0
        conflict = False
        for e in evidence:
            total += e.weight
            if e.rule == self.identity_rule and e.weight <= self.conflict_weight:
                conflict = True
        if conflict:
            capped = self.combine([(e.rule, e.weight) for e in evidence])
            if capped is not None:
                total = capped
                shared = self.shared_rules
                evidence = tuple(
                    attrs.evolve(e, clause="shared_contact") if e.rule in shared else e
                    for e in evidence
                )
        score = self.probability(total)
        if not self.clauses:
            return score, self.threshold(score), evidence
        scores = {e.rule: e.score for e in evidence}
        for clause in self.clauses:
            if clause.fires(scores):
                named = set(clause.at_least) | set(clause.below)
                evidence = tuple(
                    attrs.evolve(e, clause=clause.name) if e.rule in named else e for e in evidence
                )
                return self._clamp(score, clause.decision), clause.decision, evidence
        return score, self.threshold(score), evidence

    @property
    def shared_rules(self) -> frozenset[str]:
        """Names of the rules whose values several people can share."""
        return frozenset(r.name for r in self.rules if getattr(r, "shared", False))

    def combine(self, weights: Sequence[tuple[str, float]]) -> float | None:
        """The capped total when the shared-contact cap applies to these weights, else ``None``."""
        if self.identity_rule is None:
            return None
        shared = self.shared_rules
        identity = [w for rule, w in weights if rule == self.identity_rule]
        if not identity or identity[0] > self.conflict_weight:
            return None
        shared_sum = sum(w for rule, w in weights if rule in shared)
        if shared_sum <= self.shared_cap:
            return None
        rest = sum(w for rule, w in weights if rule not in shared)
        return rest + self.shared_cap

    def threshold(self, score: float) -> Decision:
        """The decision the thresholds give a score."""
        if score >= self.match:
            return Decision.MATCH
        if score >= self.possible:
            return Decision.POSSIBLE
        return Decision.NON_MATCH

    def _clamp(self, score: float, decision: Decision) -> float:
        if decision is Decision.MATCH:
            return max(score, self.match)
        if decision is Decision.POSSIBLE:
            return min(max(score, self.possible), math.nextafter(self.match, 0.0))
        return min(score, math.nextafter(self.possible, 0.0))

    def compare(
        self, a: MatchRecord, b: MatchRecord
    ) -> tuple[float, Decision, tuple[Evidence, ...]]:
        """Compare two records with every rule: score, decision and evidence."""
        evidence = [e for rule in self.rules if (e := rule.compare(a, b)) is not None]
        return self.decide(evidence)

    def blocking_keys(self, record: MatchRecord) -> list[str]:
        """Every rule's blocking keys for ``record``."""
        return [k for rule in self.rules for k in rule.blocking_keys(record)]

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self.rules)
        return f"RuleSet(rules=[{names}], match={self.match}, possible={self.possible})"


def default_rules() -> RuleSet:
    """The default rule set, tuned for international customer data.

    Email, phone, person name, organisation name, organisation email domain,
    external identifier, postal address and birth date, with a MATCH threshold
    of 0.9 and a POSSIBLE band from 0.5.
    """
    return _DEFAULT


# Names first: they are the comparison most often decisive against a pair, which
# lets the engine stop before weighing the rest.
_DEFAULT = RuleSet(
    rules=(
        PersonNameRule(),
        EmailRule(),
        PhoneRule(),
        BirthDateRule(),
        IdentifierRule(),
        AddressRule(),
        OrganizationNameRule(),
        EmailDomainRule(),
    )
)


# The rules a rule file may name (RuleSet.to_dict / from_dict), by class name.
_RULE_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        PersonNameRule,
        EmailRule,
        PhoneRule,
        BirthDateRule,
        IdentifierRule,
        AddressRule,
        OrganizationNameRule,
        EmailDomainRule,
    )
}
