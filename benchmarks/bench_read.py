"""How fast ``crmcore.io.read_csv`` reads a contact list, against the csv module alone.

The baseline, measured in the same run on the same bytes, is what any reader
must do: decode the file and split it with ``csv.reader``. ``read_csv`` adds the
input limits (size, NUL bytes, cell, row and header width), delimiter
detection, header checks and padding; the ratio says what they cost. The
line-by-line reader (a Python iterator counting every line's characters, how
``read_csv`` enforced the row limit before, and still does when a line is near
it) is timed too.

Times are CPU times (the work is single-threaded; on a shared machine CPU time
moves far less than wall time), the best of ``--repeat`` runs.

Run: ``.venv/bin/python benchmarks/bench_read.py [--rows 200000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from crmcore.io import InputLimits, read_csv
from crmcore.io._tables import _check_repeated_headers, _parse_exact


def _contacts(rows: int, delimiter: str) -> bytes:
    rng = random.Random(0)
    given = ["Åsa", "Bo", "Siti", "Jürgen", "Robert", "Ada", "Dewi", "Lars"]
    family = ["Lind", "Ek", "Rahayu", "Müller", "Smith", "Lovelace", "Sari", "Berg"]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["First Name", "Last Name", "E-mail", "Phone", "Company", "City", "Notes"])
    for i in range(rows):
        g, f = rng.choice(given), rng.choice(family)
        # One row in twenty has a note over two lines, as exports with a notes field do.
        note = "called back;\nwants a quote" if i % 20 == 0 else ""
        writer.writerow(
            [g, f, f"{g}.{f}{i}@example.com", f"+46 70 {i:07d}", "Acme AB", "Göteborg", note]
        )
    return out.getvalue().encode("utf-8")


def _best(repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    """Print read_csv's time, the baseline's, and their ratio, for comma and semicolon files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for delimiter in (",", ";"):
            data = _contacts(args.rows, delimiter)
            path = Path(tmp) / f"contacts{ord(delimiter)}.csv"
            path.write_bytes(data)

            def baseline(d: str = delimiter, path: Path = path) -> object:
                text = path.read_bytes().decode("utf-8-sig")
                return list(csv.reader(io.StringIO(text, newline=""), delimiter=d, strict=True))

            def line_by_line(d: str = delimiter, path: Path = path) -> object:
                text = path.read_bytes().decode("utf-8-sig")
                header, rows, _ = _parse_exact(text, str(path), InputLimits(), d)
                _check_repeated_headers(str(path), header)
                return rows

            ours = _best(args.repeat, functools.partial(read_csv, path))
            raw = _best(args.repeat, baseline)
            lines = _best(args.repeat, line_by_line)
            print(
                f"{args.rows:,} rows, {len(data) / 1e6:.1f} MB, delimiter {delimiter!r}: "
                f"read_csv {ours:.3f} s, decode + csv.reader {raw:.3f} s, ratio {ours / raw:.2f}; "
                f"line by line {lines:.3f} s, ratio {lines / raw:.2f}"
            )


if __name__ == "__main__":
    main()
