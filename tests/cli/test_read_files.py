"""``crmcore dedupe`` on the files people have, through the real command.

Encodings and byte order marks, semicolon, tab and pipe files, quoted line
breaks, repeated headers, empty files, standard input and output, the column
plan printed before the work, the warnings about columns left unread and
phones without a region, and formula-safe output.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from crmcore.cli._errors import EXIT_INPUT, EXIT_USAGE

# A Swedish office's contact list: two rows are one person.
SWEDISH = [
    ["Förnamn", "Efternamn", "E-post", "Telefon", "Ort", "Land", "Kundnr"],
    ["Åsa", "Lind", "asa.lind@example.se", "070-123 45 67", "Göteborg", "SE", "K-1"],
    ["Asa", "Lind", "ASA.LIND@example.se", "+46 70 123 45 67", "Göteborg", "Sverige", "K-2"],
    ["Jörgen", "Ström", "jorgen@example.se", "08-123 456 78", "Stockholm", "SE", "K-3"],
]


def crmcore(
    *args: str, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "crmcore", *args],
        capture_output=True,
        input=stdin,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def csv_bytes(rows: list[list[str]], delimiter: str, encoding: str, bom: bytes = b"") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return bom + out.getvalue().encode(encoding)


def parse(data: bytes, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def clusters(rows: list[list[str]]) -> list[str]:
    column = rows[0].index("cluster_id")
    return [r[column] for r in rows[1:]]


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter", "options"),
    [
        ("utf-8", b"", ";", ()),
        ("utf-8", b"\xef\xbb\xbf", ";", ()),  # Excel's "CSV UTF-8"
        ("cp1252", b"", ";", ("--encoding", "cp1252")),  # Excel's "CSV" on Windows
        ("latin-1", b"", ",", ("--encoding", "latin-1")),
        ("utf-16-le", b"\xff\xfe", "\t", ()),  # Excel's "Unicode text"
    ],
)
def test_each_encoding_end_to_end(
    tmp_path: Path, encoding: str, bom: bytes, delimiter: str, options: tuple[str, ...]
) -> None:
    (tmp_path / "in.csv").write_bytes(csv_bytes(SWEDISH, delimiter, encoding, bom))
    done = crmcore("dedupe", "in.csv", "-o", "out.csv", *options, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = (tmp_path / "out.csv").read_bytes()
    # UTF-8 out; with a BOM when the input had one or another encoding (for Excel).
    assert data.startswith(b"\xef\xbb\xbf") is (bool(bom) or encoding != "utf-8")
    rows = parse(data, delimiter)  # the input's delimiter is kept
    assert [r[:7] for r in rows] == SWEDISH
    assert clusters(rows) == ["K-1", "K-1", "K-3"] or clusters(rows) == ["2", "2", "4"]


def test_a_file_in_another_encoding_is_refused_naming_the_option(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes(csv_bytes(SWEDISH, ";", "cp1252"))
    done = crmcore("dedupe", "in.csv", "-o", "out.csv", cwd=tmp_path)
    assert done.returncode == EXIT_INPUT
    err = done.stderr.decode()
    assert err.startswith("crmcore: error: in.csv: is not UTF-8 text (invalid byte at offset 1)")
    assert "--encoding cp1252" in err
    assert err.count("\n") == 1
    assert "Lind" not in err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--encoding", "klingon"), "--encoding: is not a known text encoding"),
        (("--delimiter", "ab"), "--delimiter"),
        (("--delimiter", '"'), "--delimiter"),
        (("--report", "-"), "--report: name a file"),
    ],
)
def test_bad_options_are_usage_errors(
    tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    (tmp_path / "in.csv").write_bytes(b"name\nAda\n")
    done = crmcore("dedupe", "in.csv", "-o", "out.csv", *options, cwd=tmp_path)
    assert done.returncode == EXIT_USAGE
    assert message in done.stderr.decode()


@pytest.mark.parametrize(
    ("delimiter", "option"),
    [(";", None), ("\t", None), ("|", "pipe"), ("\t", "tab")],
)
def test_semicolon_tab_and_pipe_files(tmp_path: Path, delimiter: str, option: str | None) -> None:
    (tmp_path / "in.csv").write_bytes(csv_bytes(SWEDISH, delimiter, "utf-8"))
    args = ("--delimiter", option) if option else ()
    done = crmcore(
        "dedupe", "in.csv", "-o", "out.csv", "--id-column", "Kundnr", *args, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    rows = parse((tmp_path / "out.csv").read_bytes(), delimiter)
    assert clusters(rows) == ["K-1", "K-1", "K-3"]


def test_quoted_line_breaks_come_back_whole(tmp_path: Path) -> None:
    rows = [["name", "email", "notes"], ["Ada", "ada@example.com", "line one\nline two;\r\nthree"]]
    rows.append(["Ada", "ADA@example.com", 'says "hi"'])
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows, ";", "utf-8"))
    done = crmcore("dedupe", "in.csv", "-o", "out.csv", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = parse((tmp_path / "out.csv").read_bytes(), ";")
    assert [r[:3] for r in out] == rows
    assert clusters(out) == ["2", "2"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "in.csv: is empty"),
        (b"\n\n", "in.csv: is empty"),
        (b"\xef\xbb\xbf", "in.csv: is empty"),
        (b"\xff\xfe", "in.csv: is empty"),
        ("Namn;E-post;Namn\nÅsa;a@example.se;Å\n".encode(), "columns 1 and 3"),
    ],
)
def test_empty_files_and_repeated_headers(tmp_path: Path, data: bytes, message: str) -> None:
    (tmp_path / "in.csv").write_bytes(data)
    done = crmcore("dedupe", "in.csv", "-o", "out.csv", cwd=tmp_path)
    assert done.returncode == EXIT_INPUT
    assert message in done.stderr.decode()
    assert done.stderr.decode().count("\n") == 1


def test_standard_input_to_standard_output(tmp_path: Path) -> None:
    data = csv_bytes(SWEDISH, ";", "utf-8", b"\xef\xbb\xbf")
    done = crmcore("dedupe", "-", "-o", "-", cwd=tmp_path, stdin=data)
    assert done.returncode == 0, done.stderr
    rows = parse(done.stdout, ";")
    assert [r[:7] for r in rows] == SWEDISH
    assert clusters(rows) == ["2", "2", "4"]
    err = done.stderr.decode()
    assert "reading standard input: 3 rows, semicolon-separated, utf-8" in err
    assert "wrote standard output" in err
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_json_lines_on_standard_input(tmp_path: Path) -> None:
    lines = "".join(
        json.dumps(dict(zip(SWEDISH[0], row, strict=True)), ensure_ascii=False) + "\n"
        for row in SWEDISH[1:]
    )
    done = crmcore("dedupe", "-", "-o", "out.csv", "-q", cwd=tmp_path, stdin=lines.encode())
    assert done.returncode == 0, done.stderr
    assert clusters(parse((tmp_path / "out.csv").read_bytes(), ",")) == ["2", "2", "4"]


def test_the_plan_is_printed_before_the_work_unless_quiet(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes(csv_bytes(SWEDISH, ";", "utf-8"))
    err = crmcore("dedupe", "in.csv", "-o", "out.csv", cwd=tmp_path).stderr.decode()
    lines = err.splitlines()
    assert lines[:8] == [
        "reading in.csv: 3 rows, semicolon-separated, utf-8",
        "  Förnamn -> given_name",
        "  Efternamn -> family_name",
        "  E-post -> email",
        "  Telefon -> phone",
        "  Ort -> city",
        "  Land -> country",
        "  carried untouched: Kundnr",
    ]
    quiet = crmcore("dedupe", "in.csv", "-o", "out.csv", "-q", cwd=tmp_path).stderr.decode()
    assert "Förnamn ->" not in quiet
    assert "Åsa" not in err + quiet  # column names only, never a cell


def test_a_column_that_looks_like_emails_or_phones_is_named_with_the_map_to_read_it(
    tmp_path: Path,
) -> None:
    rows = [
        ["Namn", "Kontakt", "Mobilnr"],
        ["Åsa Lind", "asa@example.se", "+46 70 123 45 67"],
        ["Åsa Lind", "asa@example.se", "+46 70 123 45 67"],
    ]
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows, ",", "utf-8"))
    done = crmcore("dedupe", "in.csv", "-o", "out.csv", cwd=tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    # Right after the plan, before the work: a long run can be stopped and rerun with --map.
    assert err.splitlines()[2].startswith("  carried untouched: Kontakt, Mobilnr")
    assert err.splitlines()[3].startswith("warning: column 'Kontakt'")
    assert (
        "warning: column 'Kontakt' looks like e-mail addresses but is not read; "
        "to read it, add --map email=Kontakt"
    ) in err
    assert "warning: column 'Mobilnr' looks like phone numbers" in err
    assert "asa@" not in err


def test_national_phones_without_a_region_suggest_region(tmp_path: Path) -> None:
    rows = [["Namn", "Telefon"], ["Åsa Lind", "070-123 45 67"], ["Bo Ek", "08-123 456 78"]]
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows, ",", "utf-8"))
    err = crmcore("dedupe", "in.csv", "-o", "out.csv", "-q", cwd=tmp_path).stderr.decode()
    assert "most phone numbers could not be read" in err
    assert "--region SE" in err
    err = crmcore(
        "dedupe", "in.csv", "-o", "out.csv", "-q", "--region", "SE", cwd=tmp_path
    ).stderr.decode()
    assert "could not be read" not in err


def test_formulas_are_neutralised_unless_kept(tmp_path: Path) -> None:
    rows = [
        ["name", "email", "phone", "note"],
        ["Ada", "ada@example.com", "+44 20 7946 0000", '=HYPERLINK("http://evil.example")'],
        ["Bob", "bob@example.com", "+1 212 555 0100", "-12.5"],
    ]
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows, ",", "utf-8"))
    assert crmcore("dedupe", "in.csv", "-o", "out.csv", "-q", cwd=tmp_path).returncode == 0
    out = parse((tmp_path / "out.csv").read_bytes(), ",")
    assert out[1][2:4] == ["+44 20 7946 0000", '\'=HYPERLINK("http://evil.example")']
    assert out[2][2:4] == ["+1 212 555 0100", "-12.5"]
    args = ("dedupe", "in.csv", "-o", "raw.csv", "-q", "--keep-formulas")
    assert crmcore(*args, cwd=tmp_path).returncode == 0
    raw = parse((tmp_path / "raw.csv").read_bytes(), ",")
    assert [r[:4] for r in raw] == rows


def test_no_column_to_match_on_suggests_the_maps_that_would_read_some(tmp_path: Path) -> None:
    rows = [["Kund", "Kontakt"], ["Åsa Lind", "asa@example.se"], ["Bo Ek", "bo@example.se"]]
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows, ";", "utf-8"))
    done = crmcore("dedupe", "in.csv", "-o", "out.csv", "-q", cwd=tmp_path)
    assert done.returncode == EXIT_USAGE
    err = done.stderr.decode()
    assert err.endswith("or use --map FIELD=COLUMN (such as --map email=Kontakt)\n"), err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("rows", "region"),
    [
        # The files: only the email column used to be read, silently.
        (
            [
                ["Förnamn", "Efternamn", "Telefon", "E-post"],
                ["Åsa", "Lind", "070-123 45 67", "asa@example.se"],
                ["Åsa", "Lind", "+46 70 123 45 67", "asa.lind@work.example"],
                ["Åsa", "Berg", "070-999 88 77", "berg@example.se"],
            ],
            "SE",
        ),
        (
            [
                ["Nama", "No HP", "Email"],
                ["Siti Rahayu", "0812-3456-7890", "siti@example.co.id"],
                ["Siti Rahayu", "+62 812 3456 7890", "siti.r@kantor.example"],
                ["Dewi Sari", "0813-1111-2222", "dewi@example.co.id"],
            ],
            "ID",
        ),
    ],
)
def test_swedish_and_indonesian_headers_match_on_names_and_phones(
    tmp_path: Path, rows: list[list[str]], region: str
) -> None:
    # Different emails: only the name and the phone can tie the first two rows.
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows, ";", "cp1252", b""))
    args = ("dedupe", "in.csv", "-o", "out.csv", "--encoding", "cp1252", "--region", region)
    done = crmcore(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert clusters(parse((tmp_path / "out.csv").read_bytes(), ";")) == ["2", "2", "4"]
    plan = done.stderr.decode()
    assert f"  {rows[0][1]} -> " in plan
    assert "warning" not in plan
