"""``crmcore import`` end to end, through the real command."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from benchmarks.datagen import generate, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore import CustomerKind
from crmcore.storage import SQLiteStore
from crmcore.storage.keys import source_scheme

CONTACTS = """\
id,First Name,Last Name,E-mail,Mobile,Company,City,Country,Tags,Notes
a1,Åsa,Lind,asa.lind@example.se,070-123 45 67,Acme AB,Göteborg,Sweden,vip;b2b,first
a2,Asa,Lind, ASA.LIND@example.se ,+46 70 123 45 67,Acme,Göteborg,SE,,second
a3,Robert,Smith,bob.smith@example.com,(212) 555-0100,,New York,United States,,
a4,Broken,Row,not-an-email,12,,,Narnia,,secret-note
a5,,,,,Acme AB,,SE,,
"""

INTERACTIONS = """\
Channel,Direction,Timestamp,Email,Subject
email,in,2024-05-01T10:00:00+02:00,asa.lind@example.se,Hello
call,out,2024-05-02 11:00,bob.smith@example.com,Ring
"""

CRMCORE = [sys.executable, "-m", "crmcore"]


def crmcore(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CRMCORE, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    return path


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_good_rows_import_and_the_bad_one_goes_to_the_rejects_file(
    contacts: Path, tmp_path: Path
) -> None:
    result = crmcore("import", "contacts.csv", "--db", "crm.db", "--id-column", "id", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "5 rows -> 4 imported, 0 merged, 0 skipped, 1 rejected, 2 flagged" in result.stderr
    assert "contacts.rejects.csv" in result.stderr
    assert "secret-note" not in result.stderr
    with (tmp_path / "contacts.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [*CONTACTS.splitlines()[0].split(","), "row", "field", "reason"]
    assert len(rows) == 2
    bad = dict(zip(rows[0], rows[1], strict=True))
    assert bad["id"] == "a4"
    assert bad["Notes"] == "secret-note"  # the original cells, untouched
    assert bad["row"] == "5"
    assert set(bad["field"].split("; ")) == {"email", "phone", "country"}
    assert "not-an-email" not in bad["reason"]
    with SQLiteStore(tmp_path / "crm.db") as store:
        people = [c for c in store.customers.iter_all() if c.kind is CustomerKind.PERSON]
        orgs = [c for c in store.customers.iter_all() if c.kind is CustomerKind.ORGANIZATION]
        scheme = source_scheme("contacts.csv")
        assert sorted(c.identifiers[scheme] for c in people) == ["a1", "a2", "a3"]
        assert len(orgs) == 2  # the employer made for row 2, and row 6's own organisation
        asa = next(c for c in people if c.identifiers[scheme] == "a1")
        assert asa.organization_id is not None
        assert store.customers.get(asa.organization_id).kind is CustomerKind.ORGANIZATION
        assert asa.tags == frozenset({"vip", "b2b"})
        assert asa.custom_fields["Notes"] == "first"  # an unread column is kept
        second = next(c for c in people if c.identifiers[scheme] == "a2")
        assert second.organization_id == asa.organization_id  # "Acme" is "Acme AB"


@pytest.mark.parametrize("policy", ["alert", "skip", "merge", "create"])
def test_the_same_file_twice_stores_nothing_new(
    contacts: Path, tmp_path: Path, policy: str
) -> None:
    args = (
        "import",
        "contacts.csv",
        "--db",
        "crm.db",
        "--on-duplicate",
        policy,
        "--format",
        "json",
    )
    first = summary(crmcore(*args, cwd=tmp_path))
    with SQLiteStore(tmp_path / "crm.db") as store:
        before = sorted(c.id for c in store.customers.iter_all())
    second = summary(crmcore(*args, cwd=tmp_path))
    with SQLiteStore(tmp_path / "crm.db") as store:
        assert sorted(c.id for c in store.customers.iter_all()) == before
    assert second["imported"] == second["merged"] == 0
    assert first["rows"] == second["rows"] == 5
    for run in (first, second):
        total = run["imported"] + run["merged"] + run["skipped"] + run["rejected"]
        assert total == 5


def test_each_policy_does_what_it_says(contacts: Path, tmp_path: Path) -> None:
    runs = {
        policy: summary(
            crmcore(
                "import",
                "contacts.csv",
                "--db",
                f"{policy}.db",
                "--on-duplicate",
                policy,
                "--format",
                "json",
                cwd=tmp_path,
            )
        )
        for policy in ("alert", "skip", "merge", "create")
    }
    # Row 3 is row 2's person again; row 6 is the organisation row 2's employer became.
    assert [f["row"] for f in runs["alert"]["flags"]] == [3, 6]
    assert runs["alert"]["imported"] == 4
    assert runs["skip"]["imported"] == 2
    assert runs["skip"]["skipped"] == 2
    assert runs["merge"]["imported"] == 2
    assert runs["merge"]["merged"] == 2
    assert runs["create"]["imported"] == 4
    assert runs["create"]["flags"] == []
    with SQLiteStore(tmp_path / "skip.db") as store:
        assert store.customers.count() == 3  # two people and the employer
    with SQLiteStore(tmp_path / "merge.db") as store:
        live = [c for c in store.customers.iter_all() if c.merged_into is None]
        assert len(live) == 3
        merges: list[dict[str, str]] = runs["merge"]["flags"]
        survivor = store.customers.get(merges[0]["record_id"])
        assert len(survivor.emails) >= 1
        assert store.merges.get(merges[0]["merge_id"]).survivor_id == survivor.id


def test_dry_run_writes_nothing(contacts: Path, tmp_path: Path) -> None:
    run = summary(
        crmcore(
            "import",
            "contacts.csv",
            "--db",
            "crm.db",
            "--dry-run",
            "--format",
            "json",
            cwd=tmp_path,
        )
    )
    assert run["imported"] == 4
    assert run["dry_run"] is True
    assert not (tmp_path / "contacts.rejects.csv").exists()
    with SQLiteStore(tmp_path / "crm.db") as store:
        assert store.customers.count() == 0


def test_naive_timestamps_are_refused_without_timezone(contacts: Path, tmp_path: Path) -> None:
    (tmp_path / "calls.csv").write_text(INTERACTIONS, encoding="utf-8")
    crmcore("import", "contacts.csv", "--db", "crm.db", "-q", cwd=tmp_path)
    args = ("import", "calls.csv", "--db", "crm.db", "--as", "interactions")
    without = crmcore(*args, cwd=tmp_path)
    assert without.returncode == 0, without.stderr
    assert "--timezone" in without.stderr
    assert "2 rows -> 1 imported" in without.stderr
    with (tmp_path / "calls.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejected = list(csv.DictReader(handle))
    assert [(r["row"], r["field"]) for r in rejected] == [("3", "timestamp")]
    with_zone = summary(
        crmcore(*args, "--timezone", "Europe/Stockholm", "--format", "json", cwd=tmp_path)
    )
    assert with_zone["imported"] == 1
    assert with_zone["already_imported"] == 1
    with SQLiteStore(tmp_path / "crm.db") as store:
        call = store.interactions.find_by_external_id(f"{source_scheme('calls.csv')}:row:3")
        assert call is not None
        assert call.occurred_at.utcoffset() is not None
        assert call.occurred_at.isoformat().startswith("2024-05-02T09:00")  # 11:00 CEST in UTC


def test_a_bad_option_is_one_line(contacts: Path, tmp_path: Path) -> None:
    for args, needle in (
        (("--timezone", "Mars/Olympus"), "--timezone"),
        (("--map", "colour=Notes"), "unknown field 'colour'"),
        (("--id-column", "nope"), "--id-column"),
        (("--region", "XX"), "--region"),
    ):
        result = crmcore("import", "contacts.csv", "--db", "crm.db", *args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert needle in result.stderr
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_killed_import_resumes_with_nothing_doubled_or_lost(tmp_path: Path) -> None:
    rows = generate(6_000, seed=3)
    write_csv(tmp_path / "big.csv", rows)
    args = [
        *CRMCORE,
        "import",
        "big.csv",
        "--db",
        "crm.db",
        "--id-column",
        "record_id",
        "--batch-size",
        "100",
        "-q",
    ]
    process = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        if (tmp_path / "crm.db").exists():
            try:
                with SQLiteStore(tmp_path / "crm.db") as store:
                    stored = store.customers.count()
            except Exception:  # the schema may not exist yet
                continue
            if stored >= 1_000:
                break
    assert process.poll() is None, "the import ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with SQLiteStore(tmp_path / "crm.db") as store:
        partial = store.customers.count()
    assert partial > 0
    resumed = crmcore(
        "import",
        "big.csv",
        "--db",
        "crm.db",
        "--id-column",
        "record_id",
        "--format",
        "json",
        cwd=tmp_path,
    )
    report = summary(resumed)
    assert report["already_imported"] > 0
    scheme = source_scheme("big.csv")
    with SQLiteStore(tmp_path / "crm.db") as store:
        ids = [c.identifiers[scheme] for c in store.customers.iter_all() if scheme in c.identifiers]
    rejected = {r["row"] for r in report["rejects"]}
    assert len(ids) == len(set(ids))  # nothing doubled
    assert len(ids) + len(rejected) == len(rows)  # nothing lost


def test_participants_are_found_by_the_source_ids_of_a_customer_import(
    contacts: Path, tmp_path: Path
) -> None:
    crmcore("import", "contacts.csv", "--db", "crm.db", "--id-column", "id", "-q", cwd=tmp_path)
    (tmp_path / "chats.csv").write_text(
        "Customer,Channel,Direction,Timestamp\n"
        "a3,chat,inbound,2024-05-01T10:00:00Z\n"
        "zz,chat,inbound,2024-05-01T11:00:00Z\n",
        encoding="utf-8",
    )
    args = ("import", "chats.csv", "--db", "crm.db", "--as", "interactions", "--format", "json")
    mapped = (*args, "--map", "identifier=Customer")
    unlinked = summary(crmcore(*mapped, cwd=tmp_path))
    assert unlinked["imported"] == 0  # the column's own scheme names no stored customer
    linked = summary(crmcore(*mapped, "--participant-source", "contacts.csv", cwd=tmp_path))
    assert linked["imported"] == 1
    assert [(r["row"], r["field"]) for r in linked["rejects"]] == [(3, "participants")]
    with SQLiteStore(tmp_path / "crm.db") as store:
        robert = store.customers.find_by_identifier(source_scheme("contacts.csv"), "a3")[0]
        chat = store.interactions.find_by_external_id(f"{source_scheme('chats.csv')}:row:2")
        assert chat is not None
        assert [p.record_id for p in chat.participants] == [robert.id]


_NAMES = st.sampled_from(["Anna Lind", "Åsa Lind", "Bob Smith", "Siti Rahayu", ""])
_EMAILS = st.sampled_from(["anna@example.se", "ANNA@example.se", "bob@example.com", "bad@", ""])
_COMPANIES = st.sampled_from(["Acme AB", "Acme", "PT Maju", ""])


@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(_NAMES, _EMAILS, _COMPANIES), min_size=1, max_size=8),
    policy=st.sampled_from(["alert", "skip", "merge", "create"]),
)
def test_property_importing_twice_through_the_command_is_the_same_store(
    tmp_path: Path, rows: list[tuple[str, str, str]], policy: str
) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    with (work / "in.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email", "Company"])
        writer.writerows(rows)
    args = ("import", "in.csv", "--db", "crm.db", "--on-duplicate", policy, "--format", "json")

    def snapshot() -> list[tuple[str, int, str | None]]:
        with SQLiteStore(work / "crm.db") as store:
            return sorted((c.id, c.version, c.merged_into) for c in store.customers.iter_all())

    first = summary(crmcore(*args, cwd=work))
    before = snapshot()
    second = summary(crmcore(*args, cwd=work))
    assert snapshot() == before
    assert second["imported"] == second["merged"] == 0
    assert second["rejected"] == first["rejected"]


def test_two_imports_of_one_file_at_once_store_each_person_and_organisation_once(
    tmp_path: Path,
) -> None:
    from crmcore.dedup import organization_key

    # Every chunk names employers no earlier chunk named, and the runs are long enough
    # to interleave (SQLite may also let one run through first: the test holds either
    # way; tests/io/test_import.py interleaves two imports deterministically).
    rows = 1_500
    companies = [f"Firm {n} AB" for n in range(rows // 7 + 1)]
    with (tmp_path / "people.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "Name", "Email", "Company"])
        for i in range(rows):
            writer.writerow([f"p{i}", f"Person {i}", f"p{i}@example.org", companies[i // 7]])
    args = [*CRMCORE, "import", "people.csv", "--db", "crm.db", "--id-column", "id"]
    args += ["--batch-size", "10", "--format", "json"]
    procs = [
        subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    reports = [json.loads(out) for out, _ in outs]
    assert sum(r["imported"] for r in reports) == rows
    assert sum(r["organizations_created"] for r in reports) == len(companies)
    with SQLiteStore(tmp_path / "crm.db") as store:
        everyone = list(store.customers.iter_all())
    people = [c for c in everyone if c.kind is CustomerKind.PERSON]
    orgs = [c for c in everyone if c.kind is CustomerKind.ORGANIZATION]
    assert sorted(c.identifiers[source_scheme("people.csv")] for c in people) == sorted(
        f"p{i}" for i in range(rows)
    )
    assert sorted(organization_key(o.display_name) for o in orgs) == sorted(
        organization_key(c) for c in companies
    )
    assert {p.organization_id for p in people} == {o.id for o in orgs}


def test_possible_matches_are_listed_in_the_json_report_and_the_summary(tmp_path: Path) -> None:
    (tmp_path / "two.csv").write_text(
        "Name,Email\nAnna Lind,anna@example.se\nAnna Lind,anna.lind@other.se\n", encoding="utf-8"
    )
    args = ("import", "two.csv", "--db", "crm.db", "--on-duplicate", "skip")
    report = summary(crmcore(*args, "--format", "json", "--dry-run", cwd=tmp_path))
    assert (report["imported"], report["skipped"], report["flagged"]) == (2, 0, 1)
    assert [(f["row"], f["decision"]) for f in report["flags"]] == [(3, "possible")]
    result = crmcore(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "possible matches (stored, for review): rows 3" in result.stderr
    assert "anna" not in result.stderr.casefold()


def test_interactions_find_leads_by_their_source_ids(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").write_text("id,Name\nL1,Lena Berg\n", encoding="utf-8")
    (tmp_path / "calls.csv").write_text(
        "Lead,Channel,Direction,Timestamp\nL1,call,out,2024-05-02T11:00:00+00:00\n",
        encoding="utf-8",
    )
    leads = ("import", "leads.csv", "--db", "crm.db", "--as", "leads", "--id-column", "id")
    assert summary(crmcore(*leads, "--format", "json", cwd=tmp_path))["imported"] == 1
    calls = ["import", "calls.csv", "--db", "crm.db", "--as", "interactions", "--format", "json"]
    calls += ["--map", "identifier=Lead", "--participant-source", "leads.csv"]
    assert summary(crmcore(*calls, cwd=tmp_path))["imported"] == 1
    with SQLiteStore(tmp_path / "crm.db") as store:
        (lead,) = store.leads.iter_all()
        call = store.interactions.find_by_external_id(f"{source_scheme('calls.csv')}:row:2")
    assert call is not None
    assert [p.record_id for p in call.participants] == [lead.id]


def test_the_region_hint_follows_the_rejected_phones_written_without_a_country_code(
    tmp_path: Path,
) -> None:
    hint = "give their region, --region XX"
    national = (
        "Name,Mobile\nAnna Lind,070-123 45 67\nBo Ek,070-765 43 21\nCia Ås,+46 70 111 22 33\n"
    )
    (tmp_path / "national.csv").write_text(national, encoding="utf-8")
    (tmp_path / "short.csv").write_text(
        "Name,Mobile\nAnna Lind,+46 12\nBo Ek,+46 13\nCia Ås,070-111 22 33\n", encoding="utf-8"
    )
    result = crmcore("import", "national.csv", "--db", "crm.db", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rejected: rows 2, 3 " in result.stderr
    assert hint in result.stderr
    # Given a region, the same numbers are read: nothing to hint at.
    args = ("import", "national.csv", "--db", "crm.db", "--dry-run", "--region", "SE")
    result = crmcore(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rejected: rows" not in result.stderr
    assert hint not in result.stderr
    # Rejected, but mostly written with a country code: a region would not help.
    result = crmcore("import", "short.csv", "--db", "crm.db", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rejected: rows 2, 3, 4 " in result.stderr
    assert hint not in result.stderr
    assert "070" not in result.stderr
