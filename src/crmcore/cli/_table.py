"""Reading a CSV file and deciding which column feeds which match field."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from crmcore.cli._errors import EXIT_USAGE, CliError

__all__ = [
    "FIELDS",
    "MULTI_VALUED",
    "ColumnMap",
    "Table",
    "parse_map_options",
    "read_table",
    "resolve_columns",
]

# Field name -> what it means; the names `--map FIELD=COLUMN` accepts (docs/cli.md lists them).
FIELDS: dict[str, str] = {
    "given_name": "given (first) name",
    "family_name": "family name (surname)",
    "middle_name": "middle name(s)",
    "name": "full name as typed, split into parts when no given/family name is present",
    "email": "email address; several columns allowed, a cell may hold several separated by ; or ,",
    "phone": "phone number; several columns allowed, a cell may hold several separated by ;",
    "company": "organisation name (the employer of a person, or the organisation itself)",
    "street_number": "house number, put in front of the first address line",
    "address": "address line; several columns allowed, in order",
    "city": "city, town or suburb",
    "postcode": "postal code",
    "state": "state, province or county",
    "country": "country: ISO 3166 alpha-2 code or English country name; sets the phone region",
    "birth_date": "date of birth: YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD or DD.MM.YYYY",
    "identifier": "an external identifier (national id, VAT number, ...); the scheme is the "
    "column name; several columns allowed",
}

MULTI_VALUED = frozenset({"email", "phone", "address", "identifier"})

# Headers recognised without --map, compared after case-folding and dropping everything
# that is not a letter or a digit ("First Name", "first_name" and "FIRSTNAME" all agree).
_AUTO_HEADERS: dict[str, str] = {
    **dict.fromkeys(["givenname", "firstname", "forename"], "given_name"),
    **dict.fromkeys(["familyname", "lastname", "surname"], "family_name"),
    **dict.fromkeys(["middlename", "middlenames"], "middle_name"),
    **dict.fromkeys(["name", "fullname"], "name"),
    **dict.fromkeys(["email", "emailaddress"], "email"),
    **dict.fromkeys(["phone", "mobile", "telephone", "phonenumber", "mobilephone", "tel"], "phone"),
    **dict.fromkeys(["company", "organization", "organisation", "companyname"], "company"),
    **dict.fromkeys(["city", "town"], "city"),
    **dict.fromkeys(["country", "countrycode"], "country"),
    **dict.fromkeys(["postcode", "postalcode", "zip", "zipcode"], "postcode"),
    **dict.fromkeys(["dateofbirth", "birthdate", "dob"], "birth_date"),
}


def _header_key(header: str) -> str:
    return re.sub(r"[\W_]+", "", header.casefold())


@attrs.frozen
class Table:
    """A CSV file read whole: its header, its data rows (padded to the header) and its BOM."""

    header: tuple[str, ...]
    rows: list[list[str]]
    had_bom: bool
    long_rows: tuple[int, ...] = ()  # 0-based indexes of rows with more cells than the header


def read_table(path: Path) -> Table:
    """Read ``path`` as UTF-8 CSV (with or without a BOM).

    Raises:
        CliError: the file is missing, unreadable, not UTF-8, empty or not CSV.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot be read ({exc.strerror or 'I/O error'})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CliError(f"{path}: is UTF-16 text; save it as UTF-8 (CSV UTF-8) and try again")
    had_bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{path}: is not UTF-8 text (invalid byte at offset {exc.start}); "
            "save it as UTF-8 (CSV UTF-8) and try again"
        ) from None
    if "\x00" in text:
        raise CliError(f"{path}: holds NUL characters; it does not look like a CSV file")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header_row = next(reader, None)
        if header_row is None or not any(cell.strip() for cell in header_row):
            raise CliError(f"{path}: is empty; the first line must name the columns")
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
        raise CliError(f"{path}: is not valid CSV near line {reader.line_num} ({exc})") from None
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    if duplicates:
        raise CliError(
            f"{path}: the header names a column more than once ({', '.join(duplicates)})"
        )
    return Table(header, rows, had_bom, tuple(long_rows))


@attrs.frozen
class ColumnMap:
    """Which column indexes feed each match field."""

    fields: dict[str, tuple[int, ...]]

    def get(self, field: str) -> tuple[int, ...]:
        """The column indexes for ``field`` (empty when nothing feeds it)."""
        return self.fields.get(field, ())

    def used_columns(self) -> tuple[int, ...]:
        """Every column index that feeds some field, in header order."""
        return tuple(sorted({i for cols in self.fields.values() for i in cols}))


def parse_map_options(options: Iterable[str]) -> list[tuple[str, str]]:
    """Split ``FIELD=COLUMN`` options; unknown fields are a usage error."""
    pairs = []
    for option in options:
        field, sep, column = option.partition("=")
        field = field.strip().lower()
        if not sep or not field or not column.strip():
            raise CliError(f"--map {option!r}: expected FIELD=COLUMN", EXIT_USAGE)
        if field not in FIELDS:
            raise CliError(
                f"--map: unknown field {field!r}; fields are {', '.join(FIELDS)}", EXIT_USAGE
            )
        pairs.append((field, column.strip()))
    return pairs


def find_column(header: Sequence[str], column: str, option: str) -> int:
    """The index of ``column`` in ``header``: exact match first, then case-insensitive."""
    if column in header:
        return header.index(column)
    folded = [h.casefold() for h in header]
    if column.casefold() in folded:
        return folded.index(column.casefold())
    raise CliError(f"{option}: unknown column {column!r}", EXIT_USAGE)


def resolve_columns(header: Sequence[str], mapped: Sequence[tuple[str, str]]) -> ColumnMap:
    """Recognise common headers, then let ``--map`` pairs replace them field by field."""
    fields: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        field = _AUTO_HEADERS.get(_header_key(name))
        if field is None:
            continue
        if field in MULTI_VALUED or field not in fields:
            fields.setdefault(field, []).append(index)
    explicit: dict[str, list[int]] = {}
    for field, column in mapped:
        index = find_column(header, column, f"--map {field}={column}")
        if field not in MULTI_VALUED and field in explicit:
            raise CliError(f"--map: field {field!r} is mapped more than once", EXIT_USAGE)
        if index not in explicit.get(field, []):
            explicit.setdefault(field, []).append(index)
    # A column given explicitly to one field feeds no field it was recognised for.
    claimed = {i for cols in explicit.values() for i in cols}
    result: dict[str, tuple[int, ...]] = {}
    for field, cols in fields.items():
        kept = tuple(i for i in cols if i not in claimed)
        if kept and field not in explicit:
            result[field] = kept
    result.update({field: tuple(cols) for field, cols in explicit.items()})
    return ColumnMap(result)
