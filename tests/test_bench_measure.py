"""benchmarks/measure.py and the hard generator's large sizes."""

from __future__ import annotations

import sys

import pytest
from benchmarks import datagen_hard
from benchmarks.measure import run_measured, tree_memory

# A parent that forks a worker, then each touches its own 64 MB, and the worker
# lives on for a second after both are touched: the tree holds at least 128 MB of
# private memory at once, while no single process holds much more than one block.
_FORKING = """
import os, sys, time
ready, go = os.pipe()
pid = os.fork()
block = bytearray(64 * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
if pid == 0:
    os.read(ready, 1)
    time.sleep(1.0)
    os._exit(0)
os.write(go, b"x")
os.waitpid(pid, 0)
sys.stderr.write("done\\n")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_tree_is_measured_with_its_workers_not_only_its_largest_process() -> None:
    run = run_measured([sys.executable, "-c", _FORKING], interval=0.05)
    assert run.returncode == 0
    assert run.stderr == "done\n"
    assert run.peak_pss_mb >= 120  # both blocks at once
    assert run.peak_rss_sum_mb >= run.peak_pss_mb
    # ru_maxrss is one process's high-water mark; Linux keeps the launching
    # process's size from before the exec in it, so only a lower bound holds.
    assert run.max_rss_mb >= 60
    assert run.cpu > 0
    assert run.wall >= 1.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_gone_process_has_no_memory() -> None:
    assert tree_memory(2**22 + 12345) == (0, 0)


def test_organisation_names_outlast_the_plain_pool() -> None:
    # The plain pool (family name and trade) holds a few thousand names per country;
    # half a million rows need more, and they must stay distinct.
    gen = datagen_hard._Gen(7)
    plain = len(set(gen.pool["SE"]["last"])) * len(datagen_hard._TRADES["SE"]) + len(
        datagen_hard._ORG_STEMS
    )
    names = [gen.org_stem("SE") for _ in range(plain + 2_000)]
    assert len({n.casefold() for n in names}) == len(names)
