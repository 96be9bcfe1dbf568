"""What ``import crmcore`` costs, against importing the libraries it cannot do without.

The baseline is ``import attrs, cattrs, email_validator, phonenumbers``: the
models, the converter and the two parsers every app pays for anyway. Each
sample is a fresh interpreter (``python -c``); from its wall time the time of
``python -c pass`` is taken away, so interpreter start-up does not dilute the
ratio. Samples of the three commands are interleaved so that a busy machine
slows all three alike; the medians are compared. Target: ratio <= 1.3.

Run: ``.venv/bin/python benchmarks/bench_import_time.py [--runs 40]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

BASELINE = "import attrs, cattrs, email_validator, phonenumbers"
CRMCORE = "import crmcore"
# Stores, services and the converter load on first use; this is what an app
# that uses them all pays in the end (not part of the ratio).
EVERYTHING = "from crmcore import *"
EMPTY = "pass"
TARGET = 1.3


def wall_time(code: str) -> float:
    """Seconds one fresh interpreter takes to run ``code`` and exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def heavy_modules() -> list[str]:
    """Modules ``import crmcore`` must not load (the dedup engine and rapidfuzz)."""
    code = (
        "import sys, crmcore; "
        "print(' '.join(m for m in sys.modules "
        "if m.split('.')[0] == 'rapidfuzz' or m.startswith('crmcore.dedup')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main() -> None:
    """Measure, print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="samples per command")
    args = parser.parse_args()

    samples: dict[str, list[float]] = {EMPTY: [], BASELINE: [], CRMCORE: [], EVERYTHING: []}
    for code in samples:  # warm the file system cache and .pyc files
        wall_time(code)
    for _ in range(args.runs):
        for code, times in samples.items():
            times.append(wall_time(code))
    empty = statistics.median(samples[EMPTY])
    baseline = statistics.median(samples[BASELINE]) - empty
    crmcore = statistics.median(samples[CRMCORE]) - empty
    everything = statistics.median(samples[EVERYTHING]) - empty
    ratio = crmcore / baseline

    print(f"python {sys.version.split()[0]}, {args.runs} fresh interpreters per command")
    print(f"  interpreter start-up (python -c pass): {empty * 1000:7.1f} ms")
    print(f"  {BASELINE}: {baseline * 1000:7.1f} ms")
    print(f"  {CRMCORE}: {crmcore * 1000:7.1f} ms")
    print(f"  {EVERYTHING} (every export loaded): {everything * 1000:7.1f} ms")
    print(f"  ratio crmcore / baseline: {ratio:.2f} (target <= {TARGET})")
    heavy = heavy_modules()
    print(f"  dedup and rapidfuzz modules loaded by import crmcore: {len(heavy)}")


if __name__ == "__main__":
    main()
