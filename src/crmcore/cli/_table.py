"""The command line's view of crmcore.io: ``--map`` options, and errors as exit codes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from crmcore.cli._errors import EXIT_USAGE, CliError
from crmcore.errors import ValidationError
from crmcore.io import (
    FIELDS,
    ColumnError,
    ColumnPlan,
    EncodingError,
    InputError,
    Table,
    column_index,
)
from crmcore.io import plan_columns as _plan_columns
from crmcore.io import read_rows as _read_rows

__all__ = ["find_column", "parse_map_options", "read_table", "resolve_columns"]


def read_table(
    source: Path | str, *, delimiter: str | None = None, encoding: str | None = None
) -> Table:
    """Read ``source`` (a path, or ``-`` for standard input) as CSV or JSON Lines.

    See :func:`crmcore.io.read_rows`; ``delimiter`` and ``encoding`` are the
    ``--delimiter`` and ``--encoding`` options.

    Raises:
        CliError: the input is missing, unreadable, not in its encoding (the
            message names ``--encoding``), empty or not CSV; or ``--encoding``
            names no text encoding.
    """
    try:
        return _read_rows(source, delimiter=delimiter, encoding=encoding)
    except EncodingError as exc:
        raise CliError(
            f"{exc.problem}; use --encoding cp1252 (Excel on Windows), latin-1 or utf-16, "
            "or save it as UTF-8"
        ) from None
    except InputError as exc:
        raise CliError(str(exc)) from None
    except ValidationError as exc:
        # Only the options can be wrong here; a delimiter is checked by argparse already.
        option = "--encoding" if "encoding" in exc.paths else "--delimiter"
        reason = "; ".join(message for _, message in exc.problems)
        raise CliError(f"{option}: {reason}", EXIT_USAGE) from None


def parse_map_options(
    options: Iterable[str], fields: Mapping[str, str] = FIELDS
) -> list[tuple[str, str]]:
    """Split ``FIELD=COLUMN`` options; a field not in ``fields`` is a usage error."""
    pairs = []
    for option in options:
        field, sep, column = option.partition("=")
        field = field.strip().lower()
        if not sep or not field or not column.strip():
            raise CliError(f"--map {option!r}: expected FIELD=COLUMN", EXIT_USAGE)
        if field not in fields:
            raise CliError(
                f"--map: unknown field {field!r}; fields are {', '.join(fields)}", EXIT_USAGE
            )
        pairs.append((field, column.strip()))
    return pairs


def find_column(header: Sequence[str], column: str, option: str) -> int:
    """The index of ``column`` in ``header`` (see :func:`crmcore.io.column_index`)."""
    try:
        return column_index(header, column)
    except ColumnError as exc:
        raise CliError(f"{option}: {exc.reason}", EXIT_USAGE) from None


def resolve_columns(header: Sequence[str], mapped: Sequence[tuple[str, str]]) -> ColumnPlan:
    """Recognise common headers, then let ``--map`` pairs replace them field by field."""
    try:
        return _plan_columns(header, mapped)
    except ColumnError as exc:
        if "more than once" in exc.reason:
            raise CliError(f"--map: {exc.reason}", EXIT_USAGE) from None
        raise CliError(f"--map {exc.field}={exc.column}: {exc.reason}", EXIT_USAGE) from None
