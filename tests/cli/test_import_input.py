"""``crmcore import`` reads the files people have: delimiters, encodings, standard input,
headers in their language; it says what it reads, and its rejects file is formula-safe."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from crmcore import PersonName
from crmcore.io import Table, import_columns, import_file
from crmcore.storage import InMemoryStore, SQLiteStore

SWEDISH = (
    "Kundnr;Förnamn;Efternamn;E-post;Telefon;Ort;Land\n"
    "k1;Åsa;Lind;asa.lind@example.se;070-123 45 67;Göteborg;Sverige\n"
    "k2;Örjan;Ström;orjan@example.se;+46 8 555 010 00;Malmö;Sverige\n"
)


def crmcore(
    *args: str, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "crmcore", "import", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )


def _customers(db: Path) -> list[str]:
    with SQLiteStore(db) as store:
        return sorted(
            c.name.full for c in store.customers.iter_all() if isinstance(c.name, PersonName)
        )


def test_a_swedish_excel_export_in_cp1252_imports_with_its_encoding_named(tmp_path: Path) -> None:
    (tmp_path / "kunder.csv").write_bytes(SWEDISH.encode("cp1252"))
    refused = crmcore("kunder.csv", "--db", "crm.db", cwd=tmp_path)
    assert refused.returncode == 1
    message = refused.stderr.decode()
    assert "--encoding cp1252" in message
    assert "Lind" not in message
    done = crmcore("kunder.csv", "--db", "crm.db", "--encoding", "cp1252", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert _customers(tmp_path / "crm.db") == ["Åsa Lind", "Örjan Ström"]
    err = done.stderr.decode()
    # The plan is said before the work: the Swedish headers, and what is kept as it is.
    for line in ("Förnamn -> given_name", "E-post -> email", "Telefon -> phone"):
        assert line in err
    assert "kept as custom fields: Kundnr" in err


def test_standard_input_with_a_forced_delimiter(tmp_path: Path) -> None:
    piped = SWEDISH.replace(";", "|").encode()
    args = ("-", "--db", "crm.db", "--delimiter", "pipe", "--source", "crm-export")
    done = crmcore(*args, "--id-column", "Kundnr", "--format", "json", cwd=tmp_path, stdin=piped)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["imported"] == 2
    again = crmcore(*args, "--id-column", "Kundnr", "--format", "json", cwd=tmp_path, stdin=piped)
    assert json.loads(again.stdout)["already_imported"] == 2  # the source id: nothing doubled
    assert _customers(tmp_path / "crm.db") == ["Åsa Lind", "Örjan Ström"]


def test_the_rejects_file_never_runs_a_formula_and_stdin_rejects_go_beside(
    tmp_path: Path,
) -> None:
    rows = 'Name,Email,Note\nAda,ada@example.com,ok\nEve,not-an-address,"=HYPERLINK(""x"")"\n'
    done = crmcore("-", "--db", "crm.db", "--source", "form", cwd=tmp_path, stdin=rows.encode())
    assert done.returncode == 0, done.stderr.decode()
    with (tmp_path / "stdin.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejected = list(csv.DictReader(handle))
    assert [(r["row"], r["field"]) for r in rejected] == [("3", "email")]
    assert rejected[0]["Note"] == '\'=HYPERLINK("x")'
    assert "not-an-address" not in rejected[0]["reason"]


def test_an_unread_email_column_is_named_with_the_map_that_reads_it(tmp_path: Path) -> None:
    rows = "Name,Kontakt\nAda Lovelace,ada@example.com\nAlan Turing,alan@example.com\n"
    (tmp_path / "in.csv").write_text(rows, encoding="utf-8")
    done = crmcore("in.csv", "--db", "crm.db", cwd=tmp_path)
    err = done.stderr.decode()
    assert "--map email=Kontakt" in err
    assert "ada@example.com" not in err


def test_national_phones_without_a_region_get_the_region_hint(tmp_path: Path) -> None:
    rows = "Name,Phone\n" + "".join(f"Person {i},070-123 45 {i:02d}\n" for i in range(10))
    (tmp_path / "in.csv").write_text(rows, encoding="utf-8")
    done = crmcore("in.csv", "--db", "crm.db", cwd=tmp_path)
    assert "--region XX" in done.stderr.decode()
    fixed = crmcore("in.csv", "--db", "crm2.db", "--region", "SE", cwd=tmp_path)
    assert "--region XX" not in fixed.stderr.decode()
    assert len(_customers(tmp_path / "crm2.db")) == 10


def test_import_file_takes_the_delimiter_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "kunder.csv"
    path.write_bytes(SWEDISH.encode("cp1252"))
    with InMemoryStore() as store:
        report = import_file(store, path, delimiter=";", encoding="cp1252", id_column="Kundnr")
        assert (report.imported, report.rejected) == (2, 0)
        assert store.customers.find_by_email("ASA.LIND@example.se")


def test_import_columns_says_what_each_column_feeds() -> None:
    table = Table.from_dicts(
        [{"Kundnr": "1", "Förnamn": "Åsa", "E-post": "a@example.se", "Tags": "vip", "Färg": "blå"}]
    )
    columns = import_columns(table, id_column="Kundnr")
    assert columns.read == (("Förnamn", "given_name"), ("E-post", "email"), ("Tags", "tags"))
    assert (columns.id_column, columns.custom) == ("Kundnr", ("Färg",))
    calls = Table.from_dicts(
        [{"Channel": "email", "When": "2024-01-01T10:00Z", "Mail": "x@y.se", "Färg": "blå"}]
    )
    planned = import_columns(calls, entity="interactions")
    assert planned.read == (("Channel", "channel"), ("When", "timestamp"), ("Mail", "email"))
    assert planned.unread == ("Färg",)


def test_an_export_imported_into_an_empty_store_gives_the_same_store(tmp_path: Path) -> None:
    (tmp_path / "kunder.csv").write_text(SWEDISH, encoding="utf-8")
    assert (
        crmcore("kunder.csv", "--db", "a.db", "--id-column", "Kundnr", cwd=tmp_path).returncode == 0
    )
    exported = subprocess.run(
        [sys.executable, "-m", "crmcore", "export", "--db", "a.db", "--output", "a.jsonl"],
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr.decode()
    done = crmcore("a.jsonl", "--db", "b.db", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["restored"]["counts"]["customers"] == 2
    with SQLiteStore(tmp_path / "a.db") as a, SQLiteStore(tmp_path / "b.db") as b:
        assert sorted(a.customers.iter_all(), key=lambda c: c.id) == sorted(
            b.customers.iter_all(), key=lambda c: c.id
        )
    # A store that holds records already cannot take an export: said in one line.
    again = crmcore("a.jsonl", "--db", "b.db", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.decode().count("\n") == 1


def test_a_file_that_cannot_be_imported_leaves_no_database_behind(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes("Namn;E-post\nÅsa;a@example.se\n".encode("cp1252"))
    refused = crmcore("in.csv", "--db", "crm.db", cwd=tmp_path)
    assert refused.returncode == 1
    unknown = crmcore(
        "in.csv", "--db", "crm.db", "--encoding", "cp1252", "--id-column", "Nr", cwd=tmp_path
    )
    assert unknown.returncode == 2
    assert not (tmp_path / "crm.db").exists()
