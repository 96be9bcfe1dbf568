"""Running a command and measuring it: wall and CPU time, and the memory of its process tree.

Shared by the end-to-end benchmarks (``bench_dedup.py``, ``eval_hard.py``). A
command that forks workers has several processes alive at once, and no single
one of them is its memory:

- ``peak_pss_mb`` (the figure memory targets are compared to): the largest sum,
  over samples taken every ``interval`` seconds, of the proportional set size
  of the command and every process descended from it. PSS divides a page
  shared by n processes (a forked worker's copy-on-write view of its parent)
  by n, so the sum is what the tree takes from the machine. Linux only
  (``/proc/<pid>/smaps_rollup``); a spike shorter than the interval can be
  missed.
- ``peak_rss_sum_mb``: the same sum with resident set sizes, which counts each
  shared page once per process (an upper bound).
- ``max_rss_mb``: ``ru_maxrss`` of the command, the high-water mark of its
  largest single process (Linux takes the maximum over its waited-for workers,
  not their sum, and it includes the size of the launching process before the
  exec: from a large process, such as a test run, it reads high).

CPU time is user + system of the command and of the workers it waited for
(``os.wait4``); the load is the 1-minute load average when the command ended.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

__all__ = ["Measurement", "run_measured", "tree_memory"]

_PROC = Path("/proc")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@attrs.frozen
class Measurement:
    """What one run of a command cost."""

    wall: float
    cpu: float
    peak_pss_mb: float
    peak_rss_sum_mb: float
    max_rss_mb: float
    load: float
    returncode: int
    stderr: str

    def describe(self) -> str:
        """One line of figures, for a benchmark's report."""
        return (
            f"wall {self.wall:6.2f} s  cpu {self.cpu:6.2f} s  "
            f"peak tree PSS {self.peak_pss_mb:6.0f} MB (RSS sum {self.peak_rss_sum_mb:.0f}, "
            f"largest process {self.max_rss_mb:.0f})  load {self.load:.1f}"
        )


def _descendants(root: int) -> list[int]:
    """``root`` and every live process below it (from ``/proc/*/stat``)."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        # The command name (field 2) is in parentheses and may hold spaces.
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _pss_kb(pid: int) -> int:
    try:
        text = (_PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _rss_kb(pid: int) -> int:
    try:
        resident = int((_PROC / str(pid) / "statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident * _PAGE // 1024


def tree_memory(root: int) -> tuple[int, int]:
    """The PSS and RSS (in kB), summed over ``root`` and its descendants, right now."""
    pids = _descendants(root)
    return sum(_pss_kb(p) for p in pids), sum(_rss_kb(p) for p in pids)


def run_measured(
    command: Sequence[str], *, interval: float = 0.1, stdout: int | None = subprocess.DEVNULL
) -> Measurement:
    """Run ``command`` to its end, sampling its process tree's memory every ``interval`` s."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE)
    peaks = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pss, rss = tree_memory(child.pid)
            peaks[0], peaks[1] = max(peaks[0], pss), max(peaks[1], rss)
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert child.stderr is not None
    with child.stderr:
        stderr = child.stderr.read().decode("utf-8", "replace")
    # The sampler stops before wait4 reaps the child: until then a finished child
    # stays a zombie, so its pid cannot have been given to another process.
    done.set()
    sampler.join()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_pss_mb=peaks[0] / 1024,
        peak_rss_sum_mb=peaks[1] / 1024,
        max_rss_mb=usage.ru_maxrss / 1024,
        load=os.getloadavg()[0],
        returncode=child.returncode,
        stderr=stderr,
    )
