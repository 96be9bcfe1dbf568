"""Hostile files and paths given to ``crmcore dedupe``: one clear line, never the content.

Hard links, headers that repeat data, very wide headers, endless inputs, and
oversized cells, rows and files; each is refused with an input error (exit 1)
that names the limit or the column position, never a cell's text.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from crmcore.cli import main
from crmcore.cli._errors import EXIT_INPUT, EXIT_USAGE
from crmcore.io import InputError, InputLimits, plan_columns, read_csv, read_jsonl

CONTACTS = "name,email\nAda Lovelace,ada@example.com\nAda Lovelace,ada@example.com\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    _, err = capsys.readouterr()
    return code, err


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS, encoding="utf-8")
    return path


# --------------------------------------------------------------------- same file


@pytest.mark.parametrize("option", ["--output", "--report"])
def test_an_output_hard_linked_to_the_input_is_refused(
    contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    link = tmp_path / "link.csv"
    os.link(contacts, link)
    args = ["dedupe", str(contacts), "-q"]
    args += ["--output", str(link)] if option == "--output" else ["-o", str(tmp_path / "o.csv")]
    if option == "--report":
        args += ["--report", str(link)]
    code, err = run(capsys, *args)
    assert code == EXIT_USAGE
    assert err.count("\n") == 1
    assert "crmcore: error: " + option in err
    assert contacts.read_text(encoding="utf-8") == CONTACTS


def test_a_report_hard_linked_to_the_output_is_refused(
    contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.csv"
    out.write_text("keep me", encoding="utf-8")
    report = tmp_path / "r.html"
    os.link(out, report)
    code, err = run(capsys, "dedupe", str(contacts), "-o", str(out), "--report", str(report))
    assert code == EXIT_USAGE
    assert "--report" in err
    assert out.read_text(encoding="utf-8") == "keep me"


def test_a_symlink_to_the_input_is_still_refused(
    contacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "sym.csv"
    link.symlink_to(contacts)
    code, _ = run(capsys, "dedupe", str(contacts), "-o", str(link), "-q")
    assert code == EXIT_USAGE
    assert contacts.read_text(encoding="utf-8") == CONTACTS


# ------------------------------------------------------------- repeated headers


def test_a_repeated_header_is_named_by_position_never_by_its_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file without a header: its first row (personal data) is read as the header.
    path = tmp_path / "headerless.csv"
    path.write_text("Svensson,Anna,x,y,Svensson\nLind,Åsa,x,y,Lind\n", encoding="utf-8")
    code, err = run(capsys, "dedupe", str(path), "-o", str(tmp_path / "o.csv"), "-q")
    assert code == EXIT_INPUT
    assert "Svensson" not in err
    assert "the header names a column more than once (columns 1 and 5)" in err
    with pytest.raises(InputError, match=r"more than once \(columns 1 and 5\)$"):
        read_csv(path)


def test_repeated_headers_name_the_first_two_positions_and_count_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("a,b,b,a,c,c\n1,2,3,4,5,6\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_csv(path)
    assert str(info.value).endswith("(columns 2 and 3, and 2 more repeated columns)")


def _header_seconds(tmp_path: Path, width: int) -> float:
    path = tmp_path / f"w{width}.csv"
    # Every header repeated at the very end, the worst case of a pairwise search.
    header = [f"c{i}" for i in range(width - 1)] + ["c0"]
    path.write_text(",".join(header) + "\n" + "1," * (width - 1) + "1\n", encoding="utf-8")
    limits = InputLimits(max_columns=width, max_row=64 * width)
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        with pytest.raises(InputError, match="columns 1 and"):
            read_csv(path, limits=limits)
        best = min(best, time.perf_counter() - started)
    return best


def _plan_seconds(width: int) -> float:
    header = tuple(f"column {i}" for i in range(width))
    mapped = [("email", header[-1]), ("identifier", header[-2]), ("city", header[-3])]
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        plan_columns(header, mapped)
        best = min(best, time.perf_counter() - started)
    return best


def test_the_header_check_is_linear_in_the_width(tmp_path: Path) -> None:
    # Ten times the width costs about ten times the time; pairwise comparison
    # (10k columns 1.9 s, 40k 15.7 s) would cost a hundred times.
    # The two sizes are timed in turns, best of several: a busy machine slows
    # both alike instead of only the one measured while it was busy.
    assert _best_ratio(lambda width: _header_seconds(tmp_path, width)) < 30
    assert _best_ratio(_plan_seconds) < 30


def _best_ratio(seconds: Callable[[int], float]) -> float:
    small = large = float("inf")
    for _ in range(3):
        small = min(small, seconds(20_000))
        large = min(large, seconds(200_000))
    return large / small


# ------------------------------------------------------------------------ limits


def _limit_error(path: Path, limits: InputLimits | None = None) -> str:
    with pytest.raises(InputError) as info:
        read_csv(path, limits=limits or InputLimits())
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_cell_over_the_limit_is_refused_by_line(tmp_path: Path) -> None:
    path = tmp_path / "cell.csv"
    path.write_text("name,notes\nAda," + "Lovelace" * 100 + "\n", encoding="utf-8")
    message = _limit_error(path, InputLimits(max_cell=500))
    assert message == f"{path}: line 2 has a cell over the limit of 500 characters"


def test_a_quoted_cell_over_many_lines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cell.csv"
    path.write_text('name,notes\nAda,"' + "Lovelace\n" * 100 + '"\n', encoding="utf-8")
    message = _limit_error(path, InputLimits(max_cell=500))
    assert "over the limit of 500 characters" in message
    assert "Lovelace" not in message


def test_a_row_over_the_limit_is_refused_by_line(tmp_path: Path) -> None:
    path = tmp_path / "row.csv"
    path.write_text("a,b\n1,2\n" + "Lovelace," * 200 + "\n", encoding="utf-8")
    message = _limit_error(path, InputLimits(max_row=1_000))
    assert message == f"{path}: the row at line 3 is over the limit of 1,000 characters"


def test_a_row_of_many_quoted_lines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "row.csv"
    path.write_text("a,b\n" + '"x\n",' * 400 + "\n", encoding="utf-8")
    assert "over the limit of 1,000 characters" in _limit_error(path, InputLimits(max_row=1_000))


def test_a_header_over_the_width_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(101)) + "\n", encoding="utf-8")
    message = _limit_error(path, InputLimits(max_columns=100))
    assert message == f"{path}: the header has 101 columns, over the limit of 100"


def test_an_input_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("name\n" + "Ada Lovelace\n" * 1_000, encoding="utf-8")
    message = _limit_error(path, InputLimits(max_bytes=10_000))
    assert message == f"{path}: is over the input limit of 10,000 bytes"
    jsonl = tmp_path / "big.jsonl"
    jsonl.write_text('{"name": "Ada Lovelace"}\n' * 1_000, encoding="utf-8")
    with pytest.raises(InputError, match="over the input limit of 10,000 bytes"):
        read_jsonl(jsonl, limits=InputLimits(max_bytes=10_000))


def test_the_default_limits_hold_for_real_files(tmp_path: Path) -> None:
    limits = InputLimits()
    path = tmp_path / "cell.csv"
    path.write_text("notes\n" + "x" * (limits.max_cell + 1) + "\n", encoding="utf-8")
    assert "a cell over the limit of 131,072 characters" in _limit_error(path)
    path.write_text(",".join(["c"] * 100_001) + "\n", encoding="utf-8")
    assert "the header has 100,001 columns, over the limit of 100,000" in _limit_error(path)


def test_a_deeply_nested_json_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 1 is not JSON"):
        read_jsonl(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_through_the_real_command_stops_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "crmcore.cli", "dedupe", "/dev/zero", "-o", "o.csv", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == EXIT_INPUT
    assert done.stderr == (
        "crmcore: error: /dev/zero: holds NUL characters; it does not look like a CSV file\n"
    )
    assert time.monotonic() - started < 30
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_an_endless_text_stream_stops_at_the_row_limit(tmp_path: Path) -> None:
    # `yes` writes "y\n" forever: no NUL, so the cap on the whole input stops it.
    fifo = tmp_path / "endless.csv"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"yes Lovelace > {fifo}"], stderr=subprocess.DEVNULL)
    try:
        limits = InputLimits(max_bytes=1_000_000)
        with pytest.raises(InputError, match="over the input limit of 1,000,000 bytes"):
            read_csv(fifo, limits=limits)
    finally:
        writer.kill()
        writer.wait()
