"""Rules and rule sets: evidence, weights, clauses, symmetry, explanations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import Lead, PhoneNumber, PostalAddress, ValidationError
from crmcore.dedup import (
    AddressRule,
    BirthDateRule,
    Clause,
    Decision,
    EmailRule,
    Evidence,
    IdentifierRule,
    MatchRecord,
    OrganizationNameRule,
    PersonNameRule,
    PhoneRule,
    RecordType,
    Rule,
    RuleSet,
    default_rules,
)
from crmcore.dedup.normalize import organization_key
from crmcore.testing.strategies import email_addresses, person_names, phone_numbers
from tests.dedup._helpers import organization, person

RULES = default_rules()


def decision(a: MatchRecord, b: MatchRecord, rules: RuleSet = RULES) -> Decision:
    return rules.compare(a, b)[1]


def test_rule_set_default_is_default_rules() -> None:
    assert RuleSet.default() is default_rules()
    names = [r.name for r in RULES.rules]
    for expected in (
        "email",
        "phone",
        "name",
        "organization",
        "email_domain",
        "identifier",
        "address",
        "birth_date",
    ):
        assert expected in names
    assert all(isinstance(r, Rule) for r in RULES.rules)
    assert "RuleSet(" in repr(RULES)


def test_blank_fields_are_no_evidence_either_way() -> None:
    a = person("a", "Anna", "Berg", emails=["anna@example.org"])
    b = person("b", "Anna", "Berg")
    _, _, evidence = RULES.compare(a, b)
    assert {e.rule for e in evidence} == {"name"}
    assert EmailRule().compare(a, b) is None
    assert PhoneRule().compare(a, b) is None


@pytest.mark.parametrize(
    ("given_a", "family_a", "given_b", "family_b", "method"),
    [
        ("Robert", "Smith", "Bob", "Smith", "nickname"),
        ("Åsa", "Lindqvist", "Asa", "Lindqvist", "exact"),
        ("Jürgen", "Müller", "Juergen", "Mueller", "exact"),
        ("Anna", "Berg", "Berg", "Anna", "swapped"),
        ("Katharina", "Schmidt", "Katarina", "Schmidt", "nickname"),
        ("Jonathan", "Whitfield", "Jonathon", "Whitfeld", "jaro_winkler"),
    ],
)
def test_name_variants_agree(
    given_a: str, family_a: str, given_b: str, family_b: str, method: str
) -> None:
    evidence = PersonNameRule().compare(
        person("a", given_a, family_a), person("b", given_b, family_b)
    )
    assert evidence is not None
    assert evidence.method == method
    assert evidence.weight > 5


def test_same_family_different_given_name_counts_against() -> None:
    evidence = PersonNameRule().compare(person("a", "Anna", "Berg"), person("b", "Karl", "Berg"))
    assert evidence is not None
    assert evidence.weight < 0


def test_initial_is_weak_evidence() -> None:
    rule = PersonNameRule()
    initial = rule.compare(person("a", "A.", "Berg"), person("b", "Anna", "Berg"))
    full = rule.compare(person("a", "Anna", "Berg"), person("b", "Anna", "Berg"))
    other = rule.compare(person("a", "K.", "Berg"), person("b", "Anna", "Berg"))
    assert initial is not None
    assert full is not None
    assert other is not None
    assert 0 < initial.weight < full.weight
    assert other.weight < 0


def test_identifier_typo_and_transposition() -> None:
    rule = IdentifierRule()
    base = person("a", "A", "B", ids={"ssn": "1234567"})
    for value, method in (
        ("1234567", "exact"),
        ("1234568", "one_edit"),
        ("1243567", "transposition"),
        ("7654321", "different"),
    ):
        evidence = rule.compare(base, person("b", "A", "B", ids={"ssn": value}))
        assert evidence is not None
        assert evidence.method == method
    other_scheme = rule.compare(base, person("b", "A", "B", ids={"vat": "1234567"}))
    assert other_scheme is not None
    assert other_scheme.weight == 0


def test_birth_date_levels() -> None:
    rule = BirthDateRule()
    base = person("a", "A", "B", born=date(1980, 3, 4))

    def method(born: date) -> str:
        evidence = rule.compare(base, person("b", "A", "B", born=born))
        assert evidence is not None
        return evidence.method

    assert method(date(1980, 3, 4)) == "exact"
    assert method(date(1980, 4, 3)) == "swapped_day_month"
    assert method(date(1981, 3, 4)) == "one_digit"
    assert method(date(1980, 11, 20)) == "same_year"
    assert method(date(1955, 11, 20)) == "different"


def test_email_typo_only_for_letters() -> None:
    rule = EmailRule()
    a = person("a", None, "X", emails=["anna.lindqvist@example.org"])
    typo = rule.compare(a, person("b", None, "X", emails=["anna.lindqvsit@example.org"]))
    assert typo is not None
    assert typo.method == "different"
    one = rule.compare(a, person("b", None, "X", emails=["anna.lindqist@example.org"]))
    assert one is not None
    assert one.method == "one_edit"
    for other in ("anna_lindqvist@example.org", "anna.lindqvist2@example.org"):
        evidence = rule.compare(a, person("b", None, "X", emails=[other]))
        assert evidence is not None
        assert evidence.method == "different"


def test_organisations_match_on_names_and_domains() -> None:
    a = organization("a", "Acme AB", emails=["info@acme.example"])
    b = organization("b", "ACME Aktiebolag", emails=["sales@acme.example"])
    c = organization("c", "Borealis GmbH", emails=["info@borealis.example"])
    assert decision(a, b) is Decision.MATCH
    assert decision(a, c) is Decision.NON_MATCH


def test_shared_switchboard_does_not_merge_colleagues() -> None:
    a = person("a", "Anna", "Berg", phones=["08-123 456 78"], company="Acme AB")
    b = person("b", "Karl", "Berg", phones=["08-123 456 78"], company="Acme AB")
    score, verdict, evidence = RULES.compare(a, b)
    assert verdict is Decision.NON_MATCH
    assert any(e.clause == "shared_contact" for e in evidence)
    assert score < 0.5


def test_family_mailbox_and_home_phone_do_not_merge_relatives() -> None:
    shared = {"emails": ["familie.schmidt@gmail.com"], "phones": ["+49 30 1234567"]}
    a = person("a", "Heidi", "Schmidt", city="Berlin", **shared)  # type: ignore[arg-type]
    b = person("b", "Raik", "Schmidt", city="Berlin", **shared)  # type: ignore[arg-type]
    assert decision(a, b) is Decision.NON_MATCH


def test_personal_email_alone_matches() -> None:
    a = person("a", None, None, emails=["anna.lindqvist@example.org"], city="Umeå")
    b = person("b", "Anna", "Lindqvist", emails=["Anna.Lindqvist@Example.org"])
    assert decision(a, b) is Decision.MATCH


def test_same_name_different_contacts_is_only_possible() -> None:
    a = person("a", "Anna", "Lindqvist", emails=["al@one.example"], phones=["070-111 22 33"])
    b = person("b", "Anna", "Lindqvist", emails=["al@two.example"], phones=["070-999 88 77"])
    assert decision(a, b) is not Decision.MATCH


def test_clauses_decide_and_are_named_in_the_evidence() -> None:
    rules = RuleSet(
        rules=(EmailRule(), PersonNameRule()),
        clauses=(
            Clause("email_and_name", at_least={"email": 1.0, "name": 0.8}),
            Clause("names_differ", below={"name": 0.5}, decision=Decision.NON_MATCH),
        ),
    )
    a = person("a", "Anna", "Berg", emails=["anna@example.org"])
    b = person("b", "Anna", "Berg", emails=["anna@example.org"])
    c = person("c", "Karl", "Lund", emails=["anna@example.org"])
    score, verdict, evidence = rules.compare(a, b)
    assert verdict is Decision.MATCH
    assert score >= rules.match
    assert {e.clause for e in evidence} == {"email_and_name"}
    score, verdict, evidence = rules.compare(a, c)
    assert verdict is Decision.NON_MATCH
    assert score < rules.possible
    assert any(e.clause == "names_differ" for e in evidence)


def test_clause_needs_evidence() -> None:
    clause = Clause("x", at_least={"email": 0.5})
    assert not clause.fires({})
    assert not Clause("empty").fires({"email": 1.0})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"match": 1.5},
        {"possible": 0.0},
        {"match": 0.6, "possible": 0.7},
        {"rules": ()},
        {"rules": (EmailRule(), EmailRule())},
        {"max_block_size": 1},
        {"window": 0},
        {"clauses": (Clause("x", at_least={"nope": 1.0}),)},
    ],
)
def test_rule_set_validation(kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"rules": (EmailRule(),), **kwargs}
    with pytest.raises(ValidationError):
        RuleSet(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rules": 5}, "rules"),
        ({"rules": "email"}, "rules"),
        ({"rules": (x for x in [EmailRule()])}, "rules"),
        ({"rules": [EmailRule(), 5]}, "rules[1]"),
        ({"clauses": [5]}, "clauses[0]"),
        ({"clauses": 5}, "clauses"),
        ({"max_block_size": "16"}, "max_block_size"),
        ({"window": 2.5}, "window"),
        ({"prior": "x"}, "prior"),
        ({"conflict_weight": float("nan")}, "conflict_weight"),
        ({"shared_cap": None}, "shared_cap"),
    ],
)
def test_rule_set_names_the_argument_of_the_wrong_kind(
    kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"rules": (EmailRule(),), **kwargs}
    with pytest.raises(ValidationError) as caught:
        RuleSet(**arguments)  # type: ignore[arg-type]
    assert caught.value.paths == (field,)


class ShoeSizeRule:
    """A user rule: neither a FieldRule nor built in."""

    name = "shoe_size"

    def blocking_keys(self, record: MatchRecord) -> Iterable[str]:
        size = record.identifiers.get("shoe")
        return [f"shoe_size:{size}"] if size else []

    def compare(self, a: MatchRecord, b: MatchRecord) -> Evidence | None:
        x, y = a.identifiers.get("shoe"), b.identifiers.get("shoe")
        if x is None or y is None:
            return None
        same = x == y
        return Evidence(self.name, "shoe", "exact", 1.0 if same else 0.0, 30.0 if same else -30.0)


def test_user_rules_take_part_in_scoring() -> None:
    rules = RULES.with_rules(ShoeSizeRule())
    a = person("a", "Anna", "Berg", ids={"shoe": "38"})
    b = person("b", "Karl", "Lund", ids={"shoe": "38"})
    assert isinstance(ShoeSizeRule(), Rule)
    assert decision(a, b, rules) is Decision.MATCH
    assert "shoe_size:38" in rules.blocking_keys(a)
    replaced = rules.with_rules(ShoeSizeRule())
    assert [r.name for r in replaced.rules].count("shoe_size") == 1


records = st.builds(
    lambda i, name, email, phone, born: MatchRecord(
        id=f"r{i}",
        name=name,
        emails=(email,) if email else (),
        phones=(phone,) if phone else (),
        birth_date=born,
    ),
    st.integers(0, 10**6),
    st.one_of(st.none(), person_names()),
    st.one_of(st.none(), email_addresses(international=False)),
    st.one_of(st.none(), phone_numbers()),
    st.one_of(st.none(), st.dates(date(1900, 1, 1), date(2020, 12, 31))),
)


@given(records, records)
def test_comparing_is_symmetric(a: MatchRecord, b: MatchRecord) -> None:
    ab = RULES.compare(a, b)
    ba = RULES.compare(b, a)
    assert ab[0] == pytest.approx(ba[0])
    assert ab[1] is ba[1]
    assert sorted((e.rule, e.weight) for e in ab[2]) == sorted((e.rule, e.weight) for e in ba[2])


@given(records, records)
def test_explanations_hold_no_personal_data(a: MatchRecord, b: MatchRecord) -> None:
    _, _, evidence = RULES.compare(a, b)
    explained = " ".join(f"{e.rule} {e.field} {e.method} {e.clause}" for e in evidence).casefold()
    for record in (a, b):
        values = [str(e).casefold() for e in record.emails]
        values += [p.e164 for p in record.phones]
        if record.name is not None:
            values += [p.casefold() for p in (record.name.given, record.name.family) if p]
        if record.birth_date is not None:
            values.append(record.birth_date.isoformat())
        for value in values:
            if len(value) > 3:
                assert value not in explained
        assert repr(record).startswith("MatchRecord(id=")


def test_company_lead_meets_its_organisation_by_domain() -> None:
    org = organization("o", "Acme Holding AB", emails=["info@acme.example"])
    lead = MatchRecord.from_record(
        Lead.create(name=None, company="ACME", emails=["ceo@acme.example"])
    )
    evidence = {e.rule: e for e in RULES.compare(org, lead)[2]}
    assert evidence["email_domain"].method == "exact"
    person_lead = MatchRecord.from_record(
        Lead.create(name="Eva Berg", company="ACME", emails=["eva@acme.example"])
    )
    assert "email_domain" not in {e.rule for e in RULES.compare(org, person_lead)[2]}


@pytest.mark.parametrize("nicknames", ["nicknames.csv", {"bob": "robert"}, None])
def test_person_name_rule_names_a_nickname_table_of_the_wrong_kind(nicknames: object) -> None:
    with pytest.raises(ValidationError) as caught:
        PersonNameRule(nicknames=nicknames)  # type: ignore[arg-type]
    assert caught.value.paths == ("nicknames",)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": None}, "name"),
        ({"at_least": 5}, "at_least"),
        ({"at_least": {"email": "1.0"}}, "at_least"),
        ({"below": ["name"]}, "below"),
        ({"decision": "match"}, "decision"),
    ],
)
def test_clause_names_the_argument_of_the_wrong_kind(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"name": "c", "at_least": {"email": 1.0}, **kwargs}
    with pytest.raises(ValidationError) as caught:
        Clause(**arguments)  # type: ignore[arg-type]
    assert caught.value.paths == (field,)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"id": 5}, "id"),
        ({"type": "person"}, "type"),
        ({"name": "Ann Lee"}, "name"),
        ({"organization": 5}, "organization"),
        ({"emails": "ann@example.com"}, "emails"),
        ({"phones": ("+46701234567",)}, "phones"),
        ({"addresses": ("Storgatan 1",)}, "addresses"),
        ({"birth_date": "1990-01-02"}, "birth_date"),
        ({"identifiers": {"vat": 5}}, "identifiers"),
    ],
)
def test_a_match_record_of_the_wrong_shape_names_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"id": "a", **kwargs}
    with pytest.raises(ValidationError) as caught:
        MatchRecord(**arguments)  # type: ignore[arg-type]
    assert caught.value.paths == (field,)
    assert "Ann" not in str(caught.value)


@pytest.mark.parametrize("bad", ["11", float("nan"), float("inf"), True, None])
def test_built_in_rule_weights_must_be_finite_numbers(bad: object) -> None:
    """A bad weight is refused when the rule is built, not in the middle of a run."""
    with pytest.raises(ValidationError) as info:
        EmailRule(agree=bad)  # type: ignore[arg-type]
    assert info.value.paths == ("agree",)
    with pytest.raises(ValidationError) as info:
        PhoneRule(disagree=bad)  # type: ignore[arg-type]
    assert info.value.paths == ("disagree",)


def test_integer_weights_are_taken_as_floats() -> None:
    assert PhoneRule(agree=10).agree == 10.0
    assert isinstance(PhoneRule(agree=10).agree, float)


def _office(record_id: str, street: str, city: str) -> MatchRecord:
    return MatchRecord(
        id=record_id,
        type=RecordType.ORGANIZATION,
        organization="Saturnus Restaurang AB",
        phones=(PhoneNumber.parse("08-123 456 78", "SE"),),
        addresses=(PostalAddress(lines=(street,), locality=city),),
    )


def test_branches_of_one_organisation_stay_apart_unless_asked() -> None:
    head_office = _office("a", "Kungsgatan 1", "Stockholm")
    branch = _office("b", "Storgatan 9", "Uppsala")
    _, verdict, evidence = RULES.compare(head_office, branch)
    assert verdict is Decision.NON_MATCH
    assert any(e.method == "branch" for e in evidence)
    merging = RULES.with_rules(AddressRule(branch=AddressRule().disagree))
    assert merging.compare(head_office, branch)[1] is Decision.MATCH
    assert RULES.compare(head_office, _office("c", "Kungsgatan 1", "Stockholm"))[1] is (
        Decision.MATCH
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Berg Bygg A.S.", "Berg Bygg A/S"),
        ("Müller Bau GmbH u. Co. KG", "Müller Bau GmbH & Co KG"),
        ("Acme B. V.", "Acme BV."),
        ("Acme N,V,", "Acme"),
        ("Acme Sp. z o.o.", "Acme"),
        ("Acme S.A. de C.V.", "Acme"),
        ("Koninklijke Acme N.V.", "Acme"),
    ],
)
def test_legal_forms_written_in_parts_are_legal_forms(one: str, other: str) -> None:
    assert organization_key(one) == organization_key(other)


def test_one_organisation_name_inside_the_other_with_one_phone_and_address_match() -> None:
    def office(record_id: str, name: str) -> MatchRecord:
        return MatchRecord(
            id=record_id,
            type=RecordType.ORGANIZATION,
            organization=name,
            phones=(PhoneNumber.parse("08-123 456 78", "SE"),),
            addresses=(PostalAddress(lines=("Kungsgatan 1",), locality="Stockholm"),),
        )

    _, verdict, evidence = RULES.compare(office("a", "Saturnus"), office("b", "Café Saturnus AB"))
    assert verdict is Decision.MATCH
    assert any(e.method == "contained" for e in evidence)
    # A name inside another is partial agreement: alone it decides nothing.
    alone = [
        MatchRecord(id=i, type=RecordType.ORGANIZATION, organization=n)
        for i, n in (("a", "Saturnus"), ("b", "Café Saturnus AB"))
    ]
    assert RULES.compare(*alone)[1] is not Decision.MATCH


def _restaurant(record_id: str, street: str) -> MatchRecord:
    return MatchRecord(
        id=record_id,
        type=RecordType.ORGANIZATION,
        organization="Fringe Bistro",
        phones=(PhoneNumber.parse("+1 415 555 0173"),),
        addresses=(PostalAddress(lines=(street,), locality="San Francisco"),),
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("570 4th St.", "570 Fourth Street"),
        ("156 2nd Ave. at 10th St.", "156 Second Avenue"),
        ("1110 Third Ave", "1110 3rd ave"),
        ("First Street", "1st St"),
    ],
)
def test_an_ordinal_street_written_out_is_the_same_street(one: str, other: str) -> None:
    # Not two branches at different addresses: one restaurant, written two ways.
    _, verdict, evidence = RULES.compare(_restaurant("a", one), _restaurant("b", other))
    assert verdict is Decision.MATCH
    assert [e.method for e in evidence if e.rule == "address"] == ["full"]


def test_a_house_number_is_never_an_ordinal() -> None:
    # "4th Street" has no house number; "4th" is the street's name.
    _, verdict, _ = RULES.compare(_restaurant("a", "4th Street"), _restaurant("b", "Fourth Street"))
    assert verdict is Decision.MATCH
    prepared = AddressRule().prepare(_restaurant("c", "4th Street 12"))
    assert prepared is not None
    assert (prepared.places[0].street, prepared.places[0].number) == ("4th street", "12")


_ORDINAL_WORDS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
_ORDINAL_WORDS += ["ninth", "tenth", "eleventh", "twelfth"]


@given(st.integers(1, 12), st.integers(1, 9999), st.sampled_from(["St", "Avenue", "Ave."]))
def test_ordinal_words_and_numerals_give_one_street(n: int, house: int, kind: str) -> None:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n, "th")
    written = AddressRule().prepare(_restaurant("a", f"{house} {_ORDINAL_WORDS[n - 1]} {kind}"))
    numeral = AddressRule().prepare(_restaurant("b", f"{house} {n}{suffix} {kind}"))
    assert written is not None
    assert numeral is not None
    assert written.places == numeral.places
    assert written.places[0].number == str(house)


@pytest.mark.parametrize(
    ("one", "other"),
    [("Arts Delicatessen", "Arts Deli"), ("Nordic Technologies AB", "Nordic Tech")],
)
def test_a_word_written_short_is_one_name_inside_the_other(one: str, other: str) -> None:
    def shop(record_id: str, name: str) -> MatchRecord:
        return MatchRecord(
            id=record_id,
            type=RecordType.ORGANIZATION,
            organization=name,
            phones=(PhoneNumber.parse("+1 818 555 0121"),),
            addresses=(PostalAddress(lines=("12224 Ventura Blvd",), locality="Studio City"),),
        )

    _, verdict, evidence = RULES.compare(shop("a", one), shop("b", other))
    assert verdict is Decision.MATCH
    assert [e.method for e in evidence if e.rule == "organization"] == ["abbreviated"]
    # Weaker than a whole word inside the other: alone it decides nothing.
    alone = [
        MatchRecord(id=i, type=RecordType.ORGANIZATION, organization=n)
        for i, n in (("a", one), ("b", other))
    ]
    assert RULES.compare(*alone)[1] is not Decision.MATCH


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Micro AB", "Microsoft AB"),
        ("Tele AB", "Telenor AB"),
        ("Star Electric", "Starbucks Electric"),
        ("Meta Consulting", "Metallica Consulting"),
    ],
)
@pytest.mark.parametrize(("phone", "address"), [(True, False), (False, True)])
def test_a_name_that_only_starts_another_needs_more_than_one_shared_contact_point(
    one: str, other: str, phone: bool, address: bool
) -> None:
    # Two firms in one office building or on one switchboard are common; a
    # shortened word is no reason to merge them on that alone.
    def firm(record_id: str, name: str) -> MatchRecord:
        return MatchRecord(
            id=record_id,
            type=RecordType.ORGANIZATION,
            organization=name,
            phones=(PhoneNumber.parse("+46 8 555 017 30"),) if phone else (),
            addresses=(
                (
                    PostalAddress(
                        lines=("Kungsgatan 12",), locality="Stockholm", postal_code="111 43"
                    ),
                )
                if address
                else ()
            ),
        )

    _, verdict, evidence = RULES.compare(firm("a", one), firm("b", other))
    assert verdict is not Decision.MATCH
    assert [e.method for e in evidence if e.rule == "organization"] != ["contained"]


def test_three_letters_are_not_a_word_written_short() -> None:
    rule = OrganizationNameRule()
    x = rule.prepare(MatchRecord(id="a", type=RecordType.ORGANIZATION, organization="Ber Bygg"))
    y = rule.prepare(MatchRecord(id="b", type=RecordType.ORGANIZATION, organization="Bergs Bygg"))
    assert x is not None
    assert y is not None
    assert rule.weigh(x, y)[2] not in ("contained", "abbreviated")


@given(st.lists(st.sampled_from(["acme", "nordic", "bygg", "deli", "tech", "café"]), min_size=1))
def test_containment_is_symmetric(words: list[str]) -> None:
    rule = OrganizationNameRule()
    one = " ".join(words)
    other = " ".join(reversed([w[: max(4, len(w) - 2)] for w in words]))
    x = rule.prepare(MatchRecord(id="a", type=RecordType.ORGANIZATION, organization=one))
    y = rule.prepare(MatchRecord(id="b", type=RecordType.ORGANIZATION, organization=other))
    assert x is not None
    assert y is not None
    assert rule.weigh(x, y) == rule.weigh(y, x)
