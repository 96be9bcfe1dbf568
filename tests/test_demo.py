"""``make demo`` runs the main job end to end; these tests keep its story true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from crmcore import InMemoryStore, SQLiteStore
from crmcore.demo import main
from crmcore.io import restore

SMALL = ["--rows", "600", "--interactions", "300", "--seed", "3"]


def _number(pattern: str, text: str) -> int:
    # rich wraps lines at the width of the terminal (80 columns without one).
    found = re.search(pattern, " ".join(text.split()))
    assert found, pattern
    return int(found.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One run with --keep: its output and the folder it left."""
    folder = tmp_path_factory.mktemp("demo")
    capture = subprocess.run(
        [sys.executable, "-m", "crmcore.demo", "--keep", *SMALL],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return capture.stdout, folder / "crmcore-demo"


def test_the_story_is_told_step_by_step(kept: tuple[str, Path]) -> None:
    out, _ = kept
    for step in range(1, 7):
        assert f"{step}. " in out
    assert "\x1b[" not in out  # no colour codes where the output is not a terminal
    assert _number(r"imported (\d+) customers", out) == 600
    flat = " ".join(out.split())
    assert "0 rejected" in flat
    assert _number(r"(\d+) flagged as duplicates", out) > 0
    assert "the same file imported again: 0 new, 600 already imported" in flat
    assert _number(r"logged (\d+) interactions", out) == 300
    assert "the same file ingested again: 0 new (idempotent by external id)" in flat
    clusters = _number(r"(\d+) clusters hold", out)
    merged = _number(r"merged (\d+) clusters", out)
    left = _number(r"(\d+) left for review", out)
    assert 0 < merged <= clusters
    assert merged + left == clusters
    assert "web lead converted into the existing customer it matched" in flat
    assert "converting it again returns the same customer: True" in flat
    assert _number(r"interactions from (\d+) records", out) >= 2
    assert "restored exactly: True" in flat
    assert "interactions back on their records: True" in flat
    assert "merged_into cleared: True" in flat
    assert re.search(r"done in \d+\.\d s", flat)


def test_the_store_and_the_files_hold_what_the_story_says(kept: tuple[str, Path]) -> None:
    out, folder = kept
    header = (folder / "kunder.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("Kundnr;Förnamn;Efternamn;E-post;Telefon")
    report = (folder / "review.html").read_text(encoding="utf-8")
    assert report.startswith("<!DOCTYPE html>")
    assert "cus_" in report
    copy = InMemoryStore()
    restored = restore(copy, folder / "export.jsonl")
    with SQLiteStore(folder / "crm.db") as store:
        customers = list(store.customers.iter_all())
        employers = _number(r"and (\d+) employers as organisations", out)
        assert len(customers) == 600 + employers
        assert sorted(copy.customers.iter_all(), key=lambda c: c.id) == sorted(
            customers, key=lambda c: c.id
        )
        live = [c for c in customers if c.merged_into is None]
        assert _number(r"of them merged away │ (\d+)", out) == len(customers) - len(live)
        assert restored.counts["leads"] == store.leads.count() == 1
        assert restored.counts["interactions"] == 301  # the stream, and the web lead's form
        # One merge was undone: every other one is still in effect, and exported.
        merges = list({m.id: m for c in customers for m in copy.merges.list_for(c.id)}.values())
        active = [m for m in merges if m.is_active]
        assert len(merges) == _number(r"merged (\d+) clusters", out)
        assert len(active) == len(merges) - 1
        absorbed = {i for m in active for i in m.merged_ids}
        assert {c.id for c in customers if c.merged_into is not None} == absorbed
        lead = next(store.leads.iter_all())
        assert lead.converted_customer_id is not None
        assert store.customers.get(lead.converted_customer_id).merged_into is None


def test_the_demo_keeps_its_files_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    main(["--rows", "60", "--interactions", "30"])
    out = capsys.readouterr().out
    assert "done in" in out
    assert not (tmp_path / "crmcore-demo").exists()
    folder = re.search(r"CRMin(\S+?)crm\.db", "".join(out.split()))
    assert folder
    assert not Path(folder.group(1)).exists()


@pytest.mark.slow
def test_make_demo_runs_with_its_defaults() -> None:
    # What `make demo` runs, with its defaults: a few thousand rows. It takes
    # well under a minute on an idle machine; the timeout only catches a hang,
    # since a shared CI machine may run it several times slower.
    capture = subprocess.run(
        [sys.executable, "-m", "crmcore.demo"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert _number(r"imported (\d+) customers", capture.stdout) == 3_000
    assert "restored exactly: True" in " ".join(capture.stdout.split())
