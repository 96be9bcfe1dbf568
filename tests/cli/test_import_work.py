"""``crmcore import --as opportunities|tasks|cases`` through the real command, on a SQLite file."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import Any

from crmcore.cases import CaseStatus
from crmcore.pipelines import DealStatus
from crmcore.storage import SQLiteStore
from crmcore.tasks import TaskStatus
from tests.cli.store_cli import crmcore

CONTACTS = """\
id,Name,Email
c1,Ada Lovelace,ada@example.com
c2,Bo Ek,bo@example.se
"""

PIPELINE = {
    "id": "b2b",
    "name": "B2B",
    "stages": [
        {"id": "qualify", "name": "Qualify", "probability": "0.1"},
        {"id": "proposal", "name": "Proposal", "probability": "0.5"},
        {"id": "won", "name": "Closed Won", "probability": "1", "status": "won"},
        {"id": "lost", "name": "Closed Lost", "probability": "0", "status": "lost"},
    ],
}

# Salesforce's opportunity report headers; a semicolon file, as Excel writes in Sweden.
DEALS = """\
Opportunity ID;Opportunity Name;Stage;Amount;Close Date;Account ID;Opportunity Owner;Loss Reason
o1;Website;Proposal;12 000,50;2026-03-31;c1;anna;
o2;Shop;Closed Won;EUR 5000;2026-01-15;bo@example.se;;
o3;Secret deal;Closed Lost;100;;c2;;
o4;Ghost;Proposal;1;;ghost@example.com;;
"""

TASKS = """\
Subject,Status,Due Date,Assigned To,Related To
Call Ada,Not Started,2026-02-01,anna,ada@example.com
Send quote,Completed,2026-01-20T10:00:00+01:00,bo,c2
"""

TICKETS = """\
Ticket ID,Ticket name,Ticket status,Source,Create date,Email
t1,Order not arrived,Waiting on contact,FORM,2026-01-05 09:00,ada@example.com
t2,Refund,Closed,EMAIL,2026-01-06 10:00,bo@example.se
"""


def _setup(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    (tmp_path / "deals.csv").write_text(DEALS, encoding="utf-8")
    (tmp_path / "tasks.csv").write_text(TASKS, encoding="utf-8")
    (tmp_path / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    (tmp_path / "sales.json").write_text(json.dumps(PIPELINE), encoding="utf-8")
    done = crmcore(
        "import", "contacts.csv", "--db", "crm.db", "--id-column", "id", "-q", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_deals_tasks_and_tickets_import_and_a_rerun_stores_nothing_new(tmp_path: Path) -> None:
    _setup(tmp_path)
    deals = (
        "import",
        "deals.csv",
        "--db",
        "crm.db",
        "--as",
        "opportunities",
        "--pipeline",
        "sales.json",
        "--id-column",
        "Opportunity ID",
        "--participant-source",
        "contacts.csv",
        "--currency",
        "SEK",
    )
    text = crmcore(*deals, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "4 rows -> 2 imported, 0 merged, 0 skipped, 2 rejected" in text.stderr
    assert "Opportunity Name -> name" in text.stderr
    assert "Secret deal" not in text.stderr
    assert "ghost@" not in text.stderr
    with (tmp_path / "deals.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = list(csv.DictReader(handle, delimiter=","))
    assert [(r["row"], r["field"]) for r in rejects] == [("4", "lost_reason"), ("5", "customer")]
    again = _json(crmcore(*deals, "--format", "json", cwd=tmp_path))
    assert (again["imported"], again["already_imported"]) == (0, 2)

    tasks = (
        "import",
        "tasks.csv",
        "--db",
        "crm.db",
        "--as",
        "tasks",
        "--participant-source",
        "contacts.csv",
        "--format",
        "json",
    )
    naive = _json(crmcore(*tasks, "--dry-run", cwd=tmp_path))
    assert [(r["row"], r["field"]) for r in naive["rejects"]] == [(2, "due")]
    zoned = _json(crmcore(*tasks, "--timezone", "Europe/Stockholm", cwd=tmp_path))
    assert zoned["imported"] == 2
    tickets = (
        "import",
        "tickets.csv",
        "--db",
        "crm.db",
        "--as",
        "cases",
        "--id-column",
        "Ticket ID",
        "--timezone",
        "UTC",
        "--format",
        "json",
    )
    assert _json(crmcore(*tickets, cwd=tmp_path))["imported"] == 2
    assert _json(crmcore(*tickets, cwd=tmp_path))["already_imported"] == 2

    with SQLiteStore(tmp_path / "crm.db") as store:
        (ada,) = store.customers.find_by_identifier("source:contacts.csv", "c1")
        (bo,) = store.customers.find_by_identifier("source:contacts.csv", "c2")
        deals_by = {d.name: d for d in store.opportunities.iter_all()}
        assert deals_by["Website"].customer_id == ada.id
        assert deals_by["Website"].amount is not None
        assert str(deals_by["Website"].amount) == "12000.50 SEK"
        assert deals_by["Shop"].status is DealStatus.WON
        assert {t.title: t.status for t in store.tasks.iter_all()} == {
            "Call Ada": TaskStatus.OPEN,
            "Send quote": TaskStatus.DONE,
        }
        assert {t.about_id for t in store.tasks.iter_all()} == {ada.id, bo.id}
        assert {c.subject: c.status for c in store.cases.iter_all()} == {
            "Order not arrived": CaseStatus.WAITING_ON_CUSTOMER,
            "Refund": CaseStatus.CLOSED,
        }

    stats = _json(
        crmcore("stats", "--db", "crm.db", "--format", "json", "--no-duplicates", cwd=tmp_path)
    )
    assert stats["opportunities"] == {"total": 2, "by_status": {"open": 1, "won": 1, "lost": 0}}
    assert stats["tasks"]["by_status"] == {"open": 1, "done": 1, "cancelled": 0}
    assert stats["cases"]["total"] == 2
    plain = crmcore("stats", "--db", "crm.db", "--no-duplicates", cwd=tmp_path)
    assert "opportunities" in plain.stdout.splitlines()
    exported = crmcore(
        "export", "--db", "crm.db", "-o", "deals_out.csv", "--entity", "opportunities", cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.startswith("exported 2 opportunities to deals_out.csv")
    backup = crmcore("export", "--db", "crm.db", "-o", "backup.jsonl", cwd=tmp_path)
    assert "2 opportunities, 2 tasks, 2 cases" in backup.stderr
    restored = crmcore("import", "backup.jsonl", "--db", "copy.db", cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    with SQLiteStore(tmp_path / "copy.db") as copy, SQLiteStore(tmp_path / "crm.db") as original:
        assert list(copy.opportunities.iter_all()) == list(original.opportunities.iter_all())
        assert list(copy.tasks.iter_all()) == list(original.tasks.iter_all())
        assert list(copy.cases.iter_all()) == list(original.cases.iter_all())


def test_work_item_command_line_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    _setup(tmp_path)
    (tmp_path / "broken.json").write_text('{"id": "x", "name": "X", "stages": []}', "utf-8")
    (tmp_path / "nojson.json").write_text("{oops", "utf-8")
    (tmp_path / "nameless.csv").write_text("Amount,Email\n1,ada@example.com\n", "utf-8")
    for args, message in (
        (("deals.csv", "--as", "opportunities"), "--pipeline: an opportunities import needs"),
        (
            ("deals.csv", "--as", "opportunities", "--pipeline", "broken.json"),
            "--pipeline broken.json: stages",
        ),
        (("deals.csv", "--as", "opportunities", "--pipeline", "nojson.json"), "is not JSON"),
        (("contacts.csv", "--pipeline", "sales.json"), "--pipeline: only with --as opportunities"),
        (
            ("deals.csv", "--as", "opportunities", "--pipeline", "sales.json", "--currency", "XYZ"),
            "--currency: not an ISO 4217",
        ),
        (
            ("nameless.csv", "--as", "opportunities", "--pipeline", "sales.json"),
            "--map name=COLUMN",
        ),
        (("tasks.csv", "--as", "tasks", "--map", "given_name=Subject"), "unknown field"),
    ):
        done = crmcore("import", *args, "--db", "other.db", cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert message in done.stderr
    assert not (tmp_path / "other.db").exists()
