"""``crmcore export`` and ``crmcore stats`` through the real command, on real SQLite files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from crmcore.io import restore
from crmcore.storage import InMemoryStore, SQLiteStore
from tests.cli.store_cli import busy_db, crmcore


def test_export_writes_a_lossless_file_that_restores_to_the_same_store(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    busy_db(db)
    out = tmp_path / "backup.jsonl"
    done = crmcore("export", "--db", db, "--output", out)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        f"exported 3 customers, 1 lead, 2 interactions, 1 merge record, 0 opportunities, "
        f"0 tasks, 0 cases to {out} (jsonl)"
    )
    with InMemoryStore() as copy, SQLiteStore(db) as original:
        restore(copy, out)
        assert list(copy.customers.iter_all()) == list(original.customers.iter_all())
        assert list(copy.leads.iter_all()) == list(original.leads.iter_all())


def test_export_to_standard_output_and_one_entity(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ids = busy_db(db)
    done = crmcore("export", "--db", db, "-o", "-", "--entity", "merges", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert json.loads(lines[0])["entities"] == ["merges"]
    assert json.loads(lines[1])["record"]["id"] == ids["merge"]
    assert json.loads(lines[-1]) == {"crmcore_export_end": {"merges": 1}}


def test_csv_export_names_one_entity_and_is_formula_safe(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    busy_db(db)
    refused = crmcore("export", "--db", db, "-o", tmp_path / "all.csv")
    assert refused.returncode == 2
    assert refused.stderr.startswith("crmcore: error: --entity: a CSV file holds one entity")
    assert not (tmp_path / "all.csv").exists()
    out = tmp_path / "people.csv"
    done = crmcore("export", "--db", db, "-o", out, "--entity", "customers")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 3
    assert all(not r["phones"].startswith("'") for r in rows)
    jsonl = crmcore("export", "--db", db, "-o", "-", "--format", "csv", "--entity", "leads")
    assert jsonl.returncode == 0, jsonl.stderr
    assert jsonl.stdout.splitlines()[0].startswith("id,name,company,emails")


def test_export_refusals_are_one_line_and_create_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    busy_db(db)
    for args, code, message in (
        (("--db", tmp_path / "typo.db", "-o", tmp_path / "x.jsonl"), 1, "no such database file"),
        (("--db", db, "-o", db), 2, "--output must not be the database file"),
        (("--db", db, "-o", tmp_path / "no" / "x.jsonl"), 1, "no such directory"),
        (("--db", db, "-o", "x.jsonl", "--entity", "people"), 2, "invalid choice"),
    ):
        done = crmcore("export", *args)
        assert done.returncode == code, done.stderr
        assert len(done.stderr.splitlines()) == 1
        assert message in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "typo.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("crm.db")) == []


def test_stats_counts_by_entity_stage_status_channel_and_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    busy_db(db)
    done = crmcore("stats", "--db", db, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["customers"]["total"] == 3
    assert data["customers"]["merged"] == 1
    assert sum(data["customers"]["by_stage"].values()) == 2
    assert data["leads"]["by_status"]["new"] == 1
    assert data["interactions"]["total"] == 2
    assert sum(data["interactions"]["by_channel"].values()) == 2
    assert data["merges"] == {"total": 1, "undone": 0}
    assert data["duplicates"]["records"] == 3
    text = crmcore("stats", "--db", db)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "customers" in lines
    assert any(line.split() == ["merged", "away", "1"] for line in lines)
    assert "\x1b[" not in text.stdout  # piped: plain text, no colour codes
    quick = crmcore("stats", "--db", db, "--format", "json", "--no-duplicates")
    assert json.loads(quick.stdout)["duplicates"] is None
    missing = crmcore("stats", "--db", tmp_path / "missing.db")
    assert missing.returncode == 1
    assert missing.stderr.startswith("crmcore: error: --db:")
