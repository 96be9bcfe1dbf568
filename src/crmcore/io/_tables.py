"""Tables of text cells: read from CSV or JSON Lines files, or built from an app's dicts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from crmcore.io._errors import InputError

__all__ = ["Table", "read_csv", "read_jsonl", "read_rows"]


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


def _read_text(path: Path, what: str) -> tuple[str, bool]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {what} file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or 'I/O error'})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}: is UTF-16 text; save it as UTF-8 ({what} UTF-8) and try again")
    had_bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: is not UTF-8 text (invalid byte at offset {exc.start}); "
            f"save it as UTF-8 ({what} UTF-8) and try again"
        ) from None
    if "\x00" in text:
        raise InputError(f"{path}: holds NUL characters; it does not look like a {what} file")
    return text, had_bom


def read_csv(path: Path) -> Table:
    """Read ``path`` as UTF-8 CSV (with or without a BOM); its first line names the columns.

    Blank lines are skipped; short rows are padded and long rows noted.

    Raises:
        InputError: the file is missing, unreadable, not UTF-8, empty, not CSV,
            or its header names a column twice.
    """
    text, had_bom = _read_text(path, "CSV")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header_row = next(reader, None)
        if header_row is None or not any(cell.strip() for cell in header_row):
            raise InputError(f"{path}: is empty; the first line must name the columns")
        header = tuple(cell.strip() for cell in header_row)
        width = len(header)
        rows: list[list[str]] = []
        long_rows: list[int] = []
        for row in reader:
            if not row:
                continue  # csv gives [] for a blank line; a blank line is not a record
            if len(row) < width:
                row.extend([""] * (width - len(row)))
            elif len(row) > width:
                long_rows.append(len(rows))
            rows.append(row)
    except csv.Error as exc:
        raise InputError(f"{path}: is not valid CSV near line {reader.line_num} ({exc})") from None
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    if duplicates:
        raise InputError(
            f"{path}: the header names a column more than once ({', '.join(duplicates)})"
        )
    return Table(header, rows, had_bom, tuple(long_rows))


def read_jsonl(path: Path) -> Table:
    """Read ``path`` as UTF-8 JSON Lines: one JSON object a line, blank lines skipped.

    Raises:
        InputError: the file is missing, unreadable, not UTF-8, holds a line that
            is not a JSON object, or no object at all.
    """
    text, had_bom = _read_text(path, "JSON Lines")
    objects: list[Mapping[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise InputError(f"{path}: line {number} is not JSON") from None
        if not isinstance(value, dict):
            raise InputError(f"{path}: line {number} is not a JSON object")
        objects.append(value)
    if not objects:
        raise InputError(f"{path}: is empty; expected one JSON object a line")
    return attrs.evolve(Table.from_dicts(objects), had_bom=had_bom)


def read_rows(path: Path) -> Table:
    """Read a CSV file, or a JSON Lines file when its name ends ``.jsonl`` or ``.ndjson``."""
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        return read_jsonl(path)
    return read_csv(path)
