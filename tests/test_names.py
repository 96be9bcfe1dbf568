"""Titles, particles and suffixes in ``PersonName.parse``, and what dedup makes of them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import EmailAddress, PersonName, PhoneNumber, PostalAddress
from crmcore._names import generation, is_suffix, is_title
from crmcore.dedup import Decision, MatchRecord, RuleSet

RULES = RuleSet.default()


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Dr. John Smith", ("Dr.", "John", None, "Smith", None)),
        ("Prof. Dr. Hans Müller", ("Prof. Dr.", "Hans", None, "Müller", None)),
        ("Mrs Jane Smith", ("Mrs", "Jane", None, "Smith", None)),
        ("Herr Müller", ("Herr", None, None, "Müller", None)),
        ("Mr Smith", ("Mr", None, None, "Smith", None)),
        # An Indonesian form of address goes with a given name; mononyms are common.
        ("Bapak Budi", ("Bapak", "Budi", None, None, None)),
        ("Bpk. Joko Widodo", ("Bpk.", "Joko", None, "Widodo", None)),
        ("Ibu Sri Wahyuni", ("Ibu", "Sri", None, "Wahyuni", None)),
        ("Ludwig van Beethoven", (None, "Ludwig", None, "van Beethoven", None)),
        ("Maria de la Cruz", (None, "Maria", None, "de la Cruz", None)),
        ("Ahmad bin Abdullah", (None, "Ahmad", None, "bin Abdullah", None)),
        ("Siti binti Hassan", (None, "Siti", None, "binti Hassan", None)),
        ("Martin Luther King Jr.", (None, "Martin", "Luther", "King", "Jr.")),
        ("John Smith, Jr.", (None, "John", None, "Smith", "Jr.")),
        ("Budi Santoso, S.H., M.M.", (None, "Budi", None, "Santoso", "S.H. M.M.")),
        ("Smith, Dr. John Paul", ("Dr.", "John", "Paul", "Smith", None)),
        ("Anna Maria Berg", (None, "Anna", "Maria", "Berg", None)),
        # Never the whole name: a lone title or suffix is a name.
        ("Dr", (None, "Dr", None, None, None)),
        ("Junior", (None, "Junior", None, None, None)),
        # "Ma" and "Le" are family names, "Van" a given name when it comes first.
        ("Li Ma", (None, "Li", None, "Ma", None)),
        ("Van Morrison", (None, "Van", None, "Morrison", None)),
        ("Soekarno", (None, "Soekarno", None, None, None)),
    ],
)
def test_parse_reads_titles_particles_and_suffixes(
    text: str, parts: tuple[str | None, ...]
) -> None:
    name = PersonName.parse(text)
    assert (name.prefix, name.given, name.middle, name.family, name.suffix) == parts


_WORD = st.sampled_from(["Anna", "Karl", "Budi", "Lindqvist", "Santoso", "Okafor", "Müller"])
_TITLE = st.sampled_from(["Dr.", "dr", "Prof.", "Mr", "MRS.", "Herr", "Frau", "Bapak", "Ibu"])
_SUFFIX = st.sampled_from(["Jr.", "Sr", "III", "PhD", "S.H."])


@given(given_=_WORD, family=_WORD, titles=st.lists(_TITLE, max_size=2), suffix=_SUFFIX)
def test_titles_and_suffixes_never_become_names(
    given_: str, family: str, titles: list[str], suffix: str
) -> None:
    plain = PersonName.parse(f"{given_} {family}")
    dressed = PersonName.parse(" ".join([*titles, given_, family, suffix]))
    assert (dressed.given, dressed.family) == (plain.given, plain.family)
    assert dressed.prefix == (" ".join(titles) or None)
    assert dressed.suffix == suffix


@given(st.builds(PersonName.parse, st.lists(_WORD, min_size=1, max_size=4).map(" ".join)))
def test_parsing_the_full_name_again_gives_the_same_parts(name: PersonName) -> None:
    assert PersonName.parse(name.full) == name


def test_word_lists_compare_folded_and_without_dots() -> None:
    assert is_title("DR.")
    assert is_title("bpk")
    assert not is_title("Anna")
    assert is_suffix("jr.")
    assert is_suffix("S.H.")
    assert not is_suffix("Ma")
    assert generation("Jr.") == generation("junior") == "jr"
    assert generation("PhD") == generation(None) == ""


def _person(text: str, *, email: str = "", phone: str = "", street: str = "") -> MatchRecord:
    return MatchRecord(
        id=text,
        name=PersonName.parse(text),
        emails=(EmailAddress.parse(email),) if email else (),
        phones=(PhoneNumber.parse(phone, "SE"),) if phone else (),
        addresses=(PostalAddress(lines=(street,), locality="Uppsala"),) if street else (),
    )


def test_a_title_does_not_keep_a_person_from_their_duplicate() -> None:
    a = _person("Dr. John Smith", email="john.smith@example.org")
    b = _person("John Smith", email="john.smith@example.org")
    assert RULES.compare(a, b)[1] is Decision.MATCH


def test_spouses_on_one_phone_are_not_one_person_because_of_their_titles() -> None:
    a = _person("Mr. John Smith", phone="018-12 34 56")
    b = _person("Mrs. Jane Smith", phone="018-12 34 56")
    assert RULES.compare(a, b)[1] is not Decision.MATCH


@pytest.mark.parametrize(("one", "other"), [("", "Jr."), ("Sr.", "Jr."), ("II", "III")])
def test_a_parent_and_a_junior_at_one_address_stay_apart(one: str, other: str) -> None:
    shared = {"phone": "018-12 34 56", "street": "Kungsgatan 1"}
    a = _person(f"John Smith {one}".strip(), **shared)
    b = _person(f"John Smith {other}", **shared)
    _, verdict, evidence = RULES.compare(a, b)
    assert verdict is not Decision.MATCH
    assert any(e.method == "generation" for e in evidence)


def test_an_academic_suffix_is_not_a_generation() -> None:
    a = _person("Anna Lindqvist PhD", email="anna.lindqvist@example.org")
    b = _person("Anna Lindqvist", email="anna.lindqvist@example.org")
    assert RULES.compare(a, b)[1] is Decision.MATCH


@pytest.mark.parametrize(
    ("columns", "parts"),
    [
        (("Prof. Anna", None, "Berg"), ("Prof.", "Anna", None, "Berg", None)),
        (("Anna", None, "Berg, Jr."), (None, "Anna", None, "Berg", "Jr.")),
        (("Anna", "Maria", "Berg III"), (None, "Anna", "Maria", "Berg", "III")),
        (("Anna", None, "Berg"), (None, "Anna", None, "Berg", None)),
        # Never emptied: a lone title or suffix with nothing beside it is the name.
        (("Dr", None, None), (None, "Dr", None, None, None)),
        ((None, None, "Jr."), (None, None, None, "Jr.", None)),
        (("", "", "Berg"), (None, None, None, "Berg", None)),
    ],
)
def test_names_in_columns_shed_titles_and_suffixes(
    columns: tuple[str | None, str | None, str | None], parts: tuple[str | None, ...]
) -> None:
    name = PersonName.from_columns(*columns)
    assert (name.prefix, name.given, name.middle, name.family, name.suffix) == parts


@given(given_=_WORD, family=_WORD, title=_TITLE, suffix=_SUFFIX)
def test_columns_and_one_cell_give_the_same_name(
    given_: str, family: str, title: str, suffix: str
) -> None:
    cell = PersonName.parse(f"{title} {given_} {family} {suffix}")
    columns = PersonName.from_columns(f"{title} {given_}", None, f"{family} {suffix}")
    assert cell == columns


@pytest.mark.parametrize(("one", "other"), [("Kalle", "Karl"), ("Mange", "Magnus")])
def test_swedish_short_forms_are_one_name(one: str, other: str) -> None:
    a = _person(f"{one} Karlsson", email="k.karlsson@example.se")
    b = _person(f"{other} Karlsson", email="k.karlsson@example.se")
    assert RULES.compare(a, b)[1] is Decision.MATCH


@pytest.mark.parametrize(("one", "other"), [("Chris", "Tina"), ("Joe", "Hanna")])
def test_two_short_forms_of_one_name_are_two_people_at_home(one: str, other: str) -> None:
    shared = {"phone": "018-12 34 56", "street": "Kungsgatan 1"}
    a = _person(f"{one} Berg", **shared)
    b = _person(f"{other} Berg", **shared)
    assert RULES.compare(a, b)[1] is not Decision.MATCH
