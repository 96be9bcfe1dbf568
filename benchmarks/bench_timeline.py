"""Read a customer's timeline page by page, against the store's raw ``list_for``.

A customer in a SQLite file has ``--count`` interactions, half of them logged
against two records merged into it and a lead converted into it. The
baseline, in the same run, reads the same customer's interactions with
``store.interactions.list_for`` (what an app without crmcore's timeline would
call); ``timeline`` additionally works out, per entry, the record it was
logged against. Both read the first page and then every page of ``--limit``.

Run: ``.venv/bin/python benchmarks/bench_timeline.py [--count 10000] [--limit 50]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs

from crmcore import (
    Customer,
    Interaction,
    Lead,
    LeadStatus,
    SQLiteStore,
    convert_lead,
    merge,
    timeline,
)
from crmcore.ids import CustomerId, RecordId
from crmcore.storage import MergingStore

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def seed(store: MergingStore, count: int) -> CustomerId:
    """One customer whose history comes from itself, two merged records and a lead."""
    main = store.customers.add(Customer.create(name="Ada Lovelace"))
    merged = [store.customers.add(Customer.create(name=f"Ada {i}")) for i in range(2)]
    lead = store.leads.add(attrs.evolve(Lead.create(name="Ada L"), status=LeadStatus.QUALIFIED))
    owners: list[RecordId] = [main.id, merged[0].id, merged[1].id, lead.id]
    store.interactions.add_many(
        Interaction.log(
            channel="email",
            direction="inbound",
            occurred_at=BASE + timedelta(minutes=i),
            customer_id=owners[i % 4] if i % 4 < 3 else None,  # type: ignore[arg-type]
            lead_id=lead.id if i % 4 == 3 else None,
        )
        for i in range(count)
    )
    merge(store, [main.id, *(m.id for m in merged)], survivor=main.id)
    convert_lead(store, lead.id, customer_id=main.id)
    return main.id


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    """The median time of ``repeat`` runs, and what the run returned."""
    times, result = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    """Measure first-page and whole-timeline reads and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "crm.db") as store:
        customer_id = seed(store, args.count)

        def raw_first() -> int:
            return len(store.interactions.list_for(customer_id, limit=args.limit))

        def crm_first() -> int:
            return len(timeline(store, customer_id, limit=args.limit))

        def raw_all() -> int:
            total, cursor = 0, None
            while True:
                page = store.interactions.list_for(customer_id, limit=args.limit, cursor=cursor)
                total += len(page)
                cursor = page.next_cursor
                if cursor is None:
                    return total

        def crm_all() -> int:
            total, cursor = 0, None
            while True:
                page = timeline(store, customer_id, limit=args.limit, cursor=cursor)
                total += len(page)
                cursor = page.next_cursor
                if cursor is None:
                    return total

        for label, raw, crm in (
            ("first page", raw_first, crm_first),
            ("every page", raw_all, crm_all),
        ):
            raw_time, raw_n = best_of(args.repeat, raw)
            crm_time, crm_n = best_of(args.repeat, crm)
            assert raw_n == crm_n, (raw_n, crm_n)
            print(
                f"{label} ({crm_n} entries, limit {args.limit}, {args.count} interactions): "
                f"list_for {raw_time * 1000:.2f} ms, timeline {crm_time * 1000:.2f} ms, "
                f"ratio {crm_time / raw_time:.2f}"
            )


if __name__ == "__main__":
    main()
