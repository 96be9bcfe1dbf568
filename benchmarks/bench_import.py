"""Throughput of ``crmcore.io.import_file`` with duplicate checking on, against two baselines.

Writes ``--rows`` generated contact rows (``benchmarks/datagen.py``: several
countries, about 40% of the people with duplicate rows) to a CSV file, then,
in the same run, each into a fresh SQLite file:

1. ``import_file(..., on_duplicate="alert")``: checking on (each chunk's
   candidates looked up in the store with bulk key queries and matched with
   the dedup engine, in the chunk's transaction);
2. ``import_file(..., on_duplicate="create")``: the same import, checking off;
3. ``add_many`` of the same customers, built beforehand, in chunks of the same
   size (the raw write baseline).

It prints rows per second for each and the ratios; the goal is checking on at
most 2x the unchecked import.

With ``--reruns``, it instead imports the rows once as leads and once as
customers (``on_duplicate="create"``) and times importing each file again,
when every row is skipped as already imported: a customer's source id is an
identifier, which every store indexes; a lead's is a custom field, found
through the store's key index (``crmcore.storage.keys.source_keys``). A ratio
near 1 says that a leads re-run is an indexed lookup too, not a scan.

    python benchmarks/bench_import.py [--rows 100000] [--batch-size 1000] [--reruns]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from crmcore.io import import_file
from crmcore.storage import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks.datagen`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.datagen import generate, write_csv  # noqa: E402


def _timed_import(path: Path, db: Path, policy: str, batch: int) -> tuple[float, int]:
    with SQLiteStore(db) as store:
        started = time.perf_counter()
        report = import_file(
            store, path, region="SE", id_column="record_id", on_duplicate=policy, batch_size=batch
        )
        seconds = time.perf_counter() - started
        assert report.imported + report.merged + report.skipped + report.rejected == report.rows
        return seconds, report.flagged


def _rerun(path: Path, db: Path, entity: str, batch: int) -> float:
    with SQLiteStore(db) as store:
        first = import_file(
            store, path, entity=entity, region="SE", id_column="record_id", on_duplicate="create"
        )
        started = time.perf_counter()
        again = import_file(
            store, path, entity=entity, region="SE", id_column="record_id", batch_size=batch
        )
        seconds = time.perf_counter() - started
        assert again.already_imported == first.imported, "the re-run stored rows again"
        return seconds


def _reruns(csv_path: Path, work: Path, rows: int, batch: int) -> None:
    leads = _rerun(csv_path, work / "leads.db", "leads", batch)
    customers = _rerun(csv_path, work / "customers.db", "customers", batch)
    print(f"rows: {rows:,} (batch {batch:,}), every one already imported")
    print(f"leads re-run    : {leads:7.2f} s  {rows / leads:9,.0f} rows/s")
    print(f"customers re-run: {customers:7.2f} s  {rows / customers:9,.0f} rows/s")
    print(f"ratio leads/customers: {leads / customers:.2f}x")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--reruns", action="store_true", help="time re-runs of leads/customers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / "contacts.csv"
        write_csv(csv_path, generate(args.rows, seed=1))
        if args.reruns:
            _reruns(csv_path, work, args.rows, args.batch_size)
            return
        checked, flagged = _timed_import(csv_path, work / "on.db", "alert", args.batch_size)
        unchecked, _ = _timed_import(csv_path, work / "off.db", "create", args.batch_size)
        with SQLiteStore(work / "off.db") as done:
            records = list(done.customers.iter_all(batch_size=5_000))
        with SQLiteStore(work / "raw.db") as raw:
            started = time.perf_counter()
            for start in range(0, len(records), args.batch_size):
                with raw.transaction():
                    raw.customers.add_many(records[start : start + args.batch_size])
            baseline = time.perf_counter() - started
    rows = args.rows
    print(f"rows: {rows:,} (batch {args.batch_size:,}); flagged as duplicates: {flagged:,}")
    print(f"checking on : {checked:7.1f} s  {rows / checked:9,.0f} rows/s")
    print(f"checking off: {unchecked:7.1f} s  {rows / unchecked:9,.0f} rows/s")
    print(f"add_many    : {baseline:7.1f} s  {len(records) / baseline:9,.0f} records/s")
    print(f"ratio on/off: {checked / unchecked:.2f}x (goal: at most 2x)")
    print(f"ratio on/add_many: {checked / baseline:.2f}x")


if __name__ == "__main__":
    main()
