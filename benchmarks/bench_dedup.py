"""``crmcore dedupe`` end to end: quality against ground truth, wall time, scaling.

Runs the real command (``python -m crmcore.cli dedupe``, a fresh process, so
import time counts) on:

- generated contact lists (benchmarks/datagen.py) of 50,000 and 150,000 rows;
- FEBRL3, and FEBRL4's two files concatenated into one input, from
  ../shared/data/febrl (relative to the repository root), through ``--map``.

The ``entity_id`` truth column is never mapped, so the command cannot read it.
For each run it prints pairwise precision, recall and F1 (the true pairs are
the pairs of rows sharing an ``entity_id``: for FEBRL4 the 5,000 cross-file
links plus any within-file pairs), blocking pairs-completeness (the share of
true pairs the engine's blocking compares at all, measured in this process on
the same match records; skipped above ``--completeness-limit`` rows, where it
would cost more than the run), the wall and CPU time and the peak memory of the
command's process tree (``benchmarks/measure.py``), the time ratio of the
largest to the smallest size and of each size to the one before, and the ratio
of the largest run to a raw baseline measured in the same run: email-validator
and phonenumbers parsing every email and phone of the file once, on one core.

Targets: F1 >= 0.97 with precision >= 0.98 at 150k generated rows; F1 >= 0.99
on FEBRL3 and FEBRL4; <= 20 s at 150k; 150k/50k time ratio <= 3.5; at scale
(``--sizes 500000 1000000``), <= 60 s and <= 2 GB at 500k, <= 120 s and <= 4 GB
at 1M.

Run: ``.venv/bin/python benchmarks/bench_dedup.py [--sizes 50000 150000] [--skip-febrl]``
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import attrs
import email_validator
import phonenumbers

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks.datagen`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.datagen import generate, write_csv  # noqa: E402
from benchmarks.measure import Measurement, run_measured  # noqa: E402
from crmcore.dedup import candidate_pairs, default_rules  # noqa: E402
from crmcore.io import match_records, plan_columns, read_csv  # noqa: E402

FEBRL = ROOT.parent / "shared" / "data" / "febrl"
FEBRL_ARGS = (
    "--id-column",
    "rec_id",
    "--map",
    "street_number=street_number",
    "--map",
    "address=address_1",
    "--map",
    "address=address_2",
    "--map",
    "city=suburb",
    "--map",
    "state=state",
    "--map",
    "identifier=soc_sec_id",
)


@attrs.frozen
class Quality:
    """Pairwise quality of a clustering against the truth."""

    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        """Share of predicted pairs that are true."""
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        """Share of true pairs predicted."""
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_quality(truth: Sequence[str], predicted: Sequence[str]) -> Quality:
    """Compare two labellings of the same rows, pair by pair, without listing pairs."""
    both = Counter(zip(truth, predicted, strict=True))
    return Quality(
        true_pairs=sum(_pairs(n) for n in Counter(truth).values()),
        predicted_pairs=sum(_pairs(n) for n in Counter(predicted).values()),
        correct_pairs=sum(_pairs(n) for n in both.values()),
    )


def run_cli(input_csv: Path, output_csv: Path, extra: Sequence[str] = ()) -> Measurement:
    """Run ``crmcore dedupe`` in a fresh process; its time and its process tree's memory.

    CPU time (of the command and its workers) and the load average are reported
    too: on a machine shared with other work, wall time follows the load.
    """
    command = [
        sys.executable,
        "-m",
        "crmcore.cli",
        "dedupe",
        str(input_csv),
        "--output",
        str(output_csv),
        "--quiet",
        *extra,
    ]
    done = run_measured(command)
    if done.returncode != 0:
        raise SystemExit(f"crmcore dedupe failed ({done.returncode}): {done.stderr.strip()}")
    return done


def read_column(path: Path, column: str) -> list[str]:
    """One column of a CSV file (UTF-8, BOM allowed)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def pairs_completeness(input_csv: Path, truth: Sequence[str], extra: Sequence[str]) -> float:
    """Share of true pairs that blocking compares, on the records the command builds."""
    table = read_csv(input_csv)
    maps = [extra[i + 1].partition("=") for i, a in enumerate(extra) if a == "--map"]
    plan = plan_columns(table.header, [(field, column) for field, _, column in maps])
    records = match_records(table, plan).records
    candidates = candidate_pairs(records, default_rules())
    by_entity: dict[str, list[int]] = {}
    for index, entity in enumerate(truth):
        by_entity.setdefault(entity, []).append(index)
    total = found = 0
    for members in by_entity.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                total += 1
                a, b = str(i), str(j)
                found += (a, b) in candidates or (b, a) in candidates
    return found / total if total else 1.0


def raw_baseline(input_csv: Path) -> float:
    """Parse every email and phone of the file with the dependencies alone, on one core."""
    with input_csv.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    start = time.perf_counter()
    for row in rows:
        if row["Email"].strip():
            with contextlib.suppress(email_validator.EmailNotValidError):
                email_validator.validate_email(row["Email"].strip(), check_deliverability=False)
        if row["Phone"]:
            region = row["Country"] if len(row["Country"]) == 2 else None
            with contextlib.suppress(phonenumbers.NumberParseException):
                phonenumbers.parse(row["Phone"], region)
    return time.perf_counter() - start


def report(name: str, quality: Quality, completeness: float | None, run: Measurement) -> None:
    """One result line."""
    complete = "-" if completeness is None else f"{completeness:.4f}"
    print(
        f"{name:<18} P {quality.precision:.4f}  R {quality.recall:.4f}  F1 {quality.f1:.4f}  "
        f"pairs-completeness {complete:<6}  true pairs {quality.true_pairs:>7}  "
        f"predicted {quality.predicted_pairs:>7}  {run.describe()}",
        flush=True,
    )


def _ratio(times: dict[int, Measurement], large: int, small: int, note: str = "") -> None:
    wall, cpu = times[large].wall / times[small].wall, times[large].cpu / times[small].cpu
    print(
        f"time ratio {large}/{small} (rows x{large / small:.2f}): wall {wall:.2f}, cpu {cpu:.2f}"
        f"{note}"
    )


def bench_generated(sizes: Sequence[int], seed: int, tmp: Path, completeness_limit: int) -> None:
    """Generated contact lists: quality, time, memory, scaling and the raw-parse ratio."""
    times: dict[int, Measurement] = {}
    baseline = 0.0
    for size in sizes:
        source = tmp / f"generated_{size}.csv"
        write_csv(source, generate(size, seed=seed))
        output = tmp / f"generated_{size}_out.csv"
        times[size] = run_cli(source, output)
        truth = read_column(source, "entity_id")
        quality = pairwise_quality(truth, read_column(output, "cluster_id"))
        completeness = pairs_completeness(source, truth, ()) if size <= completeness_limit else None
        report(f"generated {size}", quality, completeness, times[size])
        if size == max(sizes):
            baseline = raw_baseline(source)
        output.unlink()
        source.unlink()
    ordered = sorted(times)
    if len(ordered) >= 2:
        small, large = ordered[0], ordered[-1]
        target = " (target <= 3.5)" if (small, large) == (50_000, 150_000) else ""
        _ratio(times, large, small, target)
        if len(ordered) > 2:  # and step by step: growth close to linear keeps each near x rows
            for before, after in itertools.pairwise(ordered):
                _ratio(times, after, before)
    largest = max(sizes)
    print(
        f"raw baseline (email-validator + phonenumbers on every row, one core) at {largest}: "
        f"{baseline:.2f} s; crmcore dedupe wall / raw = {times[largest].wall / baseline:.2f}, "
        f"cpu / raw = {times[largest].cpu / baseline:.2f}"
    )


def bench_febrl(tmp: Path) -> None:
    """FEBRL3 and FEBRL4 (a and b concatenated) through --map."""
    febrl3 = FEBRL / "febrl3.csv"
    out3 = tmp / "febrl3_out.csv"
    timing = run_cli(febrl3, out3, FEBRL_ARGS)
    truth = read_column(febrl3, "entity_id")
    quality = pairwise_quality(truth, read_column(out3, "cluster_id"))
    report("febrl3", quality, pairs_completeness(febrl3, truth, FEBRL_ARGS), timing)

    febrl4 = tmp / "febrl4_ab.csv"
    with febrl4.open("w", encoding="utf-8", newline="") as out:
        for k, part in enumerate(("febrl4a.csv", "febrl4b.csv")):
            lines = (FEBRL / part).read_text(encoding="utf-8").splitlines(keepends=True)
            out.writelines(lines if k == 0 else lines[1:])
    out4 = tmp / "febrl4_out.csv"
    timing = run_cli(febrl4, out4, FEBRL_ARGS)
    truth = read_column(febrl4, "entity_id")
    quality = pairwise_quality(truth, read_column(out4, "cluster_id"))
    report("febrl4 (a+b)", quality, pairs_completeness(febrl4, truth, FEBRL_ARGS), timing)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description="crmcore dedupe end to end")
    parser.add_argument("--sizes", type=int, nargs="*", default=[50_000, 150_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument(
        "--completeness-limit",
        type=int,
        default=200_000,
        help="measure pairs-completeness only up to this many rows (it builds every record here)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crmcore-bench-") as name:
        tmp = Path(name)
        if not args.skip_generated and args.sizes:
            bench_generated(args.sizes, args.seed, tmp, args.completeness_limit)
        if not args.skip_febrl:
            bench_febrl(tmp)


if __name__ == "__main__":
    main()
