"""Evaluate the default rules on the FEBRL record-linkage benchmarks.

Maps each FEBRL CSV row to a :class:`~crmcore.dedup.MatchRecord` (never
reading ``rec_id`` or ``entity_id`` for matching), runs
:func:`~crmcore.dedup.find_duplicates` and prints pairwise precision, recall
and F1 against the true links, blocking pairs-completeness, and timing against
a raw baseline (reading the CSV rows) measured in the same run.

    python benchmarks/eval_febrl.py [--data DIR] [febrl1 febrl3 febrl4 ...]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from crmcore import PersonName, PostalAddress
from crmcore.dedup import MatchRecord, RuleSet, candidate_pairs, find_duplicates

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "febrl"

Pair = tuple[str, str]


def _date(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def to_record(row: dict[str, str], prefix: str = "") -> MatchRecord:
    """One FEBRL row as a match record (rec_id only becomes the record's id)."""
    given = row["given_name"].strip() or None
    family = row["surname"].strip() or None
    name = PersonName(given=given, family=family) if given or family else None
    street = " ".join(x for x in (row["street_number"].strip(), row["address_1"].strip()) if x)
    lines = tuple(x for x in (street, row["address_2"].strip()) if x)
    address = None
    if lines or row["suburb"].strip() or row["postcode"].strip():
        address = PostalAddress(
            lines=lines,
            locality=row["suburb"].strip() or None,
            region=row["state"].strip() or None,
            postal_code=row["postcode"].strip() or None,
            country="AU",
        )
    ssn = row["soc_sec_id"].strip()
    return MatchRecord(
        id=prefix + row["rec_id"],
        name=name,
        addresses=(address,) if address else (),
        birth_date=_date(row["date_of_birth"].strip()),
        identifiers={"soc_sec_id": ssn} if ssn else {},
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    """Every row of a FEBRL CSV, every column as text."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load(data: Path, name: str) -> tuple[list[MatchRecord], set[Pair]]:
    """Records and true pairs of ``febrl1``..``febrl3`` or ``febrl4`` (a + b)."""
    if name == "febrl4":
        records = [to_record(r, "a:") for r in read_rows(data / "febrl4a.csv")]
        records += [to_record(r, "b:") for r in read_rows(data / "febrl4b.csv")]
        links = read_rows(data / "febrl4_links.csv")
        truth = {_pair("a:" + r["rec_id_a"], "b:" + r["rec_id_b"]) for r in links}
        return records, truth
    records = [to_record(r) for r in read_rows(data / f"{name}.csv")]
    truth = {_pair(r["rec_id_l"], r["rec_id_r"]) for r in read_rows(data / f"{name}_links.csv")}
    return records, truth


def _pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def predicted_pairs(clusters: Iterable[Sequence[str]], cross_prefix: bool = False) -> set[Pair]:
    """Every pair inside a cluster (only pairs across files when ``cross_prefix``)."""
    out = set()
    for members in clusters:
        for a, b in itertools.combinations(members, 2):
            if cross_prefix and a[:2] == b[:2]:
                continue
            out.add(_pair(a, b))
    return out


def scores(predicted: set[Pair], truth: set[Pair]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1."""
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(data: Path, name: str, rules: RuleSet | None = None) -> dict[str, float]:
    """Precision, recall, F1, pairs-completeness, timing for one data set."""
    t0 = time.perf_counter()
    records, truth = load(data, name)
    load_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = find_duplicates(records, rules)
    seconds = time.perf_counter() - t1
    cross = name == "febrl4"
    predicted = predicted_pairs((c.member_ids for c in result.clusters), cross)
    precision, recall, f1 = scores(predicted, truth)
    blocked = candidate_pairs(records, rules)
    completeness = len(truth & blocked) / len(truth)
    return {
        "records": len(records),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "pairs_completeness": completeness,
        "candidate_pairs": float(result.stats["candidate_pairs"]),
        "seconds": seconds,
        "load_seconds": load_seconds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line of figures per data set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("sets", nargs="*", default=["febrl1", "febrl2", "febrl3", "febrl4"])
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"FEBRL data not found in {args.data}", file=sys.stderr)
        return 2
    for name in args.sets:
        r = evaluate(args.data, name)
        print(
            f"{name}: records={r['records']:.0f} precision={r['precision']:.4f} "
            f"recall={r['recall']:.4f} f1={r['f1']:.4f} "
            f"pairs_completeness={r['pairs_completeness']:.4f} "
            f"candidate_pairs={r['candidate_pairs']:.0f} dedup={r['seconds']:.2f}s "
            f"baseline_read={r['load_seconds']:.2f}s "
            f"ratio={r['seconds'] / r['load_seconds']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
