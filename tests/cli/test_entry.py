"""The real command: ``crmcore --version`` and ``python -m crmcore``, in fresh processes."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import crmcore


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, cwd=cwd, timeout=120)


def test_the_version_has_one_source() -> None:
    assert importlib.metadata.version("crmcore") == crmcore.__version__


@pytest.mark.parametrize(
    "command",
    [
        (sys.executable, "-m", "crmcore", "--version"),
        (sys.executable, "-m", "crmcore.cli", "--version"),
    ],
)
def test_version_prints_the_package_version(command: tuple[str, ...]) -> None:
    done = run(*command)
    assert done.returncode == 0
    assert done.stdout.strip() == f"crmcore {crmcore.__version__}"


def test_the_installed_script_prints_the_version() -> None:
    script = shutil.which("crmcore", path=str(Path(sys.executable).parent))
    assert script is not None
    done = run(script, "--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"crmcore {crmcore.__version__}")


def test_python_dash_m_crmcore_runs_the_command(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("name,email\nAda Lovelace,ada@example.com\nAda Lovelace,ADA@example.com\n")
    out = tmp_path / "out.csv"
    done = run(sys.executable, "-m", "crmcore", "dedupe", str(source), "-o", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert out.read_text().splitlines()[1:] == [
        "Ada Lovelace,ada@example.com,2,1.000",
        "Ada Lovelace,ADA@example.com,2,1.000",
    ]


def test_python_dash_m_crmcore_without_a_command_is_a_usage_error() -> None:
    done = run(sys.executable, "-m", "crmcore")
    assert done.returncode == 2
    assert "usage: crmcore" in done.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    # `crmcore stats --format json | head -c 1`: no traceback, the exit code of SIGPIPE.
    from crmcore import Customer
    from crmcore.storage import SQLiteStore

    with SQLiteStore(tmp_path / "crm.db") as store:
        store.customers.add(Customer.create(name="Ada Lovelace", emails=["ada@example.com"]))
    child = subprocess.Popen(
        [sys.executable, "-m", "crmcore", "stats", "--db", "crm.db", "--format", "json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    child.stdout.close()
    with child.stderr:
        err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141
    assert "Traceback" not in err
