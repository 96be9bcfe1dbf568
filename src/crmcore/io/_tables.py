"""Tables of text cells: read from CSV or JSON Lines files, or built from an app's dicts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from crmcore.io._errors import InputError

__all__ = ["InputLimits", "Table", "read_csv", "read_jsonl", "read_rows"]


@attrs.frozen
class Table:
    """Rows of text cells under one header.

    Attributes:
        header: the column names, stripped.
        rows: the data rows, each padded with ``""`` to the header's width (a
            row with more cells than the header keeps them).
        had_bom: the file began with a UTF-8 byte order mark (so a copy can too).
        long_rows: 0-based indexes of the rows with more cells than the header.
    """

    header: tuple[str, ...]
    rows: list[list[str]]
    had_bom: bool = False
    long_rows: tuple[int, ...] = ()

    @classmethod
    def from_dicts(cls, rows: Iterable[Mapping[str, object]]) -> Table:
        """A table from dicts (JSON objects, an app's rows): every key seen becomes a column.

        Columns keep the order their keys were first seen in; ``None`` becomes
        ``""`` and any other value its ``str()``.
        """
        listed = [dict(row) for row in rows]
        header = tuple(dict.fromkeys(str(key).strip() for row in listed for key in row))
        out = []
        for row in listed:
            cells = {str(key).strip(): value for key, value in row.items()}
            out.append(["" if cells.get(h) is None else str(cells[h]) for h in header])
        return cls(header, out)


_KIB = 1024


@attrs.frozen
class InputLimits:
    """How much of a file :func:`read_csv` and :func:`read_jsonl` will read.

    A hostile or mistaken input (``/dev/zero``, an endless pipe, a file with no
    line breaks) is refused with one line naming the limit, before it runs the
    machine out of memory; the defaults are far above any real contact list
    (docs/cli.md). They bound the input: the rows read take about 10 to 30
    times the file's size in memory. ``max_cell`` and ``max_columns`` apply to
    CSV; JSON Lines are bounded by ``max_bytes`` and ``max_row``.

    Attributes:
        max_bytes: the whole file, in bytes (1 GiB).
        max_cell: one cell, in characters (131,072: the csv module's own limit).
        max_row: one row (or JSON line), in characters, quoted line breaks included (4 MiB).
        max_columns: the header's width (100,000 columns; a spreadsheet has 16,384).
    """

    max_bytes: int = 1024 * _KIB * _KIB
    max_cell: int = 128 * _KIB
    max_row: int = 4 * _KIB * _KIB
    max_columns: int = 100_000


_DEFAULT_LIMITS = InputLimits()
# Read in pieces, so that a NUL byte or the size limit stops an endless input early.
_CHUNK = _KIB * _KIB


def _read_bytes(path: Path, what: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        with path.open("rb") as handle:
            while True:
                chunk = handle.read(min(_CHUNK, limit + 1 - size))
                if not chunk:
                    break
                if size == 0 and chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
                    raise InputError(
                        f"{path}: is UTF-16 text; save it as UTF-8 ({what} UTF-8) and try again"
                    )
                if b"\x00" in chunk:
                    raise InputError(
                        f"{path}: holds NUL characters; it does not look like a {what} file"
                    )
                size += len(chunk)
                if size > limit:
                    raise InputError(f"{path}: is over the input limit of {limit:,} bytes")
                chunks.append(chunk)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {what} file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or 'I/O error'})") from None
    return b"".join(chunks)


def _read_text(path: Path, what: str, limits: InputLimits) -> tuple[str, bool]:
    data = _read_bytes(path, what, limits.max_bytes)
    had_bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: is not UTF-8 text (invalid byte at offset {exc.start}); "
            f"save it as UTF-8 ({what} UTF-8) and try again"
        ) from None
    return text, had_bom


class _RowTooLong(Exception):
    """Raised from the line feed into csv.reader: the current row is over the limit."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Lines:
    """The lines of a text, counting the characters of the row being read."""

    def __init__(self, text: str, max_row: int) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self._max_row = max_row
        self.number = 0
        self.row_start = 1
        self._row_chars = 0

    def next_row(self) -> None:
        """The reader returned a row: the next line starts another one."""
        self._row_chars = 0
        self.row_start = self.number + 1

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number += 1
        self._row_chars += len(line)
        if self._row_chars > self._max_row:
            raise _RowTooLong(self.row_start)
        return line


def read_csv(path: Path, *, limits: InputLimits = _DEFAULT_LIMITS) -> Table:
    """Read ``path`` as UTF-8 CSV (with or without a BOM); its first line names the columns.

    Blank lines are skipped; short rows are padded and long rows noted.

    Raises:
        InputError: the file is missing, unreadable, not UTF-8, empty, not CSV,
            over one of ``limits``, or its header names a column twice.
    """
    text, had_bom = _read_text(path, "CSV", limits)
    if limits.max_cell > csv.field_size_limit():
        # The csv module's limit is process-wide: it is only ever raised, never lowered.
        csv.field_size_limit(limits.max_cell)
    lines = _Lines(text, limits.max_row)
    cell_limit = f"{path}: line {{}} has a cell over the limit of {limits.max_cell:,} characters"
    reader = csv.reader(lines, strict=True)
    try:
        header_row = next(reader, None)
        lines.next_row()
        if header_row is None or not any(cell.strip() for cell in header_row):
            raise InputError(f"{path}: is empty; the first line must name the columns")
        if len(header_row) > limits.max_columns:
            raise InputError(
                f"{path}: the header has {len(header_row):,} columns, "
                f"over the limit of {limits.max_columns:,}"
            )
        if max(map(len, header_row)) > limits.max_cell:
            raise InputError(cell_limit.format(reader.line_num))
        header = tuple(cell.strip() for cell in header_row)
        width = len(header)
        rows: list[list[str]] = []
        long_rows: list[int] = []
        for row in reader:
            lines.next_row()
            if not row:
                continue  # csv gives [] for a blank line; a blank line is not a record
            if max(map(len, row)) > limits.max_cell:
                raise InputError(cell_limit.format(reader.line_num))
            if len(row) < width:
                row.extend([""] * (width - len(row)))
            elif len(row) > width:
                long_rows.append(len(rows))
            rows.append(row)
    except _RowTooLong as exc:
        raise InputError(
            f"{path}: the row at line {exc.line} is over the limit of {limits.max_row:,} characters"
        ) from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise InputError(cell_limit.format(reader.line_num)) from None
        raise InputError(f"{path}: is not valid CSV near line {reader.line_num} ({exc})") from None
    _check_repeated_headers(path, header)
    return Table(header, rows, had_bom, tuple(long_rows))


def _check_repeated_headers(path: Path, header: Sequence[str]) -> None:
    # One pass with a dict (a pairwise search took 15 s at 40,000 columns). The
    # columns are named by position: in a file without a header line the "header"
    # is the first record, and its cells are personal data.
    first: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    for index, name in enumerate(header):
        if name:
            seen = first.setdefault(name, index)
            if seen != index:
                repeats.append((seen, index))
    if repeats:
        a, b = repeats[0]
        more = len(repeats) - 1
        rest = f", and {more} more repeated column{'s' if more != 1 else ''}" if more else ""
        raise InputError(
            f"{path}: the header names a column more than once (columns {a + 1} and {b + 1}{rest})"
        )


def read_jsonl(path: Path, *, limits: InputLimits = _DEFAULT_LIMITS) -> Table:
    """Read ``path`` as UTF-8 JSON Lines: one JSON object a line, blank lines skipped.

    Raises:
        InputError: the file is missing, unreadable, not UTF-8, over ``limits``
            (bytes, line length), holds a line that is not a JSON object, or no
            object at all.
    """
    text, had_bom = _read_text(path, "JSON Lines", limits)
    objects: list[Mapping[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > limits.max_row:
            raise InputError(
                f"{path}: line {number} is over the limit of {limits.max_row:,} characters"
            )
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: deeply nested brackets
            raise InputError(f"{path}: line {number} is not JSON") from None
        if not isinstance(value, dict):
            raise InputError(f"{path}: line {number} is not a JSON object")
        objects.append(value)
    if not objects:
        raise InputError(f"{path}: is empty; expected one JSON object a line")
    return attrs.evolve(Table.from_dicts(objects), had_bom=had_bom)


def read_rows(path: Path, *, limits: InputLimits = _DEFAULT_LIMITS) -> Table:
    """Read a CSV file, or a JSON Lines file when its name ends ``.jsonl`` or ``.ndjson``."""
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        return read_jsonl(path, limits=limits)
    return read_csv(path, limits=limits)
