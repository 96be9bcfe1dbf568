"""The ``crmcore`` command line (``pip install "crmcore[cli]"``).

``crmcore dedupe contacts.csv --output clustered.csv`` reads a CSV file of
contacts, finds the rows that are one person or organisation, and writes every
row back with a ``cluster_id`` and a ``match_confidence``. See docs/cli.md.

Only this package imports rich; ``import crmcore`` does not import it.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TextIO

from crmcore import __version__
from crmcore.cli import _common, _export, _import, _privacy, _schema, _stats, _unmerge
from crmcore.cli._common import Parser, add_db_option, add_input_options, positive, threshold
from crmcore.cli._errors import EXIT_USAGE, CliError
from crmcore.io import FIELDS
from crmcore.io.parsing import terminate_workers

__all__ = ["console_main", "main"]

_DESCRIPTION = "crmcore: the domain core of a CRM, from the command line."

_DEDUPE_DESCRIPTION = """\
Find the rows of a CSV file that are the same person or organisation.

Every input row is written to OUT.csv, in input order, with all its columns and two more:
cluster_id (equal for rows judged to be one entity; a row alone keeps its own) and
match_confidence (how strongly the row is tied to its cluster, 0 to 1; blank when alone).
Cells that cannot be read (an email that is no address, a phone without a region, ...)
never drop a row: it is matched on what could be read, and listed in a warning by row
number and column.

The input is CSV (comma, semicolon, tab or pipe, found from the first lines; --delimiter
to choose) or JSON Lines (.jsonl); '-' reads standard input. It is read as UTF-8, with or
without a byte order mark, or UTF-16 with one (Excel's "Unicode text"); --encoding names
another (cp1252, latin-1). Columns are recognised by their header, ignoring case,
diacritics, spaces and punctuation, in English, Swedish, German and Indonesian (First Name,
Förnamn, Vorname, Nama Depan; E-mail, E-post, Telefon, No HP; ...) and as HubSpot,
Salesforce, Odoo, Google Contacts and Outlook export them. The columns read, and those
carried untouched, are listed before the work; use --map for any other column.

A phone number without a leading + is read in its row's region: the country column
(an ISO code such as SE or an English name such as Sweden), else --region-column,
else --region.

Output cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a
carriage return) get a leading ' so that they show as text; phone numbers such as
+46 70 123 45 67 and numbers such as -12.5 are left as they are. --keep-formulas writes
every cell exactly as read."""

_FIELDS_EPILOG = "fields for --map:\n" + "\n".join(
    textwrap.fill(f"{name}: {meaning}", width=92, initial_indent="  ", subsequent_indent="      ")
    for name, meaning in FIELDS.items()
)

_EXAMPLES = """\
examples:
  crmcore dedupe contacts.csv --output clustered.csv --region SE
  crmcore dedupe leads.csv --output out.csv --id-column "Lead ID" --report review.html
  crmcore dedupe kunder.csv --output - --encoding cp1252 --region SE > clustered.csv
  crmcore dedupe febrl.csv --output out.csv --id-column rec_id \\
      --map street_number=street_number --map address=address_1 --map address=address_2 \\
      --map city=suburb --map identifier=soc_sec_id
  crmcore dedupe --db crm.db --report review.html --merge-above 0.95 --dry-run

exit status: 0 on success, 1 when the input cannot be read (missing, not in its encoding,
not CSV, over a size limit), 2 when the command line does not fit the input (unknown column or
field, bad option), 130 when interrupted, 143 when terminated."""


def _register_dedupe(commands: Any) -> None:
    dedupe = _common.add_command(
        commands,
        "dedupe",
        help="find rows of a CSV file that are the same person or organisation",
        description=_DEDUPE_DESCRIPTION,
        epilog=f"{_FIELDS_EPILOG}\n\n{_EXAMPLES}",
    )
    dedupe.add_argument(
        "input",
        type=Path,
        nargs="?",
        metavar="INPUT.csv",
        help="the CSV or JSON Lines file to read; - for standard input",
    )
    dedupe.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT.csv",
        help="where to write every row with cluster_id and match_confidence (needed with "
        "INPUT; - for stdout)",
    )
    add_db_option(dedupe, required=False)
    dedupe.add_argument(
        "--merge-above",
        type=threshold,
        metavar="P",
        help="with --db: merge, reversibly, the clusters whose confidence is above P",
    )
    dedupe.add_argument(
        "--dry-run",
        action="store_true",
        help="with --merge-above: list what would be merged and change nothing",
    )
    # No default: run_dedupe_db tells a --format given without --db from none at all.
    _common.add_format_option(
        dedupe,
        "with --db: the summary as text (default) or as one JSON object on stdout",
        default=None,
    )
    add_input_options(dedupe)
    _common.add_region_option(
        dedupe, "default phone region (ISO 3166 alpha-2, e.g. SE) for rows with no country"
    )
    dedupe.add_argument(
        "--region-column",
        metavar="COL",
        help="column holding each row's phone region, used when its country cell is blank",
    )
    _common.add_id_column_option(
        dedupe,
        "column of unique row ids; cluster ids and the report use them "
        "(default: row numbers, the header being row 1)",
    )
    _common.add_map_option(
        dedupe,
        "read FIELD from COLUMN (repeatable; see the fields below); replaces the "
        "columns recognised for that field",
    )
    dedupe.add_argument(
        "--report",
        type=Path,
        metavar="REPORT.html",
        help="also write a self-contained HTML page showing each cluster's rows side by "
        "side with the reasons they matched",
    )
    dedupe.add_argument(
        "--report-limit",
        type=positive,
        default=500,
        metavar="N",
        help="show at most N clusters in the report, weakest first (default: 500)",
    )
    dedupe.add_argument(
        "--threshold",
        type=threshold,
        metavar="X",
        help="match score (between 0 and 1, exclusive) from which two rows are one entity "
        "(default: the rule set's own); higher is stricter",
    )
    dedupe.add_argument(
        "--rules",
        type=Path,
        metavar="FILE",
        help="a rule set as JSON (what crmcore.dedup.RuleSet.to_dict writes) instead of "
        "the default rules; --threshold still replaces its match threshold",
    )
    _common.add_workers_option(dedupe)
    dedupe.add_argument(
        "--keep-formulas",
        action="store_true",
        help="write cells starting with = + - @ as they are, not neutralised with a leading ' "
        "(for a program, not a spreadsheet, to read)",
    )
    _common.add_quiet_option(dedupe, "no progress bar and no column list (warnings still print)")
    dedupe.set_defaults(handler=_run_dedupe)


def _run_dedupe(args: argparse.Namespace, err: TextIO) -> int:
    from crmcore.cli._dedupe import DedupeOptions, run_dedupe
    from crmcore.cli._dedupe_db import run_dedupe_db

    if (code := run_dedupe_db(args, err)) is not None:
        return code

    options = DedupeOptions(
        input=args.input,
        output=args.output,
        region=args.region,
        region_column=args.region_column,
        id_column=args.id_column,
        maps=tuple(args.maps),
        report=args.report,
        threshold=args.threshold,
        rules=args.rules,
        report_limit=args.report_limit,
        workers=args.workers,
        quiet=args.quiet,
        delimiter=args.delimiter,
        encoding=args.encoding,
        keep_formulas=args.keep_formulas,
    )
    return run_dedupe(options, err)


# One registration per sub-command: each adds its parser and sets ``handler``,
# a function of (parsed arguments, stderr) returning the exit code. A command's
# module imports its heavy parts inside the handler, so ``--help`` stays quick.
_COMMANDS: tuple[Callable[[Any], None], ...] = (
    _register_dedupe,
    _import.register,
    _schema.register,
    _export.register,
    _stats.register,
    _unmerge.register,
    _privacy.register,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``crmcore`` argument parser, with one sub-command per job."""
    parser = Parser(
        prog="crmcore",
        description=_DESCRIPTION,
        epilog="Run 'crmcore COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"crmcore {__version__}")
    # Every command that writes leaves audit entries; --actor names who made them.
    _privacy.add_actor_option(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for register in _COMMANDS:
        register(commands)
    return parser


_ENDINGS: dict[int, bytes] = {
    signal.SIGINT: b"crmcore: interrupted\n",
    signal.SIGTERM: b"crmcore: terminated\n",
}


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Kill the parsing workers (they hold memory and the terminal's stdout and
    # stderr), then end at once. Unwinding instead (a KeyboardInterrupt, or an
    # exception raised here) can leave a lock of the process pool held by the
    # frame the signal interrupted, and the pool's shutdown then waits for it
    # forever: seen under load, for SIGTERM and for SIGINT alike.
    terminate_workers()
    os.write(2, _ENDINGS.get(signum, b"crmcore: stopped\n"))
    os._exit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``crmcore`` command with ``argv`` (default: ``sys.argv[1:]``); return its exit code.

    Problems the user can fix print one line on stderr and return a non-zero code;
    they never raise. Signals are left to the caller: the ``crmcore`` program
    (:func:`console_main`) ends on SIGINT and SIGTERM, an app that calls this
    keeps its own handlers (a ``KeyboardInterrupt`` returns 130).
    """
    return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        handler: Callable[[argparse.Namespace, TextIO], int] = args.handler
        with _privacy.acting(args):
            return handler(args, sys.stderr)
    except CliError as exc:
        print(f"crmcore: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("crmcore: interrupted", file=sys.stderr)
        return 130


def console_main() -> NoReturn:
    """The ``crmcore`` program: run :func:`main` on ``sys.argv`` and exit with its code.

    SIGINT (Ctrl-C) and SIGTERM kill the parsing workers and end the program at
    once (exit 130 and 143); an output being written is left as far as it got.
    """
    for signum in _ENDINGS:
        signal.signal(signum, _on_signal)
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`crmcore stats --format json | head -1`): like
        # any Unix tool, stop quietly. Python would otherwise print a traceback,
        # and again while flushing stdout at exit; pointing stdout at /dev/null
        # stops the second one.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + signal.SIGPIPE
    # Matching leaves its caches full (millions of small objects after a large
    # file); the collections the interpreter runs while shutting down would scan
    # them all, about a second at 150,000 rows, only for the process to end.
    gc.freeze()
    sys.exit(code)
