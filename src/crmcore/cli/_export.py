"""``crmcore export``: a store's records to JSON Lines (lossless) or CSV, a file or stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from crmcore.cli._common import add_command, add_format_option, add_quiet_option
from crmcore.cli._db import add_existing_db_option
from crmcore.cli._errors import EXIT_USAGE, CliError

__all__ = ["register"]

# crmcore.io.ENTITIES, spelled out: registering a command must not import crmcore.io.
_ENTITIES = ("customers", "leads", "interactions", "merges", "opportunities", "tasks", "cases")

_HELP = "write a store's records to JSON Lines (lossless) or CSV"

_DESCRIPTION = """\
Write every record of a store to a file (or to standard output with --output -).

JSON Lines (the default) is lossless: customers, leads, interactions and merge records,
tombstones included, opportunities, tasks and support cases, with their ids, versions and
timestamps; 'crmcore import' and
crmcore.io.restore load it back into an empty store. CSV is flat, for spreadsheets: one
entity per file (--entity names it), the main fields as columns, several values joined
with '; ', and cells a spreadsheet would run as formulas neutralised."""

_EPILOG = """\
examples:
  crmcore export --db crm.db --output backup.jsonl
  crmcore export --db crm.db --output customers.csv --entity customers
  crmcore export --db crm.db --output - --entity interactions | gzip > timeline.jsonl.gz

--format defaults to csv when --output ends with .csv, else jsonl.
exit status: 0 on success, 1 when the store or the output cannot be used, 2 for a bad
command line."""


def register(commands: Any) -> None:
    """Add ``crmcore export`` to the sub-commands."""
    parser = add_command(commands, "export", help=_HELP, description=_DESCRIPTION, epilog=_EPILOG)
    add_existing_db_option(parser)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE|-",
        help="where to write the export; - is standard output",
    )
    # No default: it follows --output's suffix (see the epilog).
    add_format_option(
        parser, "jsonl (lossless) or csv (flat, one entity)", choices=("jsonl", "csv"), default=None
    )
    parser.add_argument(
        "--entity",
        choices=(*_ENTITIES, "all"),
        help="which records to write (default: all for jsonl; csv needs one)",
    )
    parser.add_argument(
        "--keep-formulas",
        action="store_true",
        help="csv: write cells starting with = + - @ as they are, not neutralised with a "
        "leading ' (for a program, not a spreadsheet, to read)",
    )
    add_quiet_option(parser, "no summary on stderr")
    parser.set_defaults(handler=run_export)


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


_NOUNS = {
    "customers": "customer",
    "leads": "lead",
    "interactions": "interaction",
    "merges": "merge record",
    "opportunities": "opportunity",
    "tasks": "task",
    "cases": "case",
}


def run_export(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``crmcore export``; problems the user can fix raise :class:`CliError`."""
    from crmcore.cli._common import check_output_file
    from crmcore.cli._db import existing_store
    from crmcore.errors import ValidationError
    from crmcore.io import export_store

    to_stdout = args.output == "-"
    output = Path(args.output)
    chosen = args.format or ("csv" if output.suffix.lower() == ".csv" else "jsonl")
    entity = args.entity or ("all" if chosen == "jsonl" else None)
    if entity is None or (chosen == "csv" and entity == "all"):
        raise CliError(
            "--entity: a CSV file holds one entity; name one of " + ", ".join(_ENTITIES),
            EXIT_USAGE,
        )
    if not to_stdout:
        check_output_file(output, args.db)
    with existing_store(args.db) as store:
        try:
            if to_stdout:
                report = export_store(
                    store, sys.stdout, format=chosen, entity=entity, safe=not args.keep_formulas
                )
                sys.stdout.flush()
            else:
                report = export_store(
                    store, output, format=chosen, entity=entity, safe=not args.keep_formulas
                )
        except OSError as exc:
            where = "standard output" if to_stdout else str(output)
            raise CliError(f"{where}: cannot be written ({exc.strerror or 'I/O error'})") from None
        except ValidationError as exc:  # a work-item entity a store URL's store does not keep
            raise CliError(f"--entity: {exc.problems[0][1]}") from None
    if not args.quiet:
        counts = ", ".join(_plural(n, _NOUNS[e]) for e, n in report.counts.items())
        where = "standard output" if to_stdout else str(output)
        print(f"exported {counts} to {where} ({chosen})", file=err)
    return 0
