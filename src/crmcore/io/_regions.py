"""Country cells to ISO 3166 alpha-2 region codes, for phone parsing and addresses."""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers

__all__ = ["country_code"]

_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)

# Common ways of writing a country that phonenumbers' display names do not cover.
_ALIASES = {
    "usa": "US",
    "us": "US",
    "unitedstatesofamerica": "US",
    "america": "US",
    "uk": "GB",
    "greatbritain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northernireland": "GB",
    "holland": "NL",
    "thenetherlands": "NL",
    "czechia": "CZ",
    "korea": "KR",
    "southkorea": "KR",
    "russia": "RU",
    "uae": "AE",
}


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


@functools.cache
def _names() -> dict[str, str]:
    # phonenumbers ships every region's display name in many languages; English wins
    # where two languages use one spelling for different countries.
    from phonenumbers.geodata.locale import LOCALE_DATA

    english: dict[str, str] = {}
    other: dict[str, str] = {}
    for region, names in LOCALE_DATA.items():
        if region not in _REGIONS:
            continue
        for lang, name in names.items():
            for _ in range(3):  # "*xx" refers to language xx's name (a few refer to themselves)
                if not name.startswith("*"):
                    break
                name = names.get(name[1:], "")
            if name.startswith("*"):
                continue
            if not name:
                continue
            target = english if lang in {"en", "aa"} else other
            target.setdefault(_key(name), region)
    return {**other, **english, **_ALIASES}


@functools.lru_cache(maxsize=4096)
def country_code(text: str) -> str | None:
    """The alpha-2 region code for a country cell, or ``None`` when it is not recognised.

    Accepts an ISO 3166 alpha-2 code in any case, an English country name
    (``Sweden``, ``United Kingdom``, ``USA``), and the names phonenumbers knows
    in other languages (``Sverige``, ``Deutschland``), diacritics and case ignored.
    """
    stripped = text.strip()
    if re.fullmatch(r"[A-Za-z]{2}", stripped):
        code = stripped.upper()
        if code == "UK":
            return "GB"
        return code if code in _REGIONS else None
    key = _key(stripped)
    if not key:
        return None
    return _names().get(key)
