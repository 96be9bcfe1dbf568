"""``crmcore dedupe`` end to end, through ``main([...])``."""

from __future__ import annotations

import csv
import gc
import html
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from benchmarks.datagen import generate, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.cli import console_main, main
from crmcore.io import safe_cell

CONTACTS = """\
First Name,Last Name,E-mail,Mobile,Company,City,Country,Notes
Åsa,Lind,asa.lind@example.se,070-123 45 67,Acme AB,Göteborg,Sweden,first
Asa,Lind, ASA.LIND@example.se ,+46 70 123 45 67,Acme,Göteborg,SE,"<script>alert(1)</script>"
Robert,Smith,bob.smith@example.com,(212) 555-0100,,New York,United States,
Bob,Smith,bob.smith@example.com,212-555-0100,,New York,US,
Jürgen,Müller,j.mueller@example.de,0151 2345678,Müller GmbH,Berlin,Germany,
Siti,Rahayu,siti@example.co.id,0812-3456-7890,PT Maju,Jakarta,Indonesia,
Broken,Row,not-an-email,12,,,Narnia,
"""


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_row_in_order_with_all_columns_and_a_cluster(
    contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.csv"
    code, _, err = run(capsys, "dedupe", str(contacts), "--output", str(out), "-q")
    assert code == 0, err
    header, rows = read_csv(out)
    in_header, in_rows = read_csv(contacts)
    assert header == [*in_header, "cluster_id", "match_confidence"]
    assert [r[:-2] for r in rows] == in_rows
    assert all(r[-2] for r in rows)
    ids = [r[-2] for r in rows]
    assert ids[0] == ids[1]  # Åsa / Asa Lind, same email and phone
    assert ids[2] == ids[3]  # Robert / Bob Smith
    assert len(set(ids)) == 5
    confidence = [r[-1] for r in rows]
    assert all(0.0 < float(c) <= 1.0 for c in confidence[:4])
    assert confidence[4:] == ["", "", ""]


def test_warning_summary_names_rows_and_columns_not_values(
    contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "dedupe", str(contacts), "-o", str(tmp_path / "o.csv"), "-q")
    assert code == 0
    assert "warning: 1 row had values that could not be read" in err
    assert re.search(r"E-mail: row 8\b", err)
    assert re.search(r"Mobile: row 8\b", err)
    assert re.search(r"Country: row 8\b", err)
    for value in ("not-an-email", "Narnia", "Broken", "asa.lind"):
        assert value not in err


def test_cluster_ids_come_from_the_id_column(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "id,email\nA-1,x@example.com\nB-2,y@example.com\nC-3,X@example.com\n", encoding="utf-8"
    )
    out = tmp_path / "out.csv"
    assert main(["dedupe", str(src), "-o", str(out), "--id-column", "ID", "-q"]) == 0
    _, rows = read_csv(out)
    assert [r[2] for r in rows] == ["A-1", "B-2", "A-1"]


@pytest.mark.parametrize(
    ("content", "args", "message", "exit_code"),
    [
        (None, (), "no such file", 1),
        (b"name\nJos\xe9\n", (), "is not UTF-8", 1),
        (b"name\nx\n", ("--map", "email=nope"), "unknown column 'nope'", 2),
        (b"name\nx\n", ("--id-column", "nope"), "unknown column 'nope'", 2),
        (b"name\nx\n", ("--region-column", "nope"), "unknown column 'nope'", 2),
        (b"name\nx\n", ("--map", "shoe=name"), "unknown field 'shoe'", 2),
        (b"name\nx\n", ("--region", "Narnia"), "--region", 2),
        (b"name\nx\n", ("--threshold", "7"), "--threshold", 2),
        (b"name\nx\n", ("--threshold", "0"), "--threshold", 2),
        (b"name\nx\n", ("--threshold", "1"), "--threshold", 2),
        (b"id,name\n1,x\n1,y\n", ("--id-column", "id"), "rows 2 and 3 have the same id", 2),
        (b"notes\nx\n", (), "no column to match on", 2),
    ],
)
def test_problems_are_one_line_and_a_non_zero_exit(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    args: tuple[str, ...],
    message: str,
    exit_code: int,
) -> None:
    src = tmp_path / "in.csv"
    if content is not None:
        src.write_bytes(content)
    code, out, err = run(capsys, "dedupe", str(src), "-o", str(tmp_path / "out.csv"), *args)
    assert code == exit_code
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("crmcore: error:")
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


def test_the_installed_command_exits_cleanly_on_a_missing_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crmcore.cli", "dedupe", str(tmp_path / "x.csv"), "-o", "o.csv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"crmcore: error: {tmp_path / 'x.csv'}: no such file"
    ]


def test_output_must_not_overwrite_the_input(
    contacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "dedupe", str(contacts), "-o", str(contacts))
    assert code == 2
    assert "must not be the input" in err


def test_help_reads_well(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["dedupe", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for needle in ("cluster_id", "--map FIELD=COLUMN", "identifier", "exit status", "--region"):
        assert needle in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "dedupe" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "dedupe" in err


def test_bom_is_kept_and_a_second_run_replaces_our_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b"\xef\xbb\xbfemail\na@example.com\nA@example.com\n")
    first, second = tmp_path / "1.csv", tmp_path / "2.csv"
    assert run(capsys, "dedupe", str(src), "-o", str(first), "-q")[0] == 0
    assert first.read_bytes().startswith(b"\xef\xbb\xbf")
    assert run(capsys, "dedupe", str(first), "-o", str(second), "-q")[0] == 0
    assert read_csv(second) == read_csv(first)


def test_report_is_self_contained_and_escaped(
    contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts.write_text(
        CONTACTS.replace("Acme AB", "<b>Acme</b> & Co").replace(",Acme,", ",<b>Acme</b>,"),
        encoding="utf-8",
    )
    report = tmp_path / "review.html"
    code, _, _ = run(
        capsys, "dedupe", str(contacts), "-o", str(tmp_path / "o.csv"), "--report", str(report)
    )
    assert code == 0
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    for external in ("<link", "<script", "src=", "http://", "https://", "@import", "url("):
        assert external not in page
    assert "<b>Acme</b>" not in page
    assert html.escape("<b>Acme</b> & Co") in page
    assert "Åsa" in page  # the data owner sees the values side by side
    assert ">Asa<" in page
    assert "email" in page  # and why they matched


@st.composite
def tables(draw: st.DrawFn) -> list[list[str]]:
    cell = st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r"),
        max_size=12,
    )
    email = st.sampled_from(["a@example.com", "A@example.com", "b@example.org", "", "bad@"])
    rows = draw(st.lists(st.tuples(cell, email, cell), min_size=1, max_size=8))
    return [["name", "email", "notes"], *[list(r) for r in rows]]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=tables())
def test_any_table_comes_back_whole_with_a_cluster_per_row(
    tmp_path: Path, data: list[list[str]]
) -> None:
    src = tmp_path / "in.csv"
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(data)
    src.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    out = tmp_path / "out.csv"
    assert main(["dedupe", str(src), "-o", str(out), "-q", "--keep-formulas"]) == 0
    header, rows = read_csv(out)
    assert header == [*data[0], "cluster_id", "match_confidence"]
    assert [r[:3] for r in rows] == data[1:]
    assert all(r[3] for r in rows)
    # By default the same cells come back neutralised where a spreadsheet would run them.
    assert main(["dedupe", str(src), "-o", str(out), "-q"]) == 0
    assert [r[:3] for r in read_csv(out)[1]] == [[safe_cell(c) for c in r] for r in data[1:]]
    # A cluster id is the id of the cluster's first row: row numbers, header = row 1.
    for number, row in enumerate(rows, start=2):
        assert 2 <= int(row[3]) <= number


def pairwise_f1(truth: list[str], predicted: list[str]) -> tuple[float, float, float]:
    def pairs(c: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in c.values())

    correct = pairs(Counter(zip(truth, predicted, strict=True)))
    p = correct / max(1, pairs(Counter(predicted)))
    r = correct / max(1, pairs(Counter(truth)))
    return p, r, 2 * p * r / (p + r)


def test_generated_contacts_are_deduplicated_well(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "gen.csv", tmp_path / "out.csv"
    write_csv(src, generate(3_000, seed=5))
    code, _, err = run(capsys, "dedupe", str(src), "-o", str(out), "-q", "--id-column", "record_id")
    assert code == 0, err
    header, rows = read_csv(out)
    truth = [r[header.index("entity_id")] for r in rows]
    predicted = [r[header.index("cluster_id")] for r in rows]
    precision, recall, f1 = pairwise_f1(truth, predicted)
    assert precision >= 0.95, (precision, recall)
    assert recall >= 0.9, (precision, recall)
    assert f1 >= 0.93


def test_threshold_trades_recall_for_precision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "gen.csv"
    write_csv(src, generate(1_500, seed=9))
    predicted = {}
    for threshold in ("0.5", "0.999999"):
        out = tmp_path / f"out{threshold}.csv"
        assert (
            run(capsys, "dedupe", str(src), "-o", str(out), "-q", "--threshold", threshold)[0] == 0
        )
        header, rows = read_csv(out)
        predicted[threshold] = len({r[header.index("cluster_id")] for r in rows})
    assert predicted["0.5"] < predicted["0.999999"]


def test_the_program_entry_point_exits_with_the_command_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["crmcore"])
    try:
        with pytest.raises(SystemExit) as exited:
            console_main()
    finally:
        gc.unfreeze()  # the entry point freezes the heap for the exit that follows
    assert exited.value.code == main([]) != 0
    assert "usage" in capsys.readouterr().err


def test_progress_goes_to_stderr_on_a_terminal(contacts: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    done = subprocess.run(
        [sys.executable, "-m", "crmcore.cli", "dedupe", str(contacts), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "FORCE_COLOR": "1", "TERM": "xterm"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "Parsing contacts" in done.stderr
    assert "Matching" in done.stderr


def test_importing_crmcore_does_not_import_rich() -> None:
    code = "import sys, crmcore, crmcore.dedup, crmcore.cli; print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("option", ["-o", "--report"])
def test_a_missing_output_directory_is_reported_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("name,email\nAnn Lee,ann@example.com\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    missing = tmp_path / "nope" / "file"
    args = ["-o", str(missing)] if option == "-o" else ["-o", str(out), "--report", str(missing)]
    code, stdout, err = run(capsys, "dedupe", str(src), *args, "-q")
    assert code == 1
    assert stdout == ""
    assert err.count("\n") == 1
    assert "no such directory" in err
    assert not out.exists()  # nothing half-done: no output without its report


def _dedupe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crmcore.cli", "dedupe", *args, "-q"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_rule_file_replaces_the_default_rules(contacts: Path, tmp_path: Path) -> None:
    from crmcore.dedup import EmailRule, RuleSet

    # Emails only: Åsa and Asa Lind (one address, cased differently) and Robert
    # and Bob Smith (one address) still meet.
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RuleSet(rules=(EmailRule(),)).to_dict()), encoding="utf-8")
    out = tmp_path / "out.csv"
    done = _dedupe(str(contacts), "-o", str(out), "--rules", str(rules))
    assert done.returncode == 0, done.stderr
    ids = [r[-2] for r in read_csv(out)[1]]
    assert ids[0] == ids[1]
    assert ids[2] == ids[3]
    # Birth dates only: the file has none, so every row is an entity of its own.
    rules.write_text(
        json.dumps({"format": "crmcore-rules", "version": 1, "rules": [{"type": "BirthDateRule"}]}),
        encoding="utf-8",
    )
    done = _dedupe(str(contacts), "-o", str(out), "--rules", str(rules))
    assert done.returncode == 0, done.stderr
    assert len({r[-2] for r in read_csv(out)[1]}) == len(read_csv(out)[1])


def test_a_broken_rule_file_is_refused_before_the_input_is_read(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('{"format": "crmcore-rules", "version": 1, "rules": [{"type": "Nope"}]}')
    done = _dedupe(
        str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv"), "--rules", str(rules)
    )
    assert done.returncode == 2
    reason = "rules[0].type: must name a crmcore rule (such as EmailRule)"
    assert done.stderr.strip() == f"crmcore: error: --rules: {rules}: {reason}"
    rules.write_text("{not json")
    done = _dedupe(
        str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv"), "--rules", str(rules)
    )
    assert done.returncode == 2
    assert "is not JSON (line 1)" in done.stderr
