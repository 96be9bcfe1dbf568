"""Pipeline queries: the open pipeline by stage, the weighted forecast, win rate, time to close.

Every query runs on what each opportunity stores about its last move (pipeline,
stage, status, probability) and on its amount, expected close date and
``closed_at``: no pipeline configuration is needed to ask. :func:`open_pipeline`,
:func:`forecast` and :func:`win_rate` are aggregates the store computes
(:meth:`~crmcore.storage.OpportunityRepository.totals`), so a database answers
them without sending the opportunities back. Money is summed per currency,
exactly (``Decimal``, no rounding), and never across currencies.
"""

from __future__ import annotations

import decimal
import types
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import attrs

from crmcore._reports import (
    DurationStats,
    check_period,
    check_work_store,
    iter_matching,
    optional_key,
)
from crmcore._repr import count
from crmcore._validation import check_date, enum_member
from crmcore.errors import ValidationError
from crmcore.pipelines import DealStatus

if TYPE_CHECKING:
    from crmcore.pipelines import Pipeline
    from crmcore.storage import Filter, Total, WorkStore

__all__ = [
    "DurationStats",
    "Forecast",
    "ForecastMonth",
    "OpenPipeline",
    "StageSummary",
    "WinRate",
    "average_time_to_close",
    "forecast",
    "open_pipeline",
    "win_rate",
]


def _currencies(amounts: Mapping[str, Decimal]) -> str:
    # Deal sizes are commercial secrets more often than not: a repr (a log
    # line, a traceback) names the currencies only.
    return repr(sorted(amounts))


# + and * never round in this context (their results are sized by their digits);
# Inexact is trapped so that a rounding, were one possible, would raise rather
# than pass silently. The default context would round sums to 28 digits.
_EXACT: Final = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[decimal.Inexact]
)


def _add(into: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    into[currency] = _EXACT.add(into.get(currency, Decimal(0)), amount)


def _frozen_amounts(amounts: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    # Read-only, in currency order: a result is a value, not a scratch pad.
    return types.MappingProxyType(dict(sorted(amounts.items())))


def _summed(parts: Iterable[Mapping[str, Decimal]]) -> Mapping[str, Decimal]:
    """Amounts per currency added up, currency by currency."""
    total: dict[str, Decimal] = {}
    for amounts in parts:
        for currency, amount in amounts.items():
            _add(total, currency, amount)
    return _frozen_amounts(total)


@attrs.frozen
class StageSummary:
    """The open opportunities of one stage of a pipeline.

    Attributes:
        pipeline_id: the pipeline.
        stage_id: the stage, in that pipeline.
        count: the open opportunities in the stage.
        amounts: their amounts summed per currency (ISO 4217 code -> exact sum).
        unpriced: how many of them have no amount yet.
    """

    pipeline_id: str
    stage_id: str
    count: int
    amounts: Mapping[str, Decimal] = attrs.field(
        factory=dict, converter=_frozen_amounts, repr=_currencies
    )
    unpriced: int = 0


@attrs.frozen
class OpenPipeline:
    """The open pipeline: open opportunities by pipeline and stage (:func:`open_pipeline`).

    ``stages`` holds the stages with at least one open opportunity, sorted by
    pipeline id and stage id; :meth:`in_order` lays one pipeline out in its
    stages' order, empty stages included.
    """

    stages: tuple[StageSummary, ...] = attrs.field(repr=count)

    @property
    def count(self) -> int:
        """Open opportunities in every stage."""
        return sum(s.count for s in self.stages)

    @property
    def amounts(self) -> Mapping[str, Decimal]:
        """Every stage's amounts, summed per currency."""
        return _summed(summary.amounts for summary in self.stages)

    def stage(self, pipeline_id: str, stage_id: str) -> StageSummary:
        """The summary of one stage (a zero summary when nothing open is in it)."""
        for summary in self.stages:
            if summary.pipeline_id == pipeline_id and summary.stage_id == stage_id:
                return summary
        return StageSummary(pipeline_id, stage_id, 0)

    def in_order(self, pipeline: Pipeline) -> tuple[StageSummary, ...]:
        """The open stages of ``pipeline`` in the pipeline's order, empty ones included."""
        return tuple(
            self.stage(pipeline.id, s.id) for s in pipeline.stages if s.status is DealStatus.OPEN
        )


@attrs.frozen
class ForecastMonth:
    """The forecast of one expected close month (:func:`forecast`).

    Attributes:
        month: ``"YYYY-MM"``; ``None`` for opportunities without an expected close date.
        count: the opportunities expected to close in the month (open and won).
        amounts: their amounts summed per currency, unweighted.
        weighted: the sum of ``amount * probability`` per currency, exact: what
            the month is expected to bring (won deals count in full).
        won: the amounts already won, per currency (part of ``weighted``).
        unpriced: how many of them have no amount yet.
    """

    month: str | None
    count: int
    amounts: Mapping[str, Decimal] = attrs.field(
        factory=dict, converter=_frozen_amounts, repr=_currencies
    )
    weighted: Mapping[str, Decimal] = attrs.field(
        factory=dict, converter=_frozen_amounts, repr=False
    )
    won: Mapping[str, Decimal] = attrs.field(factory=dict, converter=_frozen_amounts, repr=False)
    unpriced: int = 0


@attrs.frozen
class Forecast:
    """The weighted forecast by expected close month, oldest month first.

    ``months`` holds the months with at least one opportunity; the month
    ``None`` (no expected close date) comes last.
    """

    months: tuple[ForecastMonth, ...] = attrs.field(repr=count)

    def month(self, month: str | date) -> ForecastMonth:
        """The forecast of ``month`` (``"2025-03"`` or any date in it); zero when empty."""
        key = f"{month.year:04d}-{month.month:02d}" if isinstance(month, date) else month
        for found in self.months:
            if found.month == key:
                return found
        return ForecastMonth(key, 0)

    @property
    def weighted(self) -> Mapping[str, Decimal]:
        """Every month's weighted amount, summed per currency."""
        return _summed(entry.weighted for entry in self.months)


@attrs.frozen
class WinRate:
    """Deals won and lost over a period (:func:`win_rate`).

    Attributes:
        won: opportunities won in the period.
        lost: opportunities lost in the period.
        won_amounts: the won deals' amounts, per currency.
        lost_amounts: the lost deals' amounts, per currency.
    """

    won: int
    lost: int
    won_amounts: Mapping[str, Decimal] = attrs.field(
        factory=dict, converter=_frozen_amounts, repr=False
    )
    lost_amounts: Mapping[str, Decimal] = attrs.field(
        factory=dict, converter=_frozen_amounts, repr=False
    )

    @property
    def closed(self) -> int:
        """Opportunities closed in the period, won or lost."""
        return self.won + self.lost

    @property
    def rate(self) -> Decimal | None:
        """``won / (won + lost)`` (28 significant digits); ``None`` when nothing closed."""
        if self.closed == 0:
            return None
        return Decimal(self.won) / Decimal(self.closed)


def _base_filters(pipeline_id: object) -> list[Filter]:
    from crmcore.storage import where

    pipeline = optional_key(pipeline_id, "pipeline_id")
    return [] if pipeline is None else [where("pipeline_id").eq(pipeline)]


def _by_group(totals: Iterable[Total]) -> dict[tuple[str | None, ...], list[Total]]:
    groups: dict[tuple[str | None, ...], list[Total]] = {}
    for total in totals:
        groups.setdefault(total.group, []).append(total)
    return groups


def open_pipeline(store: WorkStore, *, pipeline_id: str | None = None) -> OpenPipeline:
    """The open opportunities by stage: how many, and their amounts per currency.

    Args:
        store: the store (:class:`~crmcore.storage.WorkStore`).
        pipeline_id: only this pipeline's opportunities (every pipeline when ``None``).

    Raises:
        ValidationError: a bad ``pipeline_id``, or a store without opportunities.
    """
    from crmcore.storage import where

    check_work_store(store)
    filters = [*_base_filters(pipeline_id), where("status").eq(DealStatus.OPEN)]
    totals = store.opportunities.totals(*filters, by=("pipeline_id", "stage_id"))
    stages = []
    for (pipeline, stage), rows in _by_group(totals).items():
        amounts: dict[str, Decimal] = {}
        for row in rows:
            if row.currency is not None:
                _add(amounts, row.currency, row.amount)
        stages.append(
            StageSummary(
                pipeline_id=str(pipeline),
                stage_id=str(stage),
                count=sum(r.count for r in rows),
                amounts=amounts,
                unpriced=sum(r.count for r in rows if r.currency is None),
            )
        )
    stages.sort(key=lambda s: (s.pipeline_id, s.stage_id))
    return OpenPipeline(tuple(stages))


def forecast(
    store: WorkStore,
    *,
    pipeline_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> Forecast:
    """The weighted forecast by expected close month: ``amount * probability`` per currency.

    Counts the open and won opportunities (lost ones are worth nothing) by
    the month of their ``close_date``; each contributes its amount times the
    probability it stores (its stage's default, or the override set with
    :meth:`~crmcore.Opportunity.with_probability`; 1 once won). Sums are exact
    decimals, per currency; the store groups the opportunities by month,
    status and probability (:meth:`~crmcore.storage.OpportunityRepository.totals`),
    so only those groups leave the database.

    Args:
        store: the store (:class:`~crmcore.storage.WorkStore`).
        pipeline_id: only this pipeline's opportunities.
        since: only close dates on or after this date.
        until: only close dates before this date. With either bound,
            opportunities without a close date are left out.

    Raises:
        ValidationError: a bound that is not a date, ``until`` not after
            ``since``, a bad ``pipeline_id``, or a store without opportunities.
    """
    from crmcore.storage import where

    check_work_store(store)
    start = check_date(since, "since")
    end = check_date(until, "until")
    if start is not None and end is not None and end <= start:
        raise ValidationError("until", "must be after since")
    filters = [
        *_base_filters(pipeline_id),
        where("status").in_((DealStatus.OPEN, DealStatus.WON)),
    ]
    if start is not None or end is not None:
        filters.append(where("close_date").range(start, end))
    totals = store.opportunities.totals(*filters, by=("close_month", "status", "probability"))
    months: dict[str | None, _Tally] = {}
    for row in totals:
        month, status, probability = row.group
        tally = months.setdefault(month, _Tally())
        tally.count += row.count
        if row.currency is None:
            tally.unpriced += row.count
            continue
        _add(tally.amounts, row.currency, row.amount)
        weight = Decimal(0) if probability is None else Decimal(probability)
        weighted = _EXACT.multiply(row.amount, weight)
        _add(tally.weighted, row.currency, weighted)
        if status == DealStatus.WON.value:
            _add(tally.won, row.currency, row.amount)
    ordered = sorted(months, key=lambda m: (m is None, m or ""))
    return Forecast(tuple(months[m].month(m) for m in ordered))


@attrs.define
class _Tally:
    """One month's figures while the store's groups are added up."""

    count: int = 0
    unpriced: int = 0
    amounts: dict[str, Decimal] = attrs.Factory(dict)
    weighted: dict[str, Decimal] = attrs.Factory(dict)
    won: dict[str, Decimal] = attrs.Factory(dict)

    def month(self, month: str | None) -> ForecastMonth:
        return ForecastMonth(
            month, self.count, self.amounts, self.weighted, self.won, self.unpriced
        )


def _closed_in(
    since: datetime, until: datetime, pipeline_id: object
) -> tuple[list[Filter], datetime, datetime]:
    from crmcore.storage import where

    start, end = check_period(since, until)
    filters = [*_base_filters(pipeline_id), where("closed_at").range(start, end)]
    return filters, start, end


def win_rate(
    store: WorkStore, *, since: datetime, until: datetime, pipeline_id: str | None = None
) -> WinRate:
    """Deals won and lost with ``closed_at`` in the period, and the rate won of those closed.

    A deal reopened and closed again counts once, by its last close.

    Args:
        store: the store (:class:`~crmcore.storage.WorkStore`).
        since: the period's start (aware datetime, inclusive).
        until: the period's end (aware datetime, exclusive).
        pipeline_id: only this pipeline's opportunities.

    Raises:
        ValidationError: a bound that is not an aware datetime, ``until`` not
            after ``since``, a bad ``pipeline_id``, or a store without opportunities.
    """
    from crmcore.storage import where

    check_work_store(store)
    filters, _, _ = _closed_in(since, until, pipeline_id)
    filters.append(where("status").in_((DealStatus.WON, DealStatus.LOST)))
    counts = {DealStatus.WON.value: 0, DealStatus.LOST.value: 0}
    amounts: dict[str, dict[str, Decimal]] = {DealStatus.WON.value: {}, DealStatus.LOST.value: {}}
    for row in store.opportunities.totals(*filters, by=("status",)):
        (status,) = row.group
        if status not in counts:  # an open deal cannot have closed_at; a store bug would show
            continue
        counts[status] += row.count
        if row.currency is not None:
            _add(amounts[status], row.currency, row.amount)
    return WinRate(
        won=counts[DealStatus.WON.value],
        lost=counts[DealStatus.LOST.value],
        won_amounts=amounts[DealStatus.WON.value],
        lost_amounts=amounts[DealStatus.LOST.value],
    )


def average_time_to_close(
    store: WorkStore,
    *,
    since: datetime,
    until: datetime,
    pipeline_id: str | None = None,
    status: DealStatus | str | None = DealStatus.WON,
) -> DurationStats:
    """How long the deals closed in the period took: from entering the pipeline to closing.

    Each deal's time is its ``closed_at`` minus the moment of its first stage
    change (``stage_history[0].at``, when it entered the pipeline), so a deal
    that was reopened counts the whole way to its last close.

    Args:
        store: the store (:class:`~crmcore.storage.WorkStore`).
        since: the period's start (aware datetime, inclusive, on ``closed_at``).
        until: the period's end (aware datetime, exclusive).
        pipeline_id: only this pipeline's opportunities.
        status: ``won`` (the sales cycle, the default), ``lost``, or ``None`` for both.

    Returns:
        The count, mean and median (:class:`~crmcore.sales.DurationStats`).

    Raises:
        ValidationError: a bad bound, ``status`` or ``pipeline_id``, or a
            store without opportunities.
    """
    from crmcore.storage import where

    check_work_store(store)
    filters, _, _ = _closed_in(since, until, pipeline_id)
    if status is None:
        filters.append(where("status").in_((DealStatus.WON, DealStatus.LOST)))
    else:
        wanted = enum_member(DealStatus, status, "status")
        if wanted is DealStatus.OPEN:
            raise ValidationError("status", "must be won, lost or None (open deals never closed)")
        filters.append(where("status").eq(wanted))
    return DurationStats.of(
        opportunity.closed_at - opportunity.stage_history[0].at
        for opportunity in iter_matching(store.opportunities, *filters)
        if opportunity.closed_at is not None
    )
