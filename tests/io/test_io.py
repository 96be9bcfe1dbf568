"""crmcore.io: tables from files and dicts, column plans, rows to entities and match records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import CustomerKind, ValidationError
from crmcore.dedup import RecordType
from crmcore.io import (
    ColumnError,
    InputError,
    Table,
    match_records,
    plan_columns,
    read_csv,
    read_jsonl,
    read_rows,
    row_to_customer,
    row_to_lead,
)


def test_a_table_from_dicts_takes_every_key_in_first_seen_order() -> None:
    table = Table.from_dicts([{"a": 1, "b": None}, {"c": "x", "a": "2"}])
    assert table.header == ("a", "b", "c")
    assert table.rows == [["1", "", ""], ["2", "", "x"]]


def test_jsonl_and_csv_give_the_same_table(tmp_path: Path) -> None:
    rows = [{"name": "Åsa Lind", "email": "asa@example.se"}, {"name": "Bo", "email": ""}]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    csv_file = tmp_path / "in.csv"
    csv_file.write_text("name,email\nÅsa Lind,asa@example.se\nBo,\n", encoding="utf-8")
    assert read_rows(jsonl).rows == read_rows(csv_file).rows == read_csv(csv_file).rows


@pytest.mark.parametrize(
    ("data", "message"),
    [(b'{"a": 1}\n[1]\n', "line 2 is not a JSON object"), (b"{nope\n", "line 1"), (b"\n", "empty")],
)
def test_unreadable_jsonl_names_the_line_not_the_data(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message) as info:
        read_jsonl(path)
    assert "nope" not in str(info.value)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_csv(tmp_path / "missing.csv")


def test_plan_errors_are_validation_errors_naming_the_field() -> None:
    with pytest.raises(ColumnError) as info:
        plan_columns(("a",), [("city", "Town")])
    assert isinstance(info.value, ValidationError)
    assert (info.value.field, info.value.column) == ("city", "Town")
    assert info.value.paths == ("city",)
    with pytest.raises(ColumnError, match="unknown field"):
        plan_columns(("a",), [("shoe_size", "a")])
    with pytest.raises(ColumnError, match="more than once"):
        plan_columns(("a", "b"), [("city", "a"), ("city", "b")])


def test_a_row_becomes_a_person_customer_with_parsed_contacts() -> None:
    customer = row_to_customer(
        {
            "First Name": "Åsa",
            "Last Name": "Lind",
            "E-mail": "ASA@Example.se; asa@example.se",
            "Phone": "070-123 45 67",
            "Country": "Sweden",
            "Company": "Lind AB",
            "DOB": "31.12.1980",
        }
    )
    assert customer.kind is CustomerKind.PERSON
    assert [e.address.match_key for e in customer.emails] == ["asa@example.se"]
    assert [p.number.e164 for p in customer.phones] == ["+46701234567"]
    assert customer.birth_date is not None
    assert customer.birth_date.year == 1980
    assert customer.custom_fields["company"] == "Lind AB"


def test_a_row_naming_only_a_company_is_an_organisation() -> None:
    customer = row_to_customer({"company": "Acme", "phone": "0049 30 1234567"})
    assert customer.kind is CustomerKind.ORGANIZATION
    # 00 is an international prefix when no region is known.
    assert customer.phones[0].number.e164 == "+49301234567"


def test_an_unreadable_cell_names_its_column_never_its_value() -> None:
    with pytest.raises(ValidationError) as info:
        row_to_customer({"name": "Ada", "email": "secret-not-an-address", "Org No": "x"})
    assert info.value.paths == ("email",)
    assert "secret" not in str(info.value)
    with pytest.raises(ValidationError) as nameless:
        row_to_customer({"email": "a@example.com"})
    assert nameless.value.paths == ("name",)


def test_a_lead_refuses_fields_it_does_not_have() -> None:
    lead = row_to_lead({"name": "Ada Lovelace", "company": "Engines", "email": "ada@example.com"})
    assert lead.company == "Engines"
    with pytest.raises(ValidationError) as info:
        row_to_lead({"name": "Ada", "city": "London", "dob": "1815-12-10"})
    assert info.value.paths == ("address", "birth_date")


_cells = st.sampled_from(
    ["", "Ada Lovelace", "ada@example.com", "a@b", "+46 70 123 45 67", "0701234567", "Acme", "SE"]
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {"name": _cells, "email": _cells, "phone": _cells, "company": _cells, "country": _cells}
        ),
        max_size=6,
    )
)
def test_match_records_agree_with_row_by_row_customers(rows: list[dict[str, str]]) -> None:
    table = Table.from_dicts(rows)
    built = match_records(table, plan_columns(table.header), workers=1)
    for index, (row, record) in enumerate(zip(rows, built.records, strict=True)):
        try:
            customer = row_to_customer(row)
        except ValidationError:
            bad = index + 2 in built.problems.rows
            nameless = record.name is None and record.organization is None
            assert bad or nameless
            continue
        assert index + 2 not in built.problems.rows
        assert [e.address for e in customer.emails] == list(record.emails)
        assert [p.number for p in customer.phones] == list(record.phones)
        expected = (
            RecordType.ORGANIZATION
            if customer.kind is CustomerKind.ORGANIZATION
            else (RecordType.PERSON)
        )
        assert record.type is expected
