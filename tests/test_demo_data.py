"""The demo's data: deterministic, messy in the ways real lists are, and importable."""

from __future__ import annotations

import collections
import csv
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from crmcore import EmailAddress, PhoneNumber
from crmcore._demo_data import (
    CONTACT_COLUMNS,
    CONTACT_FIELDS,
    INTERACTION_COLUMNS,
    TRUTH_COLUMN,
    contact_rows,
    interaction_rows,
    write_semicolon_csv,
)
from crmcore.io import row_to_customer

ROWS = contact_rows(2_000, seed=7, truth=True)


@given(count=st.integers(0, 40), seed=st.integers(0, 2**32))
def test_the_same_seed_gives_the_same_rows(count: int, seed: int) -> None:
    rows = contact_rows(count, seed)
    assert rows == contact_rows(count, seed)
    assert len(rows) == count
    assert all(tuple(row) == CONTACT_COLUMNS for row in rows)
    assert interaction_rows(rows, count, seed) == interaction_rows(rows, count, seed)


def test_another_seed_gives_other_rows() -> None:
    assert contact_rows(50, seed=1) != contact_rows(50, seed=2)


@given(count=st.integers(1, 30), seed=st.integers(0, 2**32))
def test_every_row_has_a_contact_point_and_imports(count: int, seed: int) -> None:
    for row in contact_rows(count, seed):
        assert row["E-post"].strip() or row["Telefon"]
        customer = row_to_customer(row, mapped=CONTACT_FIELDS)
        assert customer.emails or customer.phones


def test_about_a_third_of_the_people_are_in_the_list_more_than_once() -> None:
    sizes = collections.Counter(row[TRUTH_COLUMN] for row in ROWS)
    people = len(sizes)
    repeated = sum(1 for n in sizes.values() if n > 1)
    assert 0.25 <= repeated / people <= 0.45
    assert max(sizes.values()) <= 4
    duplicate_rows = len(ROWS) - people
    assert 0.25 <= duplicate_rows / len(ROWS) <= 0.45
    countries = collections.Counter(row["Land"] for row in ROWS)
    assert {"SE", "ID", "DE", "GB"} <= set(countries)


def _phone_key(row: dict[str, str]) -> str | None:
    if not row["Telefon"]:
        return None
    region = row["Land"] if len(row["Land"]) == 2 else None
    country = {"Sweden": "SE", "Indonesia": "ID", "Germany": "DE", "United Kingdom": "GB"}
    region = region or country.get(row["Land"])
    text = row["Telefon"]
    text = "+" + text[2:] if text.startswith("00") else text
    return PhoneNumber.parse(text, region).e164


def test_duplicates_are_corrupted_copies_and_some_look_alikes_are_not_duplicates() -> None:
    by_person: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
    for row in ROWS:
        by_person[row[TRUTH_COLUMN]].append(row)
    copies = [rows for rows in by_person.values() if len(rows) > 1]
    # Duplicates differ from each other as typed (case, spacing, formats, names),
    # bar a few exact copies, which real lists have too...
    differing = sum(1 for rows in copies if len({tuple(r.values())[1:-1] for r in rows}) > 1)
    assert differing >= 0.95 * len(copies)
    # ...and different people share a household or switchboard phone (hard negatives).
    people_by_phone: dict[str, set[str]] = collections.defaultdict(set)
    for row in ROWS:
        key = _phone_key(row)
        if key is not None:
            people_by_phone[key].add(row[TRUTH_COLUMN])
    shared = [people for people in people_by_phone.values() if len(people) > 1]
    assert len(shared) >= 10


def test_the_semicolon_file_reads_back_as_written(tmp_path: Path) -> None:
    rows = contact_rows(300, seed=3)
    path = tmp_path / "kunder.csv"
    write_semicolon_csv(path, rows)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel's UTF-8 marks its files
    assert b"\r\n" in raw
    # crmcore.io.read_csv learns delimiters in another stream; the csv module reads it now.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        assert tuple(reader.fieldnames or ()) == CONTACT_COLUMNS
        assert list(reader) == rows


def test_interactions_name_people_of_the_list_with_aware_ordered_timestamps() -> None:
    contacts = ROWS[:400]
    rows = interaction_rows(contacts, 300, seed=5)
    assert len(rows) == 300
    assert all(tuple(row) == INTERACTION_COLUMNS for row in rows)
    assert len({row["external_id"] for row in rows}) == 300
    moments = [datetime.fromisoformat(row["occurred_at"]) for row in rows]
    assert all(moment.tzinfo is not None for moment in moments)
    assert moments == sorted(moments)
    offsets = {(m.utcoffset() or timedelta()).total_seconds() / 3600 for m in moments}
    assert offsets >= {0, 1, 7}
    emails = {EmailAddress.parse(c["E-post"]).match_key for c in contacts if c["E-post"].strip()}
    phones = {_phone_key(c) for c in contacts}
    numbers = {c["Kundnr"] for c in contacts}
    channels = collections.Counter(row["channel"] for row in rows)
    assert set(channels) == {"email", "chat", "web_form", "phone_call"}
    for row in rows:
        named = [row["email"], row["phone"], row["customer_number"]]
        assert sum(1 for value in named if value) == 1
        if row["email"]:
            assert EmailAddress.parse(row["email"]).match_key in emails
        elif row["phone"]:
            assert PhoneNumber.parse(row["phone"]).e164 in phones
        else:
            assert row["customer_number"] in numbers


def test_the_data_needs_no_faker() -> None:
    code = (
        "import sys, crmcore._demo_data as d; d.contact_rows(10); assert 'faker' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
