"""Columns a plan may have missed, and phone numbers that need a region."""

from __future__ import annotations

from crmcore.io import (
    Lookalike,
    Table,
    lookalike_columns,
    match_records,
    phone_region_hint,
    plan_columns,
)


def table(header: list[str], *rows: list[str]) -> Table:
    return Table(tuple(header), [list(r) for r in rows])


def test_unread_email_and_phone_columns_are_found_by_their_cells() -> None:
    t = table(
        ["Namn", "Kontakt", "Nummer", "Kundnr"],
        ["Åsa Lind", "asa@example.se", "+46 70 123 45 67", "10023"],
        ["Bo Ek", "bo@example.se", "070-765 43 21", "10024"],
        ["Siti", "siti@example.co.id", "0812 3456 7890", "10025"],
    )
    plan = plan_columns(t.header)
    assert plan.get("name") == (0,)
    assert lookalike_columns(t, plan) == [
        Lookalike("Kontakt", "email", "email"),
        Lookalike("Nummer", "phone", "phone"),
    ]  # customer numbers are not phones: they start with neither + nor 0


def test_a_phone_header_with_digits_is_a_phone_and_labels_are_not() -> None:
    t = table(
        ["Email", "Mobilnr", "Phone 1 - Label", "Telefonnotiz"],
        ["a@example.se", "70 123 45 67", "Mobile", "ring efter 17"],
        ["b@example.se", "70 765 43 21", "Work", ""],
    )
    assert lookalike_columns(t, plan_columns(t.header)) == [Lookalike("Mobilnr", "phone", "phone")]


def test_name_columns_are_reported_only_when_no_name_is_read() -> None:
    t = table(["Email", "Kundnamn"], ["a@example.se", "Åsa Lind"])
    assert lookalike_columns(t, plan_columns(t.header)) == [Lookalike("Kundnamn", "name", "name")]
    t = table(["Email", "Kundnamn", "Name"], ["a@example.se", "Åsa Lind", "Åsa Lind"])
    assert lookalike_columns(t, plan_columns(t.header)) == []


def test_empty_or_mapped_columns_are_never_reported() -> None:
    t = table(["Name", "Mail 2", "Fax"], ["Ada", "", ""])
    assert lookalike_columns(t, plan_columns(t.header)) == []
    t = table(["Name", "Kontakt"], ["Ada", "ada@example.com"])
    assert lookalike_columns(t, plan_columns(t.header, [("email", "Kontakt")])) == []


def _hint(rows: list[list[str]], header: list[str], region: str | None = None) -> bool:
    t = table(header, *rows)
    plan = plan_columns(t.header)
    built = match_records(t, plan, region=region, workers=1)
    return phone_region_hint(t, plan, built.problems)


def test_national_numbers_without_a_region_ask_for_one() -> None:
    rows = [["Åsa", "070-123 45 67"], ["Bo", "08-123 456 78"], ["Siti", "+62 812 3456 7890"]]
    assert _hint(rows, ["Namn", "Telefon"])
    assert not _hint(rows, ["Namn", "Telefon"], region="SE")  # read in Sweden: no hint
    with_country = [[*r, "SE"] for r in rows]
    assert not _hint(with_country, ["Namn", "Telefon", "Land"])


def test_garbage_written_internationally_is_not_blamed_on_the_region() -> None:
    rows = [["Åsa", "+00 1"], ["Bo", "+99 2"], ["Cy", "070-123 45 67"]]
    assert not _hint(rows, ["Namn", "Telefon"])


def test_fax_pager_and_assistant_numbers_are_left_unread_without_a_warning() -> None:
    t = table(
        ["Name", "Business Fax", "Pager", "Assistant's Phone"],
        ["Ada", "+44 20 7946 0001", "+44 20 7946 0002", "+44 20 7946 0003"],
    )
    assert lookalike_columns(t, plan_columns(t.header)) == []
