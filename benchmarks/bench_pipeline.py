"""The weighted forecast over ``--rows`` opportunities in a SQLite file, against hand-written SQL.

``crmcore.sales.forecast(store)`` asks the store for
``opportunities.totals(by=("close_month", "status", "probability"))`` over the
open and won deals and weights each group's exact sum by its probability, per
currency. The baseline, in the same run and on the same file, is the
aggregate an app would write by hand: one ``GROUP BY`` over the same columns
(``SUM`` of the integer amount column the store keeps for exact sums),
weighted the same way in Python ``Decimal``. Both answers must be equal,
exactly, or the script exits with status 1.

Both sides run by turns, ``--repeat`` times; the ratio is of median CPU
times (SQLite runs in the process, and CPU time moves far less than wall
time on a shared machine), the wall-time ratio is printed beside it.

The deals: two pipelines, 70% open (a tenth with an overridden probability),
15% won and 15% lost; amounts in EUR, USD, GBP (cents) and JPY (whole yen),
3% without an amount; close dates over 24 months, 5% without one.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--rows 1000000] [--repeat 5] [--db PATH]``
(``--db`` keeps the built file, and reuses it when it already holds ``--rows`` deals).
"""

from __future__ import annotations

import argparse
import decimal
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs

from crmcore import DealStatus, Money, Opportunity, Pipeline, SQLiteStore, Stage
from crmcore.customers import Customer, CustomerKind
from crmcore.ids import CustomerId, new_customer_id
from crmcore.sales import forecast
from crmcore.storage import WorkStore

Weighted = dict[tuple[str | None, str], Decimal]
"""(close month, currency) -> the weighted amount."""
Answer = tuple[Weighted, dict[str | None, int]]
"""What both sides compute: the weighted amounts, and the deals per close month."""

EXACT = decimal.Context(prec=decimal.MAX_PREC, traps=[decimal.Inexact])
START = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 5_000
# The store keeps each amount also as an integer count of 10**-4 (the SQL
# stores sum those); the baseline sums the same column.
AMOUNT_SCALE = 4

PIPELINES = (
    Pipeline.create(
        "b2b",
        "B2B",
        [
            Stage("qualify", "Qualify", Decimal("0.1")),
            Stage("propose", "Proposal", Decimal("0.35")),
            Stage("negotiate", "Negotiation", Decimal("0.7")),
            Stage("won", "Won", Decimal(1), DealStatus.WON),
            Stage("lost", "Lost", Decimal(0), DealStatus.LOST),
        ],
    ),
    Pipeline.create(
        "shop",
        "Web shop",
        [
            Stage("basket", "Basket", Decimal("0.2")),
            Stage("checkout", "Checkout", Decimal("0.8")),
            Stage("paid", "Paid", Decimal(1), DealStatus.WON),
            Stage("abandoned", "Abandoned", Decimal(0), DealStatus.LOST),
        ],
    ),
)
CURRENCIES = (("EUR", 2), ("USD", 2), ("GBP", 2), ("JPY", 0))


def generate(rows: int, *, seed: int = 14) -> Iterator[Opportunity]:
    """``rows`` opportunities drawn from ``seed`` (the same deals every run)."""
    rng = random.Random(seed)
    customers: list[CustomerId] = [new_customer_id() for _ in range(max(1, rows // 20))]
    for _ in range(rows):
        pipeline = PIPELINES[rng.random() < 0.4]
        open_stages = [s for s in pipeline.stages if s.status is DealStatus.OPEN]
        amount = None
        if rng.random() >= 0.03:
            currency, places = CURRENCIES[rng.randrange(len(CURRENCIES))]
            amount = Money(Decimal(rng.randrange(1, 10**7)).scaleb(-places), currency)
        close = None
        if rng.random() >= 0.05:
            close = date(2025, 1, 1) + timedelta(days=rng.randrange(730))
        entered = START + timedelta(minutes=rng.randrange(60 * 24 * 365))
        deal = Opportunity.create(
            name="Deal",
            customer_id=customers[rng.randrange(len(customers))],
            pipeline=pipeline,
            stage=open_stages[rng.randrange(len(open_stages))].id,
            amount=amount,
            close_date=close,
            at=entered,
        )
        roll = rng.random()
        if roll < 0.15:
            won = next(s for s in pipeline.stages if s.status is DealStatus.WON)
            deal = deal.move_to(pipeline, won.id, at=entered + timedelta(days=rng.randrange(90)))
        elif roll < 0.30:
            lost = next(s for s in pipeline.stages if s.status is DealStatus.LOST)
            deal = deal.move_to(
                pipeline, lost.id, at=entered + timedelta(days=rng.randrange(90)), reason="price"
            )
        elif roll < 0.37:
            deal = deal.with_probability(Decimal(rng.randrange(1, 100)).scaleb(-2))
        yield deal


def build(store: WorkStore, rows: int) -> None:
    """Store ``rows`` generated opportunities, ``BATCH`` per transaction.

    The customers they name are stored first, a batch before its deals: a
    store refuses a deal naming a customer it does not hold.
    """
    named: set[str] = set()

    def flush(batch: list[Opportunity]) -> None:
        new = sorted({deal.customer_id for deal in batch} - named)
        store.customers.add_many(
            [Customer(id=c, kind=CustomerKind.ORGANIZATION, name="Customer AB") for c in new]
        )
        named.update(new)
        store.opportunities.add_many(batch)

    batch: list[Opportunity] = []
    for deal in generate(rows):
        batch.append(deal)
        if len(batch) == BATCH:
            flush(batch)
            batch = []
    if batch:
        flush(batch)


def _add(into: Weighted, key: tuple[str | None, str], weighted: Decimal) -> None:
    into[key] = EXACT.add(into.get(key, Decimal(0)), weighted)


def crm_answer(store: WorkStore) -> Answer:
    """The forecast as :func:`crmcore.sales.forecast` gives it."""
    weighted: Weighted = {}
    counts: dict[str | None, int] = {}
    for month in forecast(store).months:
        counts[month.month] = month.count
        for currency, amount in month.weighted.items():
            weighted[(month.month, currency)] = amount
    return weighted, counts


BASELINE_SQL = """
SELECT close_month, probability, currency, COUNT(*), SUM(amount_units)
FROM opportunities
WHERE status IN ('open', 'won')
GROUP BY close_month, status, probability, currency
"""


def raw_answer(connection: sqlite3.Connection) -> Answer:
    """The same forecast by hand: one GROUP BY, then the weighting in Decimal."""
    weighted: Weighted = {}
    counts: dict[str | None, int] = {}
    for month, probability, currency, count, units in connection.execute(BASELINE_SQL):
        counts[month] = counts.get(month, 0) + count
        if currency is not None:
            amount = Decimal(units).scaleb(-AMOUNT_SCALE, EXACT)
            _add(weighted, (month, currency), EXACT.multiply(amount, Decimal(probability)))
    return weighted, counts


def expected_answer(deals: Iterable[Opportunity]) -> Answer:
    """The forecast computed from the deals themselves (what the tests hold both to)."""
    weighted: Weighted = {}
    counts: dict[str | None, int] = {}
    for deal in deals:
        if deal.status is DealStatus.LOST:
            continue
        month = None if deal.close_date is None else deal.close_date.strftime("%Y-%m")
        counts[month] = counts.get(month, 0) + 1
        if deal.amount is not None:
            product = EXACT.multiply(deal.amount.amount, deal.probability)
            _add(weighted, (month, deal.amount.currency), product)
    return weighted, counts


@attrs.define
class Timings:
    """CPU and wall seconds of each run of one side."""

    cpu: list[float] = attrs.Factory(list)
    wall: list[float] = attrs.Factory(list)

    def run(self, side: Callable[[], Answer]) -> Answer:
        """Run ``side`` once, recording its times."""
        cpu, wall = time.process_time(), time.perf_counter()
        answer = side()
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)
        return answer


def interleaved(
    repeat: int, raw: Callable[[], Answer], crm: Callable[[], Answer]
) -> tuple[Timings, Timings, Answer, Answer]:
    """Run the two sides by turns, so that a change in the machine's load hits both."""
    raw_times, crm_times = Timings(), Timings()
    raw_answer: Answer = ({}, {})
    crm_answer: Answer = ({}, {})
    for _ in range(repeat):
        raw_answer = raw_times.run(raw)
        crm_answer = crm_times.run(crm)
    return raw_times, crm_times, raw_answer, crm_answer


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or reuse) the file, time both sides, compare their answers, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, default=None, help="keep the SQLite file here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db if args.db is not None else Path(tmp) / "pipeline.db"
        with SQLiteStore(path) as store:
            stored = store.opportunities.count()
            if stored != args.rows:
                if stored:
                    print(f"{path} holds {stored} deals, not {args.rows}", file=sys.stderr)
                    return 2
                began = time.perf_counter()
                build(store, args.rows)
                print(f"built {args.rows} opportunities in {time.perf_counter() - began:.1f} s")
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                raw_answer(connection)  # warm both: the page cache is shared by the OS
                crm_answer(store)
                raw_times, crm_times, raw, crm = interleaved(
                    args.repeat, lambda: raw_answer(connection), lambda: crm_answer(store)
                )
            finally:
                connection.close()
    if crm != raw:
        print("the forecast and the hand-written aggregate disagree", file=sys.stderr)
        return 1
    raw_cpu, crm_cpu = statistics.median(raw_times.cpu), statistics.median(crm_times.cpu)
    raw_wall, crm_wall = statistics.median(raw_times.wall), statistics.median(crm_times.wall)
    print(
        f"forecast over {args.rows} opportunities ({len(crm[0])} month x currency cells), "
        f"median of {args.repeat}: hand-written SQL {raw_cpu * 1000:.0f} ms CPU "
        f"({raw_wall * 1000:.0f} ms wall), crmcore.sales.forecast {crm_cpu * 1000:.0f} ms CPU "
        f"({crm_wall * 1000:.0f} ms wall); ratio {crm_cpu / raw_cpu:.2f} CPU, "
        f"{crm_wall / raw_wall:.2f} wall; answers agree"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
