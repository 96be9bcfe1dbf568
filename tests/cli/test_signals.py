"""A terminated or killed ``crmcore dedupe`` leaves no worker process behind.

Run through the real command on a file large enough for parallel parsing;
the signal is sent once the parsing workers exist.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from benchmarks.datagen import generate, write_csv

from crmcore.io import parsing

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the process table from /proc"
)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name (in parentheses) may hold spaces: split after it.
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signals") / "large.csv"
    write_csv(path, generate(max(60_000, 6 * parsing.PARALLEL_THRESHOLD), seed=3))
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_no_worker_outlives_the_command(large: Path, tmp_path: Path, sig: signal.Signals) -> None:
    command = [sys.executable, "-m", "crmcore.cli", "dedupe", str(large)]
    command += ["-o", str(tmp_path / "out.csv"), "--workers", "2", "-q"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
            workers = _children(process.pid)
            time.sleep(0.01)
        assert len(workers) >= 2, "the parsing workers never started"
        process.send_signal(sig)
        _, err = process.communicate(timeout=30)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers), (sig, err)
        if sig is signal.SIGTERM:
            assert process.returncode == 128 + signal.SIGTERM
            assert err == "crmcore: terminated\n"
        if sig is signal.SIGINT:
            assert process.returncode == 130
            assert err == "crmcore: interrupted\n"
    finally:
        process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_main_leaves_the_callers_signal_handlers_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the crmcore program ends on SIGTERM; an app (or a test) calling
    # main() in its own process keeps its own handler while the command runs.
    import crmcore.cli as cli

    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    during: list[object] = []

    def run(argv: object) -> int:
        during.append(signal.getsignal(signal.SIGTERM))
        return 0

    monkeypatch.setattr(cli, "_main", run)
    previous = signal.signal(signal.SIGTERM, mine)
    try:
        assert cli.main(["dedupe", "x.csv"]) == 0
        assert during == [mine]
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_terminate_workers_kills_a_running_jobs_workers_and_spares_the_caller() -> None:
    # The signal path relies on this alone: the kernel's parent-death signal
    # only helps when the parent dies, and an interrupted parent lives on.
    from crmcore.io.parsing import ParseJob, terminate_workers

    emails = [f"person{i}@example{i % 50}.com" for i in range(40_000)]
    job = ParseJob(emails, [], workers=2, parallel=True)
    try:
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = {p for p in _children(os.getpid()) if _alive(p)}
            time.sleep(0.01)
        assert len(workers) >= 2, "the parsing workers never started"
        terminate_workers()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers)
    finally:
        job.close(kill=True)


_KILL_AND_CLOSE = """
import os, time
from crmcore.io.parsing import ParseJob, terminate_workers

for round in range(8):
    job = ParseJob([f"p{i}@example{i % 50}.com" for i in range(40_000)], [], workers=2,
                   parallel=True)
    deadline = time.monotonic() + 30
    while len(job._pool._processes) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.02 + 0.03 * (round % 4))  # kill at different moments of the parse
    terminate_workers()
    job.close(kill=True)
print("closed")
"""


@pytest.mark.slow
def test_closing_a_job_whose_workers_were_killed_never_hangs() -> None:
    # A worker killed while writing a result left half a message in the pipe and
    # close() waited for the rest forever (about one kill in six, Python 3.11).
    done = subprocess.run(
        [sys.executable, "-c", _KILL_AND_CLOSE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "closed"
