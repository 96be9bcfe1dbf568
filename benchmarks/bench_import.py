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

    python benchmarks/bench_import.py [--rows 100000] [--batch-size 1000]
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


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / "contacts.csv"
        write_csv(csv_path, generate(args.rows, seed=1))
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
