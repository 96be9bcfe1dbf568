"""How a full name as typed splits into its parts: titles, particles and suffixes.

A small multilingual list of our own (the users' languages: English, Swedish,
German, Dutch, Indonesian, plus the common academic and generational forms);
``nameparser`` does this well but is LGPL. Words are compared folded and
without their dots, so ``Dr``, ``dr.`` and ``DR.`` are one title.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["NameParts", "generation", "is_suffix", "is_title", "split_columns", "split_words"]

# Titles a Western name is addressed with: "Mr Smith" is a family name.
_WESTERN_TITLES: Final = frozenset(
    {
        # English
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame",
        "rev", "revd", "fr", "lord", "lady",
        # German, Dutch, Swedish
        "herr", "frau", "hr", "fru", "dhr", "mevr", "mw", "ing", "dipl-ing", "mag",
        "drs", "dra", "ir",
    }
)  # fmt: skip
# Indonesian forms of address go with the given name, and a mononym is common:
# "Bapak Budi" and "Ibu Sri" are given names.
_GIVEN_TITLES: Final = frozenset(
    {
        "bapak", "bpk", "pak", "ibu", "bu", "sdr", "sdri", "saudara", "saudari",
        "tuan", "nyonya", "ny", "nona", "nn", "haji", "hajjah", "hj", "kh",
    }
)  # fmt: skip
_TITLES: Final = _WESTERN_TITLES | _GIVEN_TITLES

# Generational and academic or professional suffixes. Roman numerals above
# IV are left out: "V" is more often an initial than a fifth.
_SUFFIXES: Final = frozenset(
    {
        "jr", "junior", "sr", "senior", "ii", "iii", "iv", "2nd", "3rd",
        "phd", "md", "dds", "esq", "mba", "msc", "bsc", "cpa",
        # Indonesian degrees written after the name: "Budi Santoso, S.H."
        "sh", "se", "skom", "spd", "sked", "st", "ssi", "sos", "mm", "mh", "mkom",
        "mpd", "msi", "ak",
    }
)  # fmt: skip
# Particles belong to the family name: "van Beethoven", "de la Cruz", "bin Abdullah".
_PARTICLES: Final = frozenset(
    {
        "van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "des",
        "la", "le", "ten", "ter", "zu", "af", "av", "bin", "binti", "bint", "ibn",
        "al", "el", "dos", "das", "do", "y",
    }
)  # fmt: skip


def _key(word: str) -> str:
    return word.casefold().replace(".", "").strip(",")


def is_title(word: str) -> bool:
    """Whether ``word`` is a title or form of address (``Dr.``, ``Herr``, ``Bpk.``)."""
    return _key(word) in _TITLES


def is_suffix(word: str) -> bool:
    """Whether ``word`` is a generational or academic suffix (``Jr.``, ``III``, ``PhD``)."""
    return _key(word) in _SUFFIXES


_GENERATIONS: Final = {
    "jr": "jr", "junior": "jr", "sr": "sr", "senior": "sr",
    "ii": "ii", "2nd": "ii", "iii": "iii", "3rd": "iii", "iv": "iv",
}  # fmt: skip


def generation(suffix: str | None) -> str:
    """The generational part of a suffix (``"jr"``, ``"sr"``, ``"iii"``...), or ``""``.

    Academic and professional suffixes (``PhD``, ``S.H.``) say nothing about
    which person of a family this is, so they are left out.
    """
    if not suffix:
        return ""
    found = [_GENERATIONS[k] for k in map(_key, suffix.split()) if k in _GENERATIONS]
    return found[0] if found else ""


class NameParts(NamedTuple):
    """The parts of a name, each ``None`` when absent."""

    prefix: str | None
    given: str | None
    middle: str | None
    family: str | None
    suffix: str | None


def _joined(words: list[str]) -> str | None:
    return " ".join(words) or None


def split_words(words: list[str]) -> NameParts:
    """Split the words of a name written given-name first.

    Leading titles become the prefix and trailing suffixes the suffix (never
    the whole name: a lone "Dr" is a name). Particles before the last word stay
    with the family name. What is left is given, middle and family, as before:
    one word left is a given name, except after a Western title ("Mr Smith").
    """
    words = list(words)
    prefix: list[str] = []
    while len(words) > 1 and is_title(words[0]):
        prefix.append(words.pop(0))
    suffix: list[str] = []
    while len(words) > 1 and is_suffix(words[-1]):
        suffix.insert(0, words.pop())
    if len(words) == 1:
        western = any(_key(p) in _WESTERN_TITLES for p in prefix)
        given, family = (None, words[0]) if western else (words[0], None)
        return NameParts(_joined(prefix), given, None, family, _joined(suffix))
    start = len(words) - 1
    while start > 1 and _key(words[start - 1]) in _PARTICLES:
        start -= 1
    return NameParts(
        _joined(prefix),
        words[0],
        _joined(words[1:start]),
        _joined(words[start:]),
        _joined(suffix),
    )


def split_columns(given: str | None, middle: str | None, family: str | None) -> NameParts:
    """The parts of a name kept in columns, with titles and suffixes taken out of them.

    Exports put "Prof. Anna" in a given-name column and "Smith Jr." or
    "Smith, Jr." in a family-name column; those words are the prefix and the
    suffix. A name is never emptied: with no family name a lone "Dr" stays a
    given name, and with no given name a lone "Jr." stays a family name.
    Columns without titles or suffixes come back as they were.
    """
    given_words = (given or "").split()
    family_words = (family or "").replace(",", " ").split()
    prefix: list[str] = []
    while given_words and is_title(given_words[0]) and (len(given_words) > 1 or family_words):
        prefix.append(given_words.pop(0))
    suffix: list[str] = []
    while family_words and is_suffix(family_words[-1]) and (len(family_words) > 1 or given_words):
        suffix.insert(0, family_words.pop())
    return NameParts(
        _joined(prefix),
        _joined(given_words) if prefix else given or None,
        middle or None,
        _joined(family_words) if suffix else family or None,
        _joined(suffix),
    )
