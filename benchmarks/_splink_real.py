"""splink 5 on one of the real data sets, as its documentation would have a user set it up.

Runs in the side environment ``benchmarks/realdata.py`` creates (splink 5.0.0
with DuckDB), never in crmcore's: ``SIDE_PYTHON benchmarks/_splink_real.py SET
INPUT.csv LABELS.csv``. It writes ``record_id,cluster_id`` for every row.

The set-up follows splink's tutorial and API docs, with nothing fitted to the
truth (which this script never reads):

- input standardised as splink's README asks ("lowercased, punctuation cleaned
  up"); phone numbers reduced to their digits; empty cells are nulls;
- ``SettingsCreator(link_type="dedupe_only")`` with the comparison library's
  out-of-the-box comparisons for each column (``NameComparison`` for a
  person's names, Jaro-Winkler for other text, ``ExactMatch`` with term
  frequency adjustments for cities, ``DateOfBirthComparison`` for dates);
- blocking rules with ``block_on`` on the selective columns;
- ``estimate_probability_two_random_records_match`` from deterministic rules
  (the tutorial's, where the set has its columns) at recall 0.7 (the
  tutorial's figure), ``estimate_u_using_random_sampling``
  with 1e7 pairs, then ``estimate_parameters_using_expectation_maximisation``
  on two blocking rules so that every comparison gets its m values;
- ``predict`` and ``cluster_pairwise_predictions_at_threshold`` at match
  probability 0.9.
"""

# mypy: disable-error-code="import-not-found,unused-ignore,no-untyped-call,misc"

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

THRESHOLD = 0.9


def _clean(text: str) -> str | None:
    text = unicodedata.normalize("NFKC", text).lower()
    text = " ".join(re.sub(r"[^\w\s]", " ", text).split())
    return text or None


def _digits(text: str) -> str | None:
    return re.sub(r"\D", "", text) or None


def _settings(name: str) -> tuple[Any, list[Any], list[Any]]:
    """Settings, deterministic rules for the prior, and the EM blocking rules of one set."""
    if name == "restaurants":
        settings = SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="record_id",
            comparisons=[
                cl.JaroWinklerAtThresholds("name", [0.9, 0.7]),
                cl.JaroWinklerAtThresholds("addr", [0.9, 0.7]),
                cl.ExactMatch("city").configure(term_frequency_adjustments=True),
                cl.ExactMatch("phone"),
            ],
            blocking_rules_to_generate_predictions=[
                block_on("phone"),
                block_on("name"),
                block_on("addr"),
                block_on("substr(name, 1, 3)", "city"),
            ],
        )
        return (
            settings,
            [block_on("phone"), block_on("name", "city")],
            [
                block_on("city"),
                block_on("phone"),
            ],
        )
    if name == "patentsview":
        settings = SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="record_id",
            comparisons=[
                cl.NameComparison("first_name"),
                cl.NameComparison("last_name"),
                cl.ExactMatch("city").configure(term_frequency_adjustments=True),
                cl.ExactMatch("state"),
                cl.ExactMatch("country"),
                cl.JaroWinklerAtThresholds("assignee", [0.9, 0.7]),
            ],
            blocking_rules_to_generate_predictions=[
                block_on("first_name", "last_name"),
                block_on("last_name", "city"),
                block_on("last_name", "assignee"),
            ],
        )
        return (
            settings,
            [block_on("first_name", "last_name", "city")],
            [
                block_on("first_name", "last_name"),
                block_on("city"),
            ],
        )
    if name == "rldata":
        settings = SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="record_id",
            comparisons=[
                cl.NameComparison("first_name"),
                cl.NameComparison("last_name"),
                cl.DateOfBirthComparison("birth_date", input_is_string=True),
            ],
            blocking_rules_to_generate_predictions=[
                block_on("first_name", "last_name"),
                block_on("last_name", "birth_date"),
                block_on("first_name", "birth_date"),
            ],
        )
        # The tutorial's deterministic rules, with this set's column names.
        deterministic = [
            "l.first_name = r.first_name and levenshtein(r.birth_date, l.birth_date) <= 1",
            "l.last_name = r.last_name and levenshtein(r.birth_date, l.birth_date) <= 1",
            "l.first_name = r.first_name and levenshtein(r.last_name, l.last_name) <= 2",
        ]
        return (
            settings,
            deterministic,
            [
                block_on("first_name", "last_name"),
                block_on("birth_date"),
            ],
        )
    raise SystemExit(f"no splink settings for {name}")


def main() -> None:
    """Read the CSV, train, predict, cluster, write the labels."""
    name, source, target = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = []
    for row in rows:
        record: dict[str, Any] = {"record_id": row["record_id"]}
        for column, value in row.items():
            if column in ("record_id", "entity_id"):
                continue  # the truth column is never given to splink
            if column == "birth_date":
                record[column] = value or None
            else:
                record[column] = _digits(value) if column == "phone" else _clean(value)
        records.append(record)
    settings, deterministic, em_rules = _settings(name)
    db_api = DuckDBAPI()
    table = db_api.register(records)
    linker = Linker(table, settings)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD
    )
    cluster_of = {str(r["record_id"]): str(r["cluster_id"]) for r in clusters.as_record_list()}
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "cluster_id"])
        for row in rows:
            writer.writerow([row["record_id"], cluster_of.get(row["record_id"], row["record_id"])])


if __name__ == "__main__":
    main()
