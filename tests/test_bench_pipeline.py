"""benchmarks/bench_pipeline.py: both sides of the benchmark give the deals' true forecast."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from benchmarks import bench_pipeline as bench

from crmcore import DealStatus, SQLiteStore

ROOT = Path(__file__).resolve().parent.parent


def test_forecast_and_the_hand_written_aggregate_equal_the_deals_sums(tmp_path: Path) -> None:
    deals = list(bench.generate(1_500))
    assert {d.status for d in deals} == set(DealStatus)  # every branch of the data is drawn
    expected = bench.expected_answer(deals)
    path = tmp_path / "pipeline.db"
    with SQLiteStore(path) as store:
        bench.build(store, 1_500)  # the same deals, after the customers they name
        assert bench.crm_answer(store) == expected
        connection = sqlite3.connect(path)
        try:
            assert bench.raw_answer(connection) == expected
        finally:
            connection.close()


def test_the_script_builds_times_and_agrees(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_pipeline.py"),
        "--rows",
        "2000",
        "--repeat",
        "1",
        "--db",
        str(db),
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    assert "built 2000 opportunities" in first.stdout
    assert "answers agree" in first.stdout
    assert "ratio" in first.stdout
    # The kept file is reused, not rebuilt; a file of another size is refused.
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert "built" not in again.stdout
    other = subprocess.run(
        [*command[:3], "1000", *command[4:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert other.returncode == 2
    assert str(db) in other.stderr
