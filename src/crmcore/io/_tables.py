"""Tables of text cells: read from CSV or JSON Lines files, or built from an app's dicts."""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeAlias

import attrs

from crmcore.errors import ValidationError
from crmcore.io._errors import EncodingError, InputError

__all__ = [
    "DELIMITERS",
    "InputLimits",
    "Source",
    "Table",
    "read_csv",
    "read_jsonl",
    "read_rows",
    "sniff_delimiter",
    "source_name",
]

Source: TypeAlias = "Path | str | IO[str] | IO[bytes]"
"""Where rows come from: a file path, ``"-"`` for standard input, or an open stream."""

STDIN = "-"

DELIMITERS = ",;\t|"
"""The delimiters :func:`sniff_delimiter` chooses from, most common first."""


@attrs.frozen
class Table:
    """Rows of text cells under one header.

    Attributes:
        header: the column names, stripped.
        rows: the data rows, each padded with ``""`` to the header's width (a
            row with more cells than the header keeps them).
        had_bom: the file began with a byte order mark (so a copy can too).
        long_rows: 0-based indexes of the rows with more cells than the header.
        delimiter: the CSV delimiter read (so a copy can use it too).
        encoding: the text encoding read (a codec name such as ``utf-8`` or ``cp1252``).
    """

    header: tuple[str, ...]
    # Cells are personal data: a repr shows how many rows, never what they hold.
    rows: list[list[str]] = attrs.field(repr=lambda rows: f"<{len(rows)} rows>")
    had_bom: bool = False
    long_rows: tuple[int, ...] = ()
    delimiter: str = ","
    encoding: str = "utf-8"

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
        max_bytes: the whole file, in bytes (1 GiB; characters for a text stream).
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


def source_name(source: Source) -> str:
    """How messages name ``source``: its path, ``<stdin>`` for ``"-"``, or the stream's name."""
    if isinstance(source, str | Path):
        return "<stdin>" if str(source) == STDIN else str(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def _codec(encoding: str | None) -> str | None:
    """The normalised codec name for ``encoding``; ``None`` reads UTF-8 (or a UTF-16 BOM)."""
    if encoding is None:
        return None
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise ValidationError("encoding", "is not a known text encoding") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValidationError("encoding", "is not a text encoding")
    if info.name in {"utf-8-sig", "utf-8"}:
        return "utf-8"  # the BOM is found and dropped by the reader, for any UTF-8
    return info.name


def _raw_chunks(source: Source, name: str, what: str) -> Iterator[bytes | str]:
    if isinstance(source, str | Path) and str(source) != STDIN:
        path = Path(source)
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    yield chunk
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{name}: is a directory, not a {what} file") from None
        except OSError as exc:
            raise InputError(f"{name}: cannot be read ({exc.strerror or 'I/O error'})") from None
        return
    # Standard input is read as bytes, so that its encoding is found as a file's is.
    stream: IO[Any] = sys.stdin.buffer if isinstance(source, str | Path) else source
    try:
        while True:
            piece: bytes | str = stream.read(_CHUNK)
            if not piece:
                break
            yield piece
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or 'I/O error'})") from None


_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def _start_decoding(first: bytes, codec: str | None) -> tuple[str, int, bool]:
    """The codec, the BOM's length and whether there was one, from the first bytes."""
    if codec in {None, "utf-8"} and first.startswith(codecs.BOM_UTF8):
        return "utf-8", 3, True
    if codec in {None, "utf-16"}:
        for bom, endian in _UTF16_BOMS.items():
            # Excel's "Unicode text" is UTF-16 with a BOM: it says what it is.
            if first.startswith(bom):
                return endian, 2, True
        if codec == "utf-16":
            return "utf-16-le", 0, False  # Windows' order, when no BOM says otherwise
    return codec or "utf-8", 0, False


def _read_text(
    source: Source, what: str, limits: InputLimits, codec: str | None
) -> tuple[str, bool, str]:
    name = source_name(source)
    limit = limits.max_bytes
    parts: list[str] = []
    size = 0
    decoder: codecs.IncrementalDecoder | None = None
    used = codec or "utf-8"
    had_bom = False
    fed = 0  # bytes given to the decoder, for the offset of a bad byte
    for chunk in _raw_chunks(source, name, what):
        size += len(chunk)
        if size > limit:
            raise InputError(f"{name}: is over the input limit of {limit:,} bytes")
        if isinstance(chunk, str):
            text = chunk
        else:
            skip = 0
            if decoder is None:
                used, skip, had_bom = _start_decoding(chunk, codec)
                decoder = codecs.getincrementaldecoder(used)()
                fed = skip
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk[skip:] if skip else chunk)
            except UnicodeDecodeError as exc:
                raise EncodingError(name, what, codec, fed - pending + exc.start) from None
            fed += len(chunk) - skip
        if "\x00" in text:
            raise InputError(f"{name}: holds NUL characters; it does not look like a {what} file")
        parts.append(text)
    if decoder is not None:
        try:
            parts.append(decoder.decode(b"", final=True))
        except UnicodeDecodeError as exc:
            raise EncodingError(name, what, codec, fed - len(exc.object) + exc.start) from None
    return "".join(parts), had_bom, used


def _check_delimiter(delimiter: str | None) -> str | None:
    if delimiter is not None and (
        not isinstance(delimiter, str)
        or len(delimiter) != 1
        or delimiter in '"\r\n'
        or delimiter.isalnum()
    ):
        raise ValidationError("delimiter", "must be one character, not a letter, digit or quote")
    return delimiter


_SNIFF_CHARS = 64 * _KIB
_SNIFF_ROWS = 50


def _widths(sample: str, delimiter: str) -> list[int]:
    widths: list[int] = []
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if row:
                widths.append(len(row))
            if len(widths) > _SNIFF_ROWS:
                break
    except csv.Error:
        pass  # a sample cut inside a quoted cell: the rows before it decide
    return widths


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV text, from its first rows: comma, semicolon, tab or pipe.

    Each of :data:`DELIMITERS` splits the first rows; the one that gives the
    header two or more columns and the most rows as wide as the header wins,
    then the one giving the most columns; a text none of them splits is one
    column (comma). :class:`csv.Sniffer` is not used: it prefers the comma
    whenever both split every row alike (``Belopp;12,50``, a Swedish file with
    decimal commas), and its regular expressions take quadratic time on some
    inputs.
    """
    head = sample[:_SNIFF_CHARS]
    if len(sample) > _SNIFF_CHARS and "\n" in head:
        head = head[: head.rindex("\n") + 1]  # cut short: a partial row would look inconsistent
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        widths = _widths(head, delimiter)
        if not widths or widths[0] < 2:
            continue
        rest = widths[1:]
        share = sum(w == widths[0] for w in rest) / len(rest) if rest else 1.0
        score = (share, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


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


class _Ambiguous(Exception):
    """The fast reader cannot tell whether a row is over the row limit: read exactly."""


def read_csv(
    source: Source,
    *,
    limits: InputLimits = _DEFAULT_LIMITS,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Table:
    """Read ``source`` as CSV; its first line names the columns.

    ``source`` is a path, ``"-"`` for standard input, or an open stream (bytes
    are decoded as a file's; text is taken as it is). Blank lines are skipped;
    short rows are padded and long rows noted.

    Args:
        source: the file, ``"-"`` or a stream.
        limits: how much to read before refusing the input.
        delimiter: the cell delimiter; ``None`` finds it (:func:`sniff_delimiter`).
        encoding: the text encoding (``cp1252``, ``latin-1``, ``utf-16``...);
            ``None`` reads UTF-8 with or without a BOM, or UTF-16 when a UTF-16
            BOM says so.

    Raises:
        InputError: the source is missing, unreadable, not in its encoding
            (:class:`EncodingError`), empty, not CSV, over one of ``limits``, or
            its header names a column twice.
        ValidationError: ``delimiter`` or ``encoding`` is not one (the path names it).
    """
    delimiter = _check_delimiter(delimiter)
    codec = _codec(encoding)
    text, had_bom, used = _read_text(source, "CSV", limits, codec)
    return _csv_from_text(text, source_name(source), limits, delimiter, had_bom, used)


def _csv_from_text(
    text: str,
    name: str,
    limits: InputLimits,
    delimiter: str | None,
    had_bom: bool,
    used: str,
) -> Table:
    if delimiter is None:
        delimiter = sniff_delimiter(text)
    if limits.max_cell > csv.field_size_limit():
        # The csv module's limit is process-wide: it is only ever raised, never lowered.
        csv.field_size_limit(limits.max_cell)
    header: tuple[str, ...] = ()
    rows: list[list[str]] = []
    long_rows: list[int] = []
    if _lines_within(text, limits.max_row):
        try:
            header, rows, long_rows = _parse_fast(text, name, limits, delimiter)
        except _Ambiguous:
            rows, long_rows = [], []
    if not header:
        header, rows, long_rows = _parse_exact(text, name, limits, delimiter)
    _check_repeated_headers(name, header)
    return Table(header, rows, had_bom, tuple(long_rows), delimiter, used)


def _lines_within(text: str, max_row: int) -> bool:
    """Whether every line of ``text``, its line break included, is surely within ``max_row``.

    A line break in every aligned stretch of ``max_row // 2`` characters bounds
    every line at ``max_row``; finding one takes a look at the start of each
    stretch, not a pass over the text.
    """
    window = max_row // 2
    if window < 1:
        return False
    find = text.find
    for start in range(0, len(text) - window + 1, window):
        end = start + window
        if find("\n", start, end) < 0 and find("\r", start, end) < 0:
            return False
    return True


def _header(row: list[str] | None, name: str, limits: InputLimits, line: int) -> tuple[str, ...]:
    if row is None or not any(cell.strip() for cell in row):
        raise InputError(f"{name}: is empty; the first line must name the columns")
    if len(row) > limits.max_columns:
        raise InputError(
            f"{name}: the header has {len(row):,} columns, over the limit of {limits.max_columns:,}"
        )
    if max(map(len, row)) > limits.max_cell:
        raise InputError(_cell_limit(name, limits, line))
    return tuple(cell.strip() for cell in row)


def _cell_limit(name: str, limits: InputLimits, line: int) -> str:
    return f"{name}: line {line} has a cell over the limit of {limits.max_cell:,} characters"


def _csv_error(exc: csv.Error, name: str, limits: InputLimits, line: int) -> InputError:
    if "field larger than field limit" in str(exc):
        return InputError(_cell_limit(name, limits, line))
    return InputError(f"{name}: is not valid CSV near line {line} ({exc})")


def _parse_fast(
    text: str, name: str, limits: InputLimits, delimiter: str
) -> tuple[tuple[str, ...], list[list[str]], list[int]]:
    """csv.reader on the text itself; the row limit is checked only for rows over several lines.

    Every line is within the row limit, so only a row that spans lines (a
    quoted line break) can be over it; its length is known from its cells to
    within the quotes, and a row too close to call is read again exactly.
    """
    # When the csv module's own limit is ours, it refuses a long cell as it reads.
    cells_checked = csv.field_size_limit() == limits.max_cell
    max_cell, max_row = limits.max_cell, limits.max_row
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        first = next(reader, None)
        if (
            first is not None
            and reader.line_num > 1
            and _row_chars(first, name, max_row, 1) is None
        ):
            raise _Ambiguous
        header = _header(first, name, limits, reader.line_num)
        width = len(header)
        rows: list[list[str]] = []
        long_rows: list[int] = []
        previous = reader.line_num
        for row in reader:
            line = reader.line_num
            if line - previous > 1 and row and _row_chars(row, name, max_row, previous + 1) is None:
                raise _Ambiguous
            previous = line
            if not row:
                continue  # csv gives [] for a blank line; a blank line is not a record
            if not cells_checked and max(map(len, row)) > max_cell:
                raise InputError(_cell_limit(name, limits, line))
            if len(row) < width:
                row.extend([""] * (width - len(row)))
            elif len(row) > width:
                long_rows.append(len(rows))
            rows.append(row)
    except csv.Error:
        # Which limit or error comes first (a quoted cell left open may first run
        # over the row limit) is for the exact reader to say.
        raise _Ambiguous from None
    return header, rows, long_rows


def _row_chars(row: Sequence[str], name: str, max_row: int, start: int) -> int | None:
    """The row's length when surely within ``max_row``; raises when surely over; else None."""
    least = sum(map(len, row)) + len(row) - 1
    if least > max_row:
        raise InputError(
            f"{name}: the row at line {start} is over the limit of {max_row:,} characters"
        )
    # At most: two quotes and a doubled quote for every quote in every cell, and the line end.
    most = least + 2 * len(row) + sum(cell.count('"') for cell in row) + 2
    return most if most <= max_row else None


def _parse_exact(
    text: str, name: str, limits: InputLimits, delimiter: str
) -> tuple[tuple[str, ...], list[list[str]], list[int]]:
    """csv.reader fed line by line, counting each row's characters as it is read."""
    lines = _Lines(text, limits.max_row)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header_row = next(reader, None)
        lines.next_row()
        header = _header(header_row, name, limits, reader.line_num)
        width = len(header)
        rows: list[list[str]] = []
        long_rows: list[int] = []
        for row in reader:
            lines.next_row()
            if not row:
                continue
            if max(map(len, row)) > limits.max_cell:
                raise InputError(_cell_limit(name, limits, reader.line_num))
            if len(row) < width:
                row.extend([""] * (width - len(row)))
            elif len(row) > width:
                long_rows.append(len(rows))
            rows.append(row)
    except _RowTooLong as exc:
        raise InputError(
            f"{name}: the row at line {exc.line} is over the limit of {limits.max_row:,} characters"
        ) from None
    except csv.Error as exc:
        raise _csv_error(exc, name, limits, reader.line_num) from None
    return header, rows, long_rows


def _check_repeated_headers(name: str, header: Sequence[str]) -> None:
    # One pass with a dict (a pairwise search took 15 s at 40,000 columns). The
    # columns are named by position: in a file without a header line the "header"
    # is the first record, and its cells are personal data.
    first: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    for index, column in enumerate(header):
        if column:
            seen = first.setdefault(column, index)
            if seen != index:
                repeats.append((seen, index))
    if repeats:
        a, b = repeats[0]
        more = len(repeats) - 1
        rest = f", and {more} more repeated column{'s' if more != 1 else ''}" if more else ""
        raise InputError(
            f"{name}: the header names a column more than once (columns {a + 1} and {b + 1}{rest})"
        )


def read_jsonl(
    source: Source, *, limits: InputLimits = _DEFAULT_LIMITS, encoding: str | None = None
) -> Table:
    """Read ``source`` (a path, ``"-"`` or a stream) as JSON Lines: one object a line.

    Blank lines are skipped. ``encoding`` is as for :func:`read_csv`.

    Raises:
        InputError: the source is missing, unreadable, not in its encoding, over
            ``limits`` (bytes, line length), holds a line that is not a JSON
            object, or no object at all.
        ValidationError: ``encoding`` is not a text encoding.
    """
    name = source_name(source)
    text, had_bom, used = _read_text(source, "JSON Lines", limits, _codec(encoding))
    return _parse_jsonl(text, name, limits, had_bom, used)


def _parse_jsonl(text: str, name: str, limits: InputLimits, had_bom: bool, used: str) -> Table:
    objects: list[Mapping[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > limits.max_row:
            raise InputError(
                f"{name}: line {number} is over the limit of {limits.max_row:,} characters"
            )
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: deeply nested brackets
            raise InputError(f"{name}: line {number} is not JSON") from None
        if not isinstance(value, dict):
            raise InputError(f"{name}: line {number} is not a JSON object")
        objects.append(value)
    if not objects:
        raise InputError(f"{name}: is empty; expected one JSON object a line")
    return attrs.evolve(Table.from_dicts(objects), had_bom=had_bom, encoding=used)


_JSONL_SUFFIXES = {".jsonl", ".ndjson"}


def read_rows(
    source: Source,
    *,
    limits: InputLimits = _DEFAULT_LIMITS,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Table:
    """Read CSV, or JSON Lines when a file's name ends ``.jsonl`` or ``.ndjson``.

    Standard input (``"-"``) and streams have no name: they are JSON Lines when
    their first character other than white space is ``{`` (a CSV header never
    starts so), else CSV. The keywords are as for :func:`read_csv`.
    """
    if isinstance(source, str | Path) and str(source) != STDIN:
        if Path(source).suffix.lower() in _JSONL_SUFFIXES:
            return read_jsonl(source, limits=limits, encoding=encoding)
        return read_csv(source, limits=limits, delimiter=delimiter, encoding=encoding)
    # A stream can be read once: read it, then decide.
    delimiter = _check_delimiter(delimiter)
    codec = _codec(encoding)
    name = source_name(source)
    text, had_bom, used = _read_text(source, "CSV or JSON Lines", limits, codec)
    if text.lstrip().startswith("{"):
        return _parse_jsonl(text, name, limits, had_bom, used)
    return _csv_from_text(text, name, limits, delimiter, had_bom, used)
