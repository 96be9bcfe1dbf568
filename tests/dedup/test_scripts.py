"""Names in other scripts, and the German digraph folding that must not eat vowels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.dedup import Decision, RuleSet
from crmcore.dedup.normalize import fold, name_tokens
from tests.dedup._helpers import person

RULES = RuleSet.default()


@pytest.mark.parametrize(
    ("script", "latin"),
    [
        ("Владимир", "vladimir"),
        ("Σωκράτης", "sokratis"),
        ("王伟", "wangwei"),
    ],
)
def test_other_scripts_are_transliterated(script: str, latin: str) -> None:
    assert name_tokens(script) == (latin,)


def test_identical_cyrillic_names_with_one_phone_match() -> None:
    a = person("a", "Наталья", "Иванова", phones=["070-111 22 33"], city="Uppsala")
    b = person("b", "Наталья", "Иванова", phones=["070-111 22 33"], city="Uppsala")
    assert RULES.compare(a, b)[1] is Decision.MATCH


def test_different_cyrillic_names_sharing_an_email_are_not_one_person() -> None:
    a = person("a", "Наталья", "Иванова", emails=["family@example.org"])
    b = person("b", "Сергей", "Петров", emails=["family@example.org"])
    assert RULES.compare(a, b)[1] is not Decision.MATCH


def test_a_name_in_its_script_meets_its_transliteration() -> None:
    a = person("a", "Наталья", "Иванова", emails=["n.ivanova@example.org"])
    b = person("b", "Natalya", "Ivanova", emails=["n.ivanova@example.org"])
    assert RULES.compare(a, b)[1] is Decision.MATCH


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("Joe", "joe"),
        ("Zoe", "zoe"),
        ("Chloe", "chloe"),
        ("Michael", "michael"),
        ("Manuel", "manuel"),
        ("Noel", "noel"),
        ("Mueller", "muller"),
        ("Goethe", "gothe"),
        ("Haensel", "hansel"),
    ],
)
def test_digraphs_fold_only_where_they_stand_for_an_umlaut(name: str, token: str) -> None:
    assert name_tokens(name) == (token,)


@given(st.text(max_size=30))
def test_folding_gives_ascii_and_is_idempotent(text: str) -> None:
    folded = fold(text)
    assert folded.isascii()
    assert fold(folded) == folded


@pytest.mark.parametrize(
    ("script", "latin"),
    [
        (("محمد", "عبد الله"), ("Muhammad", "Abdullah")),
        (("يوسف", "خالد"), ("Yusuf", "Khalid")),
        (("فاطمة", "علي"), ("Fatimah", "Ali")),
        (("דוד", "מרים"), ("David", "Miriam")),
    ],
)
def test_a_name_in_a_script_without_vowels_meets_its_latin_spelling(
    script: tuple[str, str], latin: tuple[str, str]
) -> None:
    shared = {"emails": ["family@example.org"], "phones": ["070-111 22 33"]}
    a = person("a", *script, **shared)  # type: ignore[arg-type]
    b = person("b", *latin, **shared)  # type: ignore[arg-type]
    assert RULES.compare(a, b)[1] is Decision.MATCH


def test_different_names_across_scripts_stay_different() -> None:
    shared = {"emails": ["family@example.org"], "phones": ["070-111 22 33"]}
    a = person("a", "محمد", "خالد", **shared)  # type: ignore[arg-type]
    b = person("b", "Yusuf", "Ali", **shared)  # type: ignore[arg-type]
    assert RULES.compare(a, b)[1] is Decision.NON_MATCH


@pytest.mark.parametrize(
    ("old", "new"),
    [("Soekarno", "Sukarno"), ("Djoko", "Joko"), ("Tjahjono", "Cahyono"), ("Wahjudi", "Wahyudi")],
)
def test_the_old_indonesian_spelling_is_the_same_name(old: str, new: str) -> None:
    a = person("a", old, "Santoso", emails=["s@example.co.id"])
    b = person("b", new, "Santoso", emails=["s@example.co.id"])
    assert RULES.compare(a, b)[1] is Decision.MATCH


def test_chan_and_khan_stay_two_family_names() -> None:
    shared = {"phones": ["070-111 22 33"], "city": "Uppsala"}
    a = person("a", "Anna", "Chan", **shared)  # type: ignore[arg-type]
    b = person("b", "Anna", "Khan", **shared)  # type: ignore[arg-type]
    assert RULES.compare(a, b)[1] is not Decision.MATCH
