"""The progress plumbing between the matching engine and the bar, and the summary line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crmcore.cli import main
from crmcore.cli._dedupe import _engine_progress
from crmcore.dedup import MatchRecord, find_duplicates


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object, object]] = []

    def stage(self, description: str, total: int | None) -> None:
        self.calls.append(("stage", description, total))

    def update(self, done: int, total: int | None) -> None:
        self.calls.append(("update", done, total))


def test_an_unknown_total_is_shown_as_unknown_not_as_zero() -> None:
    bar = Recorder()
    records = (MatchRecord(id=str(i)) for i in range(10_000))  # an iterable: no total yet
    find_duplicates(records, progress=_engine_progress(bar))
    assert ("stage", "Matching: load", None) in bar.calls
    assert ("update", 10_000, None) in bar.calls
    # No bar ever shows more done than its total ("Matching: load 10000/0").
    updates = [(done, total) for kind, done, total in bar.calls if kind == "update"]
    assert all(total is None or done <= total for done, total in updates)  # type: ignore[operator]
    assert ("update", 10_000, 10_000) in bar.calls  # the load stage still ends complete


@pytest.mark.parametrize(
    ("rows", "summary"),
    [
        (["Ada Lovelace,ada@example.com"], "1 row -> 1 distinct entity ("),
        (["Ada Lovelace,ada@example.com"] * 2, "2 rows -> 1 distinct entity ("),
        (["Ada Lovelace,ada@example.com", "Bo Ek,bo@example.com"], "2 rows -> 2 distinct entities"),
    ],
)
def test_the_summary_counts_in_singular_and_plural(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], summary: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("name,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["dedupe", str(source), "-o", str(tmp_path / "out.csv"), "--quiet"]) == 0
    assert summary in capsys.readouterr().err


def test_the_command_runs_without_rich(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `pip install crmcore` without the cli extra: python -m crmcore must still work.
    monkeypatch.setitem(sys.modules, "rich.console", None)
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    source = tmp_path / "in.csv"
    source.write_text("name,email\nAda Lovelace,ada@example.com\n", encoding="utf-8")
    assert main(["dedupe", str(source), "-o", str(tmp_path / "out.csv")]) == 0
    assert "1 row -> 1 distinct entity" in capsys.readouterr().err
