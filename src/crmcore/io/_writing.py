"""Writing tables as CSV that is safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, LibreOffice and Google Sheets (OWASP
"CSV injection": ``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``). :func:`safe_cell`
puts a ``'`` in front of such a cell, which spreadsheets show as text; a cell
made only of digits, spaces and ``+ - ( ) . , ;`` (a phone number such as
``+46 70 123 45 67``, a list of them joined by ``; ``, a number such as
``-12.5``) names no function and no cell, so it is left as it is.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

__all__ = ["FORMULA_TRIGGERS", "safe_cell", "write_csv"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (OWASP)."""

_TRIGGER_SET = frozenset(FORMULA_TRIGGERS)
# No letter, so no function and no cell reference: arithmetic on numbers at most.
_INERT = re.compile(r"[+-][0-9 ().,;+-]*[0-9][0-9 ().,;+-]*")


def safe_cell(text: str) -> str:
    """``text`` as a spreadsheet will show it, never run it: ``'`` before a formula.

    Idempotent (a neutralised cell starts with ``'`` and is left alone the
    second time), and readable back: a cell that starts with ``'`` followed by
    one of :data:`FORMULA_TRIGGERS` is the original without its first character.

    >>> safe_cell("=HYPERLINK(\\"http://example.com\\")")
    '\\'=HYPERLINK("http://example.com")'
    >>> safe_cell("+46 70 123 45 67"), safe_cell("-12.5"), safe_cell("@home")
    ('+46 70 123 45 67', '-12.5', "'@home")
    """
    if text and text[0] in _TRIGGER_SET and not _INERT.fullmatch(text):
        return "'" + text
    return text


@contextlib.contextmanager
def _open_target(target: Path | str | IO[str], encoding: str) -> Iterator[IO[str]]:
    if isinstance(target, str | Path) and str(target) == "-":
        # Standard output in the encoding asked for, whatever the locale says.
        out = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="")
        try:
            yield out
        finally:
            out.flush()
            out.detach()
    elif isinstance(target, str | Path):
        with Path(target).open("w", encoding=encoding, newline="") as handle:
            yield handle
    else:
        yield target


def write_csv(
    target: Path | str | IO[str],
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    safe: bool = True,
    delimiter: str = ",",
    bom: bool = False,
) -> None:
    """Write ``header`` and ``rows`` as UTF-8 CSV to a path, ``"-"`` (standard output) or a stream.

    Args:
        target: a path, ``"-"``, or an open text stream (written as it is; its
            encoding is the stream's own).
        header: the first row.
        rows: the other rows.
        safe: pass every cell, header included, through :func:`safe_cell`.
        delimiter: the cell delimiter.
        bom: begin a file or standard output with a UTF-8 byte order mark
            (Excel then reads the file as UTF-8).

    Raises:
        OSError: the file cannot be written.
    """
    encoding = "utf-8-sig" if bom else "utf-8"
    with _open_target(target, encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        if not safe:
            writer.writerow(header)
            writer.writerows(rows)
            return
        trigger = _TRIGGER_SET
        writer.writerow([safe_cell(c) for c in header])
        for row in rows:
            # Most cells start with no trigger: test the first character before calling.
            writer.writerow([safe_cell(c) if c and c[0] in trigger else c for c in row])
