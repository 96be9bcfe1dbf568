"""What every sub-command shares: option types, ``--db``, and opening the store it names.

A command module defines ``register(commands)``, which adds its parser to the
sub-parsers and sets ``handler``, a function of (parsed arguments, stderr) that
returns the exit code; it lists ``register`` in ``crmcore.cli._COMMANDS``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmcore.cli._errors import EXIT_USAGE, CliError

if TYPE_CHECKING:
    from crmcore.storage import Store

__all__ = [
    "Parser",
    "add_command",
    "add_db_option",
    "add_format_option",
    "add_id_column_option",
    "add_input_options",
    "add_map_option",
    "add_quiet_option",
    "add_region_option",
    "add_workers_option",
    "default_region",
    "delimiter",
    "open_db",
    "positive",
    "same_file",
    "threshold",
]


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors raised as one-line CliErrors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see {self.prog} --help)", EXIT_USAGE)


def threshold(text: str) -> float:
    """An argparse type: a number strictly inside (0, 1), as RuleSet demands."""
    # 0 and 1 used to end in a traceback.
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number between 0 and 1, exclusive") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError("must be a number between 0 and 1, exclusive")
    return value


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a positive whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return value


_DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}


def delimiter(text: str) -> str:
    """An argparse type: one character, or its name (comma, semicolon, tab, pipe)."""
    value = _DELIMITER_NAMES.get(text.lower(), text)
    if len(value) != 1 or value in '"\r\n' or value.isalnum():
        raise argparse.ArgumentTypeError(
            "must be one character or comma, semicolon, tab or pipe (not a letter, digit or quote)"
        )
    return value


def add_command(
    commands: Any, name: str, *, help: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """Add sub-command ``name`` to ``commands`` (the sub-parsers object) and return its parser.

    Every command's description and epilog are laid out by hand (paragraphs,
    example lines), so argparse must print them as written, not refill them.
    """
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


# The options below are shared by several commands under one name and meaning;
# the help text is each command's own where the option's effect differs.


def add_region_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add ``--region XX``, the default phone region (checked by :func:`default_region`)."""
    parser.add_argument("--region", metavar="XX", help=help)


def default_region(text: str | None) -> str | None:
    """The ISO code ``--region`` names (``None`` when not given); an unknown one is a CliError."""
    if text is None:
        return None
    from crmcore.io import country_code

    region = country_code(text)
    if region is None:
        raise CliError(
            "--region: not a country code with known phone numbering (use e.g. SE)", EXIT_USAGE
        )
    return region


def add_map_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add the repeatable ``--map FIELD=COLUMN`` (parsed into ``args.maps``)."""
    parser.add_argument(
        "--map", action="append", default=[], metavar="FIELD=COLUMN", dest="maps", help=help
    )


def add_id_column_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add ``--id-column COL``, the column of unique row ids."""
    parser.add_argument("--id-column", metavar="COL", help=help)


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers N``, the processes that parse emails and phones."""
    parser.add_argument(
        "--workers",
        type=positive,
        metavar="N",
        help="processes for parsing emails and phones (default: every available core)",
    )


def add_quiet_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add ``-q``/``--quiet``; what it silences is each command's own."""
    parser.add_argument("-q", "--quiet", action="store_true", help=help)


def add_format_option(
    parser: argparse.ArgumentParser,
    help: str,
    *,
    choices: Sequence[str] = ("text", "json"),
    default: str | None = "text",
) -> None:
    """Add ``--format``, the output's form (text or json unless ``choices`` says otherwise)."""
    parser.add_argument("--format", choices=tuple(choices), default=default, help=help)


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--delimiter`` and ``--encoding``, the options of every command that reads rows."""
    parser.add_argument(
        "--delimiter",
        type=delimiter,
        metavar="CHAR",
        help="the CSV delimiter: a character, or comma, semicolon, tab, pipe "
        "(default: found from the first lines)",
    )
    parser.add_argument(
        "--encoding",
        metavar="NAME",
        help="the input's text encoding, e.g. cp1252 (Excel on Windows), latin-1, utf-16 "
        "(default: UTF-8 with or without a byte order mark, or UTF-16 with one)",
    )


def add_db_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """Add ``--db``: a SQLite file path, or a store URL for :func:`crmcore.open_store`."""
    parser.add_argument(
        "--db",
        required=required,
        metavar="PATH|URL",
        help="the store: a SQLite file (created when missing) or a store URL such as "
        "sqlite:///crm.db",
    )


def open_db(target: str) -> Store:
    """Open the store ``--db`` names; problems become one-line CliErrors.

    A value with ``://`` is a store URL (:func:`crmcore.open_store`, so stores
    registered by other packages work too); anything else is a SQLite file path.
    The URL is never repeated in a message: it may hold a password.
    """
    from crmcore.errors import StorageError, ValidationError
    from crmcore.storage import SQLiteStore, open_store

    try:
        if "://" in target:
            return open_store(target)
        return SQLiteStore(Path(target))
    except ValidationError as exc:
        reason = "; ".join(message for _, message in exc.problems)
        raise CliError(f"--db: {reason}", EXIT_USAGE) from None
    except StorageError as exc:
        raise CliError(f"--db: the store cannot be opened ({exc})") from None


def same_file(a: Path, b: Path) -> bool:
    """Whether writing ``a`` would overwrite ``b``: one path, a symlink or a hard link.

    ``-`` (standard input or output) is never the file being written.
    """
    if str(a) == "-" or str(b) == "-":
        return False
    # Resolved paths miss hard links (and bind mounts): the files themselves are
    # compared, by device and inode, whenever both exist.
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_output_file(output: Path, db: str) -> None:
    """``--output FILE``, before the store is opened: not the database, in a directory."""
    if "://" not in db and same_file(output, Path(db)):
        raise CliError("--output must not be the database file", EXIT_USAGE)
    if not output.parent.is_dir():
        raise CliError(f"{output}: cannot be written (no such directory)")
