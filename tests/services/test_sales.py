"""crmcore.sales: the open pipeline, the weighted forecast, win rate and time to close."""

from __future__ import annotations

import decimal
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import DealStatus, Money, Opportunity, ValidationError
from crmcore.ids import new_customer_id
from crmcore.sales import (
    DurationStats,
    Forecast,
    OpenPipeline,
    WinRate,
    average_time_to_close,
    forecast,
    open_pipeline,
    win_rate,
)
from crmcore.testing._stand_ins import store_referenced
from tests.services.work import B2B, BASE, PIPELINES, SHOP, WORK_FACTORIES

STORES = pytest.mark.parametrize(
    "make_store", list(WORK_FACTORIES.values()), ids=list(WORK_FACTORIES)
)
EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.Inexact])
CURRENCIES = ("EUR", "USD", "JPY")


@st.composite
def deals(draw: st.DrawFn) -> Opportunity:
    """An opportunity in B2B or SHOP, at any stage, priced or not, maybe with an override."""
    pipeline = PIPELINES[draw(st.sampled_from(sorted(PIPELINES)))]
    amount = None
    if draw(st.booleans()):
        # Up to 33 digits (a deal holds 34): sums overflow the default 28-digit context.
        value = draw(
            st.decimals(min_value=0, max_value=Decimal("1e26"), places=draw(st.integers(0, 6)))
        )
        amount = Money(value, draw(st.sampled_from(CURRENCIES)))
    close = draw(st.none() | st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)))
    deal = Opportunity.create(
        name="Deal",
        customer_id=new_customer_id(),
        pipeline=pipeline,
        amount=amount,
        close_date=close,
        at=BASE,
    )
    target = draw(st.sampled_from(pipeline.stages))
    if target.id != deal.stage_id:
        hours = draw(st.integers(0, 24 * 400))
        reason = "price" if target.status is DealStatus.LOST else None
        deal = deal.move_to(pipeline, target.id, at=BASE + timedelta(hours=hours), reason=reason)
    if deal.status is DealStatus.OPEN and draw(st.booleans()):
        deal = deal.with_probability(
            draw(st.decimals(min_value=0, max_value=1, places=draw(st.integers(0, 4))))
        )
    return deal


def _month(day: date | None) -> str | None:
    return None if day is None else f"{day.year:04d}-{day.month:02d}"


def _stored(make_store: Callable[[], Any], items: list[Opportunity]) -> Any:
    store = make_store()
    store_referenced(store, items)
    store.opportunities.add_many(items)
    return store


@STORES
@given(items=st.lists(deals(), max_size=25))
def test_the_forecast_is_the_exact_weighted_sum_per_month_and_currency(
    make_store: Callable[[], Any], items: list[Opportunity]
) -> None:
    expected_weighted: dict[str | None, dict[str, Decimal]] = defaultdict(dict)
    expected_amounts: dict[str | None, dict[str, Decimal]] = defaultdict(dict)
    expected_won: dict[str | None, dict[str, Decimal]] = defaultdict(dict)
    counts: dict[str | None, int] = defaultdict(int)
    for deal in items:
        if deal.status is DealStatus.LOST:
            continue
        month = _month(deal.close_date)
        counts[month] += 1
        if deal.amount is None:
            continue
        money = deal.amount
        weighted = EXACT.multiply(money.amount, deal.probability)
        for into, value in (
            (expected_weighted, weighted),
            (expected_amounts, money.amount),
            *([(expected_won, money.amount)] if deal.status is DealStatus.WON else []),
        ):
            into[month][money.currency] = EXACT.add(
                into[month].get(money.currency, Decimal(0)), value
            )
    with _stored(make_store, items) as store:
        result = forecast(store)
    assert isinstance(result, Forecast)
    assert {m.month: m.count for m in result.months} == dict(counts)
    for entry in result.months:
        assert dict(entry.weighted) == expected_weighted.get(entry.month, {})
        assert dict(entry.amounts) == expected_amounts.get(entry.month, {})
        assert dict(entry.won) == expected_won.get(entry.month, {})
    months = [m.month for m in result.months]
    assert months == sorted(months, key=lambda m: (m is None, m or ""))
    total: dict[str, Decimal] = {}
    for values in expected_weighted.values():
        for currency, amount in values.items():
            total[currency] = EXACT.add(total.get(currency, Decimal(0)), amount)
    assert dict(result.weighted) == total


@STORES
@given(
    items=st.lists(deals(), max_size=20),
    since=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
    days=st.integers(1, 400),
)
def test_forecast_bounds_and_pipeline_pick_by_close_date(
    make_store: Callable[[], Any], items: list[Opportunity], since: date, days: int
) -> None:
    until = since + timedelta(days=days)
    with _stored(make_store, items) as store:
        result = forecast(store, pipeline_id=SHOP.id, since=since, until=until)
    picked = [
        d
        for d in items
        if d.pipeline_id == SHOP.id
        and d.status is not DealStatus.LOST
        and d.close_date is not None
        and since <= d.close_date < until
    ]
    assert sum(m.count for m in result.months) == len(picked)
    assert {m.month for m in result.months} == {_month(d.close_date) for d in picked}


@STORES
@given(items=st.lists(deals(), max_size=25))
def test_the_open_pipeline_sums_open_deals_per_stage_and_currency(
    make_store: Callable[[], Any], items: list[Opportunity]
) -> None:
    expected: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    unpriced: dict[tuple[str, str], int] = defaultdict(int)
    for deal in items:
        if deal.status is not DealStatus.OPEN:
            continue
        key = (deal.pipeline_id, deal.stage_id)
        counts[key] += 1
        if deal.amount is None:
            unpriced[key] += 1
            continue
        bucket = expected[key]
        bucket[deal.amount.currency] = EXACT.add(
            bucket.get(deal.amount.currency, Decimal(0)), deal.amount.amount
        )
    with _stored(make_store, items) as store:
        everything = open_pipeline(store)
        b2b = open_pipeline(store, pipeline_id=B2B.id)
    assert isinstance(everything, OpenPipeline)
    assert {(s.pipeline_id, s.stage_id): s.count for s in everything.stages} == dict(counts)
    for summary in everything.stages:
        key = (summary.pipeline_id, summary.stage_id)
        assert dict(summary.amounts) == expected.get(key, {})
        assert summary.unpriced == unpriced[key]
    assert everything.count == sum(counts.values())
    assert {s.pipeline_id for s in b2b.stages} <= {B2B.id}
    laid_out = b2b.in_order(B2B)
    assert [s.stage_id for s in laid_out] == ["qualify", "propose", "negotiate"]
    assert [s.count for s in laid_out] == [counts[(B2B.id, s.stage_id)] for s in laid_out]


@STORES
@given(
    items=st.lists(deals(), max_size=25),
    start_hours=st.integers(0, 24 * 400),
    length_hours=st.integers(1, 24 * 400),
)
def test_the_win_rate_counts_the_deals_closed_in_the_period(
    make_store: Callable[[], Any], items: list[Opportunity], start_hours: int, length_hours: int
) -> None:
    since = BASE + timedelta(hours=start_hours)
    until = since + timedelta(hours=length_hours)
    closed = [d for d in items if d.closed_at is not None and since <= d.closed_at < until]
    won = sum(d.status is DealStatus.WON for d in closed)
    with _stored(make_store, items) as store:
        result = win_rate(store, since=since, until=until)
    assert isinstance(result, WinRate)
    assert (result.won, result.lost) == (won, len(closed) - won)
    if closed:
        assert result.rate is not None
        assert 0 <= result.rate <= 1
        assert abs(result.rate * len(closed) - won) < Decimal("1e-20")
    else:
        assert result.rate is None
    won_eur = sum(
        (
            d.amount.amount
            for d in closed
            if d.status is DealStatus.WON and d.amount and d.amount.currency == "EUR"
        ),
        Decimal(0),
    )
    assert result.won_amounts.get("EUR", Decimal(0)) == won_eur


@STORES
def test_time_to_close_runs_from_entering_the_pipeline_to_the_last_close(
    make_store: Callable[[], Any],
) -> None:
    def deal(days: int, stage: str, *, reopen_after: int | None = None) -> Opportunity:
        start = BASE + timedelta(days=1)
        opp = Opportunity.create(name="Deal", customer_id=new_customer_id(), pipeline=B2B, at=start)
        reason = "budget" if stage == "lost" else None
        if reopen_after is not None:
            opp = opp.move_to(B2B, "lost", at=start + timedelta(days=reopen_after), reason="later")
            opp = opp.move_to(B2B, "propose", at=start + timedelta(days=reopen_after), reopen=True)
        return opp.move_to(B2B, stage, at=start + timedelta(days=days), reason=reason)

    items = [deal(10, "won"), deal(20, "won"), deal(40, "won", reopen_after=5), deal(3, "lost")]
    with _stored(make_store, items) as store:
        since, until = BASE, BASE + timedelta(days=100)
        won = average_time_to_close(store, since=since, until=until)
        lost = average_time_to_close(store, since=since, until=until, status="lost")
        both = average_time_to_close(store, since=since, until=until, status=None)
        none = average_time_to_close(store, since=until, until=until + timedelta(days=1))
    assert won == DurationStats(3, timedelta(seconds=70 * 86_400 // 3), timedelta(days=20))
    assert lost == DurationStats(1, timedelta(days=3), timedelta(days=3))
    assert both.count == 4
    assert both.median == timedelta(days=15)
    assert none == DurationStats(0, None, None)


@given(st.lists(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)), max_size=30))
def test_duration_stats_are_the_mean_and_median(values: list[timedelta]) -> None:
    stats = DurationStats.of(values)
    assert stats.count == len(values)
    if not values:
        assert stats.mean is None
        assert stats.median is None
        return
    assert stats.mean is not None
    assert stats.median is not None
    assert min(values) <= stats.mean <= max(values)
    assert min(values) <= stats.median <= max(values)
    total = sum(values, timedelta())
    assert abs(stats.mean * len(values) - total) <= timedelta(microseconds=len(values))
    below = sum(v < stats.median for v in values)
    above = sum(v > stats.median for v in values)
    assert below <= len(values) // 2
    assert above <= len(values) // 2


@STORES
def test_bad_arguments_are_refused_by_name(make_store: Callable[[], Any]) -> None:
    with make_store() as store:
        cases: list[tuple[Callable[[], object], str]] = [
            (lambda: forecast(store, since=BASE), "since"),  # a datetime, not a date
            (lambda: forecast(store, since=date(2025, 2, 1), until=date(2025, 1, 1)), "until"),
            (lambda: forecast(store, pipeline_id=5), "pipeline_id"),  # type: ignore[arg-type]
            (lambda: open_pipeline(store, pipeline_id=""), "pipeline_id"),
            (lambda: win_rate(store, since=BASE.replace(tzinfo=None), until=BASE), "since"),
            (lambda: win_rate(store, since=BASE, until=BASE), "until"),
            (
                lambda: average_time_to_close(
                    store, since=BASE, until=BASE + timedelta(1), status="open"
                ),
                "status",
            ),
            (
                lambda: average_time_to_close(
                    store, since=BASE, until=BASE + timedelta(1), status="maybe"
                ),
                "status",
            ),
            (lambda: open_pipeline(object()), "store"),  # type: ignore[arg-type]
        ]
        for call, field in cases:
            with pytest.raises(ValidationError) as caught:
                call()
            assert caught.value.paths == (field,)


def test_reprs_show_counts_and_currencies_not_amounts() -> None:
    month = Forecast(()).month(date(2025, 3, 9))
    assert month.month == "2025-03"
    assert month.count == 0
    from crmcore.sales import ForecastMonth, StageSummary

    secret = Decimal("987654.32")
    shown = [
        repr(StageSummary("b2b", "propose", 1, {"EUR": secret})),
        repr(ForecastMonth("2025-03", 1, {"EUR": secret}, {"EUR": secret}, {"EUR": secret})),
        repr(WinRate(1, 0, {"EUR": secret}, {})),
        repr(OpenPipeline((StageSummary("b2b", "propose", 1, {"EUR": secret}),))),
    ]
    for text in shown:
        assert "987654" not in text
    assert "EUR" in shown[0]
    summary = StageSummary("b2b", "propose", 1, {"EUR": secret})
    with pytest.raises(TypeError):
        summary.amounts["EUR"] = Decimal(0)  # type: ignore[index]


class _AggregatesOnly:
    """A store whose opportunities can only be added and totalled: no row leaves it."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.tasks, self.cases = store.tasks, store.cases
        self.opportunities = self

    def add_many(self, items: list[Opportunity]) -> list[Opportunity]:
        store_referenced(self._store, items)
        stored: list[Opportunity] = self._store.opportunities.add_many(items)
        return stored

    def totals(self, *filters: Any, by: Any = ()) -> Any:
        return self._store.opportunities.totals(*filters, by=by)


@STORES
def test_the_pipeline_queries_are_aggregates_the_store_computes(
    make_store: Callable[[], Any],
) -> None:
    with make_store() as inner:
        store = _AggregatesOnly(inner)
        deal = Opportunity.create(
            name="Deal",
            customer_id=new_customer_id(),
            pipeline=B2B,
            amount=Money.of("10", "EUR"),
            close_date=date(2025, 2, 1),
            at=BASE,
        )
        won = Opportunity.create(
            name="Won", customer_id=new_customer_id(), pipeline=B2B, stage="won", at=BASE
        )
        store.add_many([deal, won])
        assert forecast(store).month("2025-02").weighted == {"EUR": Decimal("1.0")}  # type: ignore[arg-type]
        assert open_pipeline(store).count == 1  # type: ignore[arg-type]
        assert win_rate(store, since=BASE, until=BASE + timedelta(1)).won == 1  # type: ignore[arg-type]
