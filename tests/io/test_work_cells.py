"""crmcore.io's reading of work-item cells and headers: amounts, dates, times, stages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import ValidationError
from crmcore.io import WORK_FIELDS, WORK_HEADER_ALIASES, Table, import_columns
from crmcore.io._import_work import (
    find_stage,
    parse_amount,
    parse_date,
    parse_moment,
    parse_probability_cell,
)
from tests.io.test_import_work import SALES

# --------------------------------------------------------------------------- cells


def _written(value: Decimal, style: str) -> str:
    whole, _, tail = f"{value:.2f}".partition(".")
    groups = f"{int(whole):,}"
    return {
        "plain": f"{whole}.{tail}",
        "us": f"{groups}.{tail}",
        "se": f"{groups.replace(',', ' ')},{tail}",
        "de": f"{groups.replace(',', '.')},{tail}",
    }[style]


@given(
    st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from(["plain", "us", "se", "de"]),
    st.sampled_from(["EUR", "SEK", "IDR"]),
    st.sampled_from(["before", "after", "option"]),
)
def test_amounts_written_the_ways_people_write_them_read_back_exactly(
    value: Decimal, style: str, code: str, where: str
) -> None:
    text = _written(value, style)
    cell = {"before": f"{code} {text}", "after": f"{text} {code}", "option": text}[where]
    money = parse_amount(cell, code if where == "option" else "USD", semicolons=True)
    assert money.amount == value
    assert money.currency == code


def test_amount_refusals_name_the_field() -> None:
    for cell, currency, semicolons, field in (
        ("1,200", "EUR", False, "amount"),  # thousands or decimals? refused, not guessed
        ("twelve", "EUR", True, "amount"),
        ("12 EUR USD", None, True, "amount"),
        ("12", None, True, "currency"),
        ("12 XYZ", None, True, "currency"),
        ("9" * 80, "EUR", True, "amount"),
    ):
        with pytest.raises(ValidationError) as caught:
            parse_amount(cell, currency, semicolons)
        assert caught.value.problems[0][0] == field
    assert parse_amount("1,200", "EUR", semicolons=True).amount == Decimal("1.200")
    assert parse_amount("1,25", "EUR", semicolons=False).amount == Decimal("1.25")


def test_dates_times_probabilities_and_stages() -> None:
    assert parse_date("2026-03-31", "close_date") == date(2026, 3, 31)
    assert parse_date("2026/3/31", "close_date") == date(2026, 3, 31)
    assert parse_date("31.03.2026", "close_date") == date(2026, 3, 31)
    assert parse_date("2026-03-31 00:00", "close_date") == date(2026, 3, 31)
    for bad in ("03/31/2026", "2026-02-30", "soon"):
        with pytest.raises(ValidationError, match="close_date"):
            parse_date(bad, "close_date")
    stockholm = ZoneInfo("Europe/Stockholm")
    assert parse_moment("2026-01-05", "reported", stockholm, end_of_day=False) == datetime(
        2026, 1, 5, tzinfo=stockholm
    )
    assert parse_moment("2026-01-05T10:00Z", "reported", None, end_of_day=False) == datetime(
        2026, 1, 5, 10, tzinfo=UTC
    )
    for text in ("2026-01-05", "2026-01-05 10:00"):
        with pytest.raises(ValidationError) as caught:
            parse_moment(text, "reported", None, end_of_day=False)
        assert caught.value.problems[0][0] == "reported"
        assert "--timezone" in caught.value.problems[0][1]
    assert parse_probability_cell("0.35") == Decimal("0.35")
    assert parse_probability_cell("35 %") == Decimal("0.35")
    assert parse_probability_cell("35") == Decimal("0.35")
    assert parse_probability_cell("1") == Decimal("1")
    for bad in ("150", "-1", "half"):
        with pytest.raises(ValidationError, match="probability"):
            parse_probability_cell(bad)
    assert find_stage(SALES, "CLOSED-WON").id == "won"
    assert find_stage(SALES, "closed_lost").id == "lost"
    with pytest.raises(ValidationError, match="stage"):
        find_stage(SALES, "cart")


_REQUIRED = {
    "opportunities": ("name", "customer"),
    "tasks": ("title",),
    "cases": ("subject", "customer"),
}


@given(st.sampled_from(sorted(WORK_FIELDS)), st.data())
def test_every_recognised_header_feeds_a_field_of_its_entity(
    entity: str, data: st.DataObject
) -> None:
    aliases = WORK_HEADER_ALIASES[entity]
    header = data.draw(st.sampled_from(sorted(aliases)))
    field = aliases[header]
    assert field in WORK_FIELDS[entity]
    table = Table((header, "Other"), [["x", "y"]])
    # The required fields the recognised column does not feed are read from the other one.
    needed = [(f, "Other") for f in _REQUIRED[entity] if f != field]
    columns = import_columns(table, entity=entity, mapped=needed)
    assert (header, field) in columns.read
    assert columns.custom == (() if needed else ("Other",))
