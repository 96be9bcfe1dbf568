"""``crmcore dedupe --db``: a store's duplicates found, reviewed, merged and undone,
through the real command on real SQLite files."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from crmcore import Customer
from crmcore.serialization import to_dict
from crmcore.storage import SQLiteStore
from tests.cli.store_cli import crmcore

# Two records that are surely one person (a cluster at confidence 1.0), a pair
# in the review band (0.85: same name, another email), and one person alone.
PEOPLE: tuple[dict[str, Any], ...] = (
    {"name": "Åsa Lind", "emails": ["asa.lind@example.se"], "phones": ["+46701234567"]},
    {"name": "Asa Lind", "emails": ["ASA.LIND@example.se"], "phones": ["+46 70 123 45 67"]},
    {"name": "Maria Svensson", "emails": ["maria.svensson@example.se"]},
    {"name": "Maria Svensson", "emails": ["m.svensson@work.example"]},
    {"name": "Siti <b>Rahayu</b>", "emails": ["siti@example.co.id"]},
)


def _db(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "crm.db"
    with SQLiteStore(path) as store:
        ids: list[str] = [store.customers.add(Customer.create(**p)).id for p in PEOPLE]
    return path, ids


def _state(db: Path) -> list[dict[str, object]]:
    with SQLiteStore(db) as store:
        return [to_dict(c) for c in store.customers.iter_all()]


def test_dedupe_on_a_store_reports_and_changes_nothing(tmp_path: Path) -> None:
    db, ids = _db(tmp_path)
    before = _state(db)
    report = tmp_path / "review.html"
    done = crmcore("dedupe", "--db", db, "--report", report, "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        f"5 live records: 1 cluster of duplicates (2 records), 1 pair to review; wrote {report}"
    )
    assert _state(db) == before
    page = report.read_text(encoding="utf-8")
    assert ids[0] in page
    assert ids[1] in page
    assert "Possible matches" in page
    assert html.escape("m.svensson@work.example") in page
    assert ids[4] not in page  # alone: in no cluster or pair


def test_merge_above_merges_only_stronger_clusters_and_prints_merge_ids(tmp_path: Path) -> None:
    db, ids = _db(tmp_path)
    # At threshold 0.8 the review pair (0.85) is a cluster too, but below 0.9.
    done = crmcore("dedupe", "--db", db, "--threshold", "0.8", "--merge-above", "0.9", "-q")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    merge_id, survivor, arrow, merged = lines[0].split()
    assert merge_id.startswith("mrg_")
    assert arrow == "<-"
    assert {survivor, merged} == {ids[0], ids[1]}
    with SQLiteStore(db) as store:
        assert store.customers.get(merged).merged_into == survivor
        assert store.customers.get(ids[2]).merged_into is None
        assert store.customers.get(ids[3]).merged_into is None
    again = crmcore("dedupe", "--db", db, "--merge-above", "0.9", "-q")
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert again.stderr.startswith("4 live records: 0 clusters")


def test_a_merge_is_undone_by_crmcore_unmerge_exactly(tmp_path: Path) -> None:
    db, _ = _db(tmp_path)
    before = {c["id"]: c for c in _state(db)}
    done = crmcore("dedupe", "--db", db, "--merge-above", "0.5", "-q")
    merge_id = done.stdout.split()[0]
    undone = crmcore("unmerge", "--db", db, merge_id)
    assert undone.returncode == 0, undone.stderr
    for record in _state(db):
        original = dict(before[record["id"]])
        changed = dict(record)
        for bookkeeping in ("version", "updated_at"):
            original.pop(bookkeeping)
            changed.pop(bookkeeping)
        assert changed == original


def test_dry_run_lists_what_would_be_merged_and_writes_nothing(tmp_path: Path) -> None:
    db, ids = _db(tmp_path)
    before = _state(db)
    done = crmcore("dedupe", "--db", db, "--merge-above", "0.9", "--dry-run", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1.000", *sorted(ids[:2])]
    assert "dry run: the store is unchanged" in done.stderr
    assert _state(db) == before
    with SQLiteStore(db) as store:
        assert store.merges.list_for(ids[0]) == []


def test_the_two_forms_of_dedupe_are_kept_apart(tmp_path: Path) -> None:
    db, _ = _db(tmp_path)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,email\nAnn,ann@example.com\n", encoding="utf-8")
    for args, message in (
        ((contacts, "--db", db), "give either an INPUT file or --db, not both"),
        ((), "give an INPUT.csv file, or --db"),
        ((contacts,), "--output is required with an INPUT file"),
        ((contacts, "-o", tmp_path / "o.csv", "--merge-above", "0.9"), "--merge-above works on"),
        (("--db", db, "-o", tmp_path / "o.csv"), "--output reads an INPUT file"),
        (("--db", db, "--map", "email=Mail"), "--map reads an INPUT file"),
        (("--db", db, "--dry-run"), "--dry-run shows what --merge-above P would merge"),
        (("--db", db, "--merge-above", "1.5"), "must be a number between 0 and 1"),
    ):
        done = crmcore("dedupe", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert len(done.stderr.splitlines()) == 1
    missing = crmcore("dedupe", "--db", tmp_path / "typo.db")
    assert missing.returncode == 1
    assert "no such database file" in missing.stderr
    assert not (tmp_path / "o.csv").exists()
    assert not (tmp_path / "typo.db").exists()


def test_json_summary_for_scripts(tmp_path: Path) -> None:
    db, ids = _db(tmp_path)
    dry = crmcore("dedupe", "--db", db, "--merge-above", "0.9", "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    data = json.loads(dry.stdout)
    assert data["records"] == 5
    assert data["clusters"] == 1
    assert data["possible_pairs"] == 1
    (cluster,) = data["would_merge"]
    assert cluster["record_ids"] == sorted(ids[:2])
    assert cluster["confidence"] > 0.9
    assert "merged" not in data
    done = crmcore("dedupe", "--db", db, "--merge-above", "0.9", "--format", "json", "-q")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    (merged,) = data["merged"]
    assert {merged["survivor_id"], *merged["merged_ids"]} == set(ids[:2])
    assert data["failed"] == []
    with SQLiteStore(db) as store:
        assert store.merges.get(merged["merge_id"]).is_active
    contacts = tmp_path / "c.csv"
    contacts.write_text("name\nAnn\n", encoding="utf-8")
    refused = crmcore("dedupe", contacts, "-o", tmp_path / "o.csv", "--format", "json")
    assert refused.returncode == 2
    assert "--format works on a store: give --db" in refused.stderr
