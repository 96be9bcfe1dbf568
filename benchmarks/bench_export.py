"""Export and restore benchmarks: a SQLite store out to JSON Lines and back.

1. ``export``: ``crmcore.io.export_store`` of a SQLiteStore file holding N
   customers (each with an email, a phone, an identifier, a tag) and N/2
   interactions, to a JSON Lines file, against the raw baseline an app would
   write by hand: ``customers.iter_all()`` with ``to_json`` of each record to a
   file (no interactions, no merge records: they cost the export its timeline
   and merge-history queries, one pair per record). Target: ratio <= 3.
2. ``restore``: ``crmcore.io.restore`` of that file into a new SQLiteStore
   file, against the baseline an app would write by hand: each line parsed
   with ``json.loads`` and ``from_dict`` (every record validated, as restore
   does) and stored with ``add_many`` (which, unlike restore, keeps neither
   versions nor timestamps). Target: ratio <= 1.5. The ratio against
   ``add_many`` of records built beforehand (no parsing) is printed too.

Run: ``.venv/bin/python benchmarks/bench_export.py`` (100,000 customers) or
``--small`` (10,000).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks.bench_storage`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_storage import make_customers  # noqa: E402
from crmcore import (  # noqa: E402
    Channel,
    Customer,
    Direction,
    Interaction,
    Participant,
    from_dict,
    to_json,
)
from crmcore.ids import new_interaction_id  # noqa: E402
from crmcore.io import export_store, restore  # noqa: E402
from crmcore.storage import SQLiteStore  # noqa: E402
from crmcore.testing._builders import BASE_TIME  # noqa: E402


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _interactions(customer_ids: list[str]) -> list[Interaction]:
    template = Interaction(
        id=new_interaction_id(),
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=BASE_TIME,
        participants=(Participant(customer_ids[0]),),  # type: ignore[arg-type]
        subject="Order 1234",
        body="Hello,\nwhere is my parcel?",
    )
    return [
        attrs.evolve(
            template,
            id=new_interaction_id(),
            occurred_at=BASE_TIME + timedelta(minutes=i),
            participants=(Participant(record_id),),  # type: ignore[arg-type]
        )
        for i, record_id in enumerate(customer_ids[::2])
    ]


def main() -> None:
    """Print the export and restore times and their ratios to the baselines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="10,000 customers, not 100,000")
    count = 10_000 if parser.parse_args().small else 100_000
    customers = list(make_customers(count))
    interactions = _interactions([c.id for c in customers])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with SQLiteStore(root / "source.db") as store:
            store.customers.add_many(customers)
            store.interactions.add_many(interactions)
            out = root / "export.jsonl"
            raw = root / "raw.jsonl"

            def baseline() -> None:
                with raw.open("w", encoding="utf-8") as handle:
                    for record in store.customers.iter_all():
                        handle.write(to_json(record) + "\n")

            raw_export = _timed(baseline)
            export = _timed(lambda: export_store(store, out))
        total = count + len(interactions)
        print(
            f"export: {count:,} customers and {len(interactions):,} interactions in "
            f"{export:.2f} s ({total / export:,.0f} records/s); raw dump of the customers "
            f"{raw_export:.2f} s; ratio {export / raw_export:.2f} (target <= 3)"
        )

        def add_many() -> None:
            with SQLiteStore(root / "added.db") as target:
                target.customers.add_many(customers)
                target.interactions.add_many(interactions)

        def restored() -> None:
            with SQLiteStore(root / "restored.db") as target:
                restore(target, out)

        def by_hand() -> None:
            people: list[Customer] = []
            logged: list[Interaction] = []
            with out.open(encoding="utf-8") as handle:
                lines = handle.readlines()
            for line in lines[1:-1]:
                data = json.loads(line)
                if data["entity"] == "customer":
                    people.append(from_dict(Customer, data["record"]))
                else:
                    logged.append(from_dict(Interaction, data["record"]))
            with SQLiteStore(root / "by_hand.db") as target:
                target.customers.add_many(people)
                target.interactions.add_many(logged)

        added = _timed(add_many)
        manual = _timed(by_hand)
        loading = _timed(restored)
        print(
            f"restore: {total:,} records in {loading:.2f} s ({total / loading:,.0f} records/s); "
            f"parsed by hand and add_many {manual:.2f} s: ratio {loading / manual:.2f} "
            f"(target <= 1.5); add_many of records built beforehand {added:.2f} s: "
            f"ratio {loading / added:.2f}"
        )


if __name__ == "__main__":
    main()
