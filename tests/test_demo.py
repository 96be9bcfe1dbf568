"""``make demo`` runs the main job end to end; these tests keep it honest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crmcore import SQLiteStore
from crmcore.demo import main


def test_demo_runs_the_whole_job_on_sqlite(capsys: pytest.CaptureFixture[str]) -> None:
    main([])
    out = capsys.readouterr().out
    assert "row 10: refused (emails[0]: is not a valid email address" in out
    assert "not-an-email" not in out  # errors name fields, never values
    assert "the same provider message ingested again is not copied: True" in out
    assert "lead converted into the existing customer it matched" in out
    assert "converting again returns the same customer: True" in out
    clusters = re.findall(r"(\d+) records, confidence", out)
    assert clusters, out
    # The shared mailbox and switchboard (rows 6 and 7) must not merge two people:
    # every cluster is one of the three real duplicate groups.
    assert sorted(int(n) for n in clusters) == [2, 2, 3]
    assert "the merged-away ids resolve to the survivor: True" in out
    assert "resolve to the survivor: False" not in out
    assert "restored (merged_into=None)" in out


def test_demo_keeps_its_file_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    main([])
    assert not (tmp_path / "crmcore-demo.db").exists()
    main(["--keep"])
    capsys.readouterr()
    with SQLiteStore(tmp_path / "crmcore-demo.db") as store:
        assert store.customers.count() > 0
