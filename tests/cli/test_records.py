"""Rows to match records: regions, parse caches, problems, parallel parsing."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.dedup import RecordType
from crmcore.io import RecordBuild, Table, parse_birth_date, phone_key
from crmcore.io import match_records as build_records
from crmcore.io import parsing as _records
from crmcore.io import plan_columns as resolve_columns
from crmcore.io.parsing import EmailResult, parse_distinct, parse_phones


def table(header: tuple[str, ...], *rows: list[str]) -> Table:
    return Table(header, [list(r) for r in rows], had_bom=False)


def build(t: Table, maps: tuple[str, ...] = (), **kwargs: object) -> RecordBuild:
    mapped = [(field, column) for field, _, column in (m.partition("=") for m in maps)]
    columns = resolve_columns(t.header, mapped)
    return build_records(t, columns, workers=1, **kwargs)  # type: ignore[arg-type]


def test_phone_region_comes_from_country_then_region_column_then_default() -> None:
    t = table(
        ("phone", "country", "market"),
        ["070-123 45 67", "Sweden", "DE"],
        ["0151 2345678", "", "Germany"],
        ["(212) 555-0100", "", ""],
        ["070-123 45 67", "SE", ""],
    )
    records = build(t, region="US", region_column=2).records
    assert [r.phones[0].e164 for r in records] == [
        "+46701234567",
        "+491512345678",
        "+12125550100",
        "+46701234567",
    ]


def test_unparseable_cells_keep_the_row_and_name_row_and_column() -> None:
    t = table(
        ("name", "email", "phone", "country"),
        ["Ada Lovelace", "ada@example.com", "+44 20 7946 0000", "GB"],
        ["Bob Smith", "not an email", "12", "Narnia"],
        ["", "", "0701234567", ""],
    )
    built = build(t)
    assert len(built.records) == 3
    second = built.records[1]
    assert second.name is not None
    assert second.name.family == "Smith"
    assert second.emails == ()
    assert second.phones == ()
    assert built.problems.by_column == {"country": [3], "email": [3], "phone": [3, 4]}


def test_each_distinct_value_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = _records.parse_emails

    def counting(texts: list[str]) -> list[EmailResult]:
        seen.append(len(texts))
        return original(texts)

    monkeypatch.setattr(_records, "parse_emails", counting)
    t = table(("email",), *([["a@example.com"]] * 50), [" a@example.com "], ["b@example.com"])
    records = build(t).records
    assert seen == [2]
    assert records[0].emails == records[50].emails


def test_phone_cache_key_includes_the_region() -> None:
    t = table(("phone", "country"), ["0701234567", "SE"], ["0701234567", "DE"])
    first, second = build(t).records
    assert first.phones[0].e164 != second.phones[0].e164


def test_parallel_parsing_agrees_with_sequential(monkeypatch: pytest.MonkeyPatch) -> None:
    emails = [f"user{i}@example.com" for i in range(300)] + ["broken", "x@"]
    phones: list[tuple[str, str | None]] = [(f"070-{i:03d} 45 67", "SE") for i in range(300)]
    phones.append(("abc", "SE"))
    sequential = parse_distinct(emails, phones, workers=1)
    monkeypatch.setattr(_records, "PARALLEL_THRESHOLD", 10)
    ticks: list[int] = []
    parallel = parse_distinct(emails, phones, workers=2, advance=ticks.append)
    assert parallel == sequential
    assert sum(ticks) == len(emails) + len(phones)
    assert sequential[0]["broken"] is None


def test_record_fields_from_mapped_columns() -> None:
    t = table(
        ("given_name", "surname", "street_number", "address_1", "suburb", "postcode", "dob", "ssn"),
        ["mitchell", "green", "7", "wallaby place", "delmar", "2119", "19560409", "1804974"],
    )
    maps = (
        "street_number=street_number",
        "address=address_1",
        "city=suburb",
        "birth_date=dob",
        "identifier=ssn",
    )
    (record,) = build(t, maps).records
    assert record.name is not None
    assert (record.name.given, record.name.family) == ("mitchell", "green")
    assert record.addresses[0].lines == ("7 wallaby place",)
    assert record.addresses[0].locality == "delmar"
    assert record.addresses[0].postal_code == "2119"
    assert record.birth_date == date(1956, 4, 9)
    assert dict(record.identifiers) == {"ssn": "1804974"}


def test_a_company_without_a_person_is_an_organisation() -> None:
    t = table(("name", "company"), ["", "Acme AB"], ["Åsa Lind", "Acme AB"])
    org, person = build(t).records
    assert org.type is RecordType.ORGANIZATION
    assert org.organization == "Acme AB"
    assert person.type is RecordType.PERSON
    assert person.organization == "Acme AB"


def test_cells_may_hold_several_contact_points() -> None:
    t = table(("email", "phone"), ["a@example.com; b@example.com", "+46701234567;+46812345678"])
    (record,) = build(t).records
    assert len(record.emails) == 2
    assert len(record.phones) == 2


def test_00_prefix_without_a_region_is_international() -> None:
    t = table(("phone",), ["0046 70 123 45 67"])
    (record,) = build(t).records
    assert record.phones[0].e164 == "+46701234567"


def test_bad_birth_date_is_a_problem_not_a_crash() -> None:
    t = table(("name", "dob"), ["A B", "19561340"])
    built = build(t)
    assert built.records[0].birth_date is None
    assert built.problems.by_column == {"dob": [2]}


@given(st.dates(min_value=date(1000, 1, 1)))
def test_birth_dates_in_every_accepted_format(day: date) -> None:
    for text in (
        day.isoformat(),
        day.strftime("%Y%m%d"),
        f"{day.year:04d}/{day.month}/{day.day}",
        f"{day.day}.{day.month}.{day.year:04d}",
    ):
        assert parse_birth_date(text) == day


@given(st.text(max_size=12))
def test_birth_date_parsing_never_raises(text: str) -> None:
    result = parse_birth_date(text)
    assert result is None or isinstance(result, date)


def test_rows_with_nothing_to_match_on_still_become_records() -> None:
    t = table(("email", "notes"), ["", "x"], ["", ""])
    assert len(build(t).records) == 2


@given(
    st.text(alphabet="+0123456789 .-()/x#", min_size=1, max_size=24),
    st.sampled_from(["SE", "DE", "US", "GB", "ID", None]),
)
def test_phone_cache_keys_parse_like_the_text_they_stand_for(text: str, region: str | None) -> None:
    text = text.strip()
    assert parse_phones([phone_key(text, region)]) == parse_phones(
        [(text, None if text.startswith("+") else region)]
    )


def test_equal_numbers_typed_differently_share_a_cache_key() -> None:
    assert phone_key("070-123 45 67", "SE") == phone_key("0701234567", "SE")
    assert phone_key("+46 70 123 45 67", "SE") == phone_key("+46701234567", "DE")


def test_records_built_with_workers_equal_those_built_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [
        [f"Person {i % 40}", f"p{i % 70}@example.com", f"070-{i % 90:03d} 45 67", "SE"]
        for i in range(200)
    ]
    rows.append(["Bad Row", "nope", "12", "Narnia"])
    t = table(("name", "email", "phone", "country"), *rows)
    columns = resolve_columns(t.header, [])
    alone = build_records(t, columns, workers=1)
    monkeypatch.setattr(_records, "PARALLEL_THRESHOLD", 10)
    together = build_records(t, columns, workers=2)
    assert together.records == alone.records
    assert together.problems.by_column == alone.problems.by_column
