"""``opportunities.totals`` on the database stores: one SQL aggregate, and exact.

SQLite has no decimal type: the stores sum each amount's integer count of
``10**-AMOUNT_SCALE`` in SQL and add, with Decimals, the amounts that have none
(more places, or beyond 64 bits), and every amount when SQLite's integer sum
overflows. Whatever the path, the totals must be the reference store's, to the
last digit and place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Final

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.opportunities import Opportunity
from crmcore.storage import InMemoryStore, SQLiteStore, WorkStore, where
from crmcore.storage._database import AMOUNT_SCALE, amount_columns
from crmcore.testing._stand_ins import store_referenced
from crmcore.testing._work_builders import opportunity
from crmcore.values import Money

StoreFactory = Callable[[], WorkStore]

_LIMIT = 2**63
BY: tuple[tuple[str, ...], ...] = (
    (),
    ("close_month",),
    ("pipeline_id", "stage_id"),
    ("status", "probability"),
    ("owner",),
    ("close_month", "status", "probability"),
)

# Every path of the sum: scaled integers, more places than AMOUNT_SCALE, beyond 64
# bits once scaled, exponents above zero, and pairs whose integer sum overflows.
amounts = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=2),
    st.decimals(min_value=0, max_value=10, places=AMOUNT_SCALE + 3),
    st.integers(min_value=0, max_value=10**33).map(Decimal),
    st.sampled_from(
        [
            Decimal("9.2E+14"),
            Decimal(_LIMIT - 1).scaleb(-AMOUNT_SCALE),
            Decimal("1E+3"),
            Decimal("0.00"),
            Decimal("5E+20"),
        ]
    ),
)
deals = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=40),
        st.none() | amounts,
        st.sampled_from(["EUR", "USD", "JPY"]),
    ),
    max_size=12,
)


def build(rows: Sequence[tuple[int, Decimal | None, str]]) -> list[Opportunity]:
    """Deals of the kit's builder with the drawn amounts."""
    return [
        attrs.evolve(opportunity(i), amount=None if value is None else Money(value, currency))
        for i, value, currency in rows
    ]


def rendered(store: WorkStore, by: Sequence[str]) -> list[tuple[object, ...]]:
    """The totals with each amount's text: the places count, not only the value."""
    return [
        (t.group, t.currency, t.count, str(t.amount))
        for t in store.opportunities.totals(where("status").in_(("open", "won", "lost")), by=by)
    ]


def check_totals(make_store: StoreFactory, batch: list[Opportunity], by: Sequence[str]) -> None:
    """The store's totals of ``batch`` are the in-memory reference's, digit for digit."""
    reference = InMemoryStore()
    store_referenced(reference, batch)
    reference.opportunities.add_many(batch)
    store = make_store()
    try:
        store_referenced(store, batch)
        store.opportunities.add_many(batch)
        assert rendered(store, by) == rendered(reference, by)
    finally:
        store.close()


@given(rows=deals, by=st.sampled_from(BY))
def test_totals_are_exact_on_every_path(
    rows: list[tuple[int, Decimal | None, str]], by: tuple[str, ...]
) -> None:
    check_totals(lambda: SQLiteStore(":memory:"), build(rows), by)


BIG: Final = Decimal(_LIMIT - 1).scaleb(-AMOUNT_SCALE)
"""An amount whose scaled integer is the largest in 64 bits."""
OVERFLOWING: Final = (
    (1, BIG, "EUR"),
    (2, BIG, "EUR"),
    (3, Decimal("0.5"), "USD"),
    (4, None, "EUR"),
)
"""Deals whose integer sum in EUR leaves 64 bits, though each amount fits."""


def test_an_integer_sum_that_overflows_is_summed_exactly() -> None:
    big = BIG
    assert amount_columns(big)["amount_units"] == _LIMIT - 1
    batch = build(OVERFLOWING)
    with SQLiteStore(":memory:") as store:
        store_referenced(store, batch)
        store.opportunities.add_many(batch)
        totals = {t.currency: t.amount for t in store.opportunities.totals()}
    assert totals == {None: Decimal(0), "EUR": big * 2, "USD": Decimal("0.5")}
    check_totals(lambda: SQLiteStore(":memory:"), batch, ("status",))


@pytest.mark.parametrize(
    ("value", "units"),
    [
        (Decimal("12.50"), 125_000),
        (Decimal("1E+3"), 10_000_000),
        (Decimal("0.00001"), None),  # more places than AMOUNT_SCALE
        (Decimal(10**16), None),  # 10**20 units: beyond 64 bits
    ],
)
def test_an_amount_is_summed_in_sql_only_when_its_scaled_integer_is_exact(
    value: Decimal, units: int | None
) -> None:
    columns = amount_columns(value)
    assert columns["amount_units"] == units
    assert Decimal(columns["amount"]) == value


def test_totals_read_only_the_covering_index(tmp_path: Path) -> None:
    """The forecast's aggregate searches one index and never reads a document page."""
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        deals = [opportunity(i) for i in range(50)]
        store_referenced(store, deals)
        store.opportunities.add_many(deals)
        store.opportunities.totals(where("status").in_(("open", "won")), by=("close_month",))
    raw = sqlite3.connect(path)
    try:
        plan = " | ".join(
            row[-1]
            for row in raw.execute(
                "EXPLAIN QUERY PLAN SELECT opportunities.close_month, opportunities.status, "
                "opportunities.probability, opportunities.currency, COUNT(*), SUM(amount_units), "
                "COUNT(currency) - COUNT(amount_units), MIN(amount_exp) FROM opportunities "
                "WHERE opportunities.status IN (?, ?) GROUP BY opportunities.close_month, "
                "opportunities.status, opportunities.probability, opportunities.currency",
                ("open", "won"),
            )
        )
    finally:
        raw.close()
    assert "COVERING INDEX opportunities_totals" in plan, plan
