"""Reading CSV input: encodings, header recognition, --map, country cells."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.cli._errors import EXIT_INPUT, EXIT_USAGE, CliError
from crmcore.cli._table import parse_map_options, read_table, resolve_columns
from crmcore.io import FIELDS, country_code


def write(tmp_path: Path, data: bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("given_name", "given_name"),
        ("First Name", "given_name"),
        ("first_name", "given_name"),
        ("FIRSTNAME", "given_name"),
        ("family_name", "family_name"),
        ("Last Name", "family_name"),
        ("surname", "family_name"),
        ("Name", "name"),
        ("full_name", "name"),
        ("E-mail", "email"),
        ("email_address", "email"),
        ("Mobile", "phone"),
        ("Telephone", "phone"),
        ("phone_number", "phone"),
        ("Company", "company"),
        ("Organisation", "company"),
        ("organization", "company"),
        ("City", "city"),
        ("COUNTRY", "country"),
        ("Postal Code", "postcode"),
        ("date_of_birth", "birth_date"),
    ],
)
def test_common_headers_are_recognised_case_insensitively(header: str, field: str) -> None:
    columns = resolve_columns(("id", header, "notes"), [])
    assert columns.get(field) == (1,)
    assert columns.used_columns() == (1,)


def test_unrelated_headers_feed_no_field() -> None:
    columns = resolve_columns(("rec_id", "entity_id", "notes", "soc_sec_id"), [])
    assert columns.fields == {}


def test_several_phone_columns_all_feed_phone() -> None:
    columns = resolve_columns(("Phone", "Mobile", "email", "Email Address"), [])
    assert columns.get("phone") == (0, 1)
    assert columns.get("email") == (2, 3)


def test_map_adds_fields_and_replaces_recognised_columns() -> None:
    header = ("given_name", "surname", "suburb", "address_1", "address_2", "soc_sec_id", "city")
    mapped = parse_map_options(
        ["city=suburb", "address=address_1", "address=address_2", "identifier=soc_sec_id"]
    )
    columns = resolve_columns(header, mapped)
    assert columns.get("city") == (2,)  # the recognised "city" column no longer feeds city
    assert columns.get("address") == (3, 4)
    assert columns.get("identifier") == (5,)
    assert columns.get("given_name") == (0,)


def test_a_column_mapped_elsewhere_leaves_its_recognised_field() -> None:
    columns = resolve_columns(("Name", "Company"), parse_map_options(["company=Name"]))
    assert columns.get("company") == (0,)
    assert columns.get("name") == ()


def test_map_matches_columns_case_insensitively() -> None:
    columns = resolve_columns(("Suburb",), parse_map_options(["city=suburb"]))
    assert columns.get("city") == (0,)


@pytest.mark.parametrize("option", ["city", "=suburb", "city=", "town=suburb"])
def test_malformed_or_unknown_map_fields_are_usage_errors(option: str) -> None:
    with pytest.raises(CliError) as info:
        parse_map_options([option])
    assert info.value.exit_code == EXIT_USAGE


def test_unknown_map_column_names_the_column() -> None:
    with pytest.raises(CliError, match="unknown column 'nope'") as info:
        resolve_columns(("a",), parse_map_options(["city=nope"]))
    assert info.value.exit_code == EXIT_USAGE


def test_single_valued_field_mapped_twice_is_refused() -> None:
    with pytest.raises(CliError, match="more than once"):
        resolve_columns(("a", "b"), parse_map_options(["city=a", "city=b"]))


def test_every_field_is_documented() -> None:
    assert all(meaning for meaning in FIELDS.values())


def test_reads_utf8_with_and_without_bom(tmp_path: Path) -> None:
    body = "name,city\nÅsa Lind,Göteborg\n".encode()
    plain = read_table(write(tmp_path, body, "plain.csv"))
    bom = read_table(write(tmp_path, b"\xef\xbb\xbf" + body, "bom.csv"))
    assert plain.header == bom.header == ("name", "city")
    assert plain.rows == bom.rows == [["Åsa Lind", "Göteborg"]]
    assert (plain.had_bom, bom.had_bom) == (False, True)


def test_short_rows_are_padded_and_long_rows_noted(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, b"a,b,c\n1\n1,2,3,4\n\n5,6,7\n"))
    assert table.rows == [["1", "", ""], ["1", "2", "3", "4"], ["5", "6", "7"]]
    assert table.long_rows == (1,)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("name\nJosé\n".encode("latin-1"), "is not UTF-8"),
        (b"", "is empty"),
        (b"a,b\n\x00\x01\n", "NUL"),
        (b'a,b\n"unterminated\n', "not valid CSV"),
        (b"a,a\n1,2\n", "more than once"),
    ],
)
def test_unreadable_input_is_one_clear_error(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(CliError, match=message) as info:
        read_table(write(tmp_path, data))
    assert info.value.exit_code == EXIT_INPUT
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="no such file"):
        read_table(tmp_path / "missing.csv")


def test_the_encoding_error_does_not_repeat_the_data(tmp_path: Path) -> None:
    with pytest.raises(CliError) as info:
        read_table(write(tmp_path, "email\nsecret.person@example.com\xe9\n".encode("latin-1")))
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SE", "SE"),
        ("se", "SE"),
        (" de ", "DE"),
        ("Sweden", "SE"),
        ("sweden", "SE"),
        ("Germany", "DE"),
        ("Indonesia", "ID"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("United States", "US"),
        ("USA", "US"),
        ("Deutschland", "DE"),
        ("Sverige", "SE"),
        ("C\u00f4te d\u2019Ivoire", "CI"),
        ("Narnia", None),
        ("XX", None),
        ("", None),
    ],
)
def test_country_cells(text: str, code: str | None) -> None:
    assert country_code(text) == code


@given(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
def test_every_phone_region_is_found_by_code_and_by_english_name(region: str) -> None:
    from phonenumbers.geodata.locale import LOCALE_DATA

    assert country_code(region.lower()) == region
    names = LOCALE_DATA.get(region, {})
    english = names.get("en", "")
    if english.startswith("*"):
        english = names.get(english[1:], "")
    if english and not english.startswith("*"):
        assert country_code(english) == region
