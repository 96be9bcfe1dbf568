"""``crmcore import``: a file of customers, leads, interactions or work items into a store."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from crmcore.cli._common import (
    add_command,
    add_db_option,
    add_format_option,
    add_id_column_option,
    add_input_options,
    add_map_option,
    add_quiet_option,
    add_region_option,
    add_workers_option,
    default_region,
    positive,
    same_file,
)
from crmcore.cli._errors import EXIT_USAGE, CliError

if TYPE_CHECKING:
    pass

__all__ = ["register"]

_DESCRIPTION = """\
Import the rows of a CSV or JSON Lines file into a store; every row is imported or reported.

Customers (the default) and leads: emails, phones, names, the company (a person's employer
becomes or links an organisation customer), addresses, tags; columns no field reads are kept
as custom fields. Interactions (--as interactions): channel, direction, timestamp (one without
a UTC offset needs --timezone), subject, body, external id, and the participants, found by
email, phone or identifier among the stored customers and leads. Opportunities, tasks and
support cases (--as opportunities|tasks|cases): a deal's name, customer, stage (of the
--pipeline FILE.json it is in), amount and close date; a task's title, due time, assignee and
what it is about; a case's subject, customer, channel, status and times. Headers are also
recognised as HubSpot and Salesforce export deals, tasks and tickets.

A row with a cell that cannot be read is rejected whole and written to the rejects file with
its row number, the field and the reason; the other rows still import. Each record keeps its
row's id (--id-column, else the row number) under the identifier scheme source:<--source>, so
the same file imported again stores nothing new, and a run that was stopped, even killed, and
started again finishes the file with nothing doubled. Rows are written --batch-size at a time,
each batch checked for duplicates and written in one transaction."""

_EXAMPLES = """\
examples:
  crmcore import contacts.csv --db crm.db --region SE --id-column "Contact ID"
  crmcore import leads.csv --db crm.db --as leads --on-duplicate skip
  crmcore import calls.csv --db crm.db --as interactions --timezone Europe/Stockholm
  crmcore import deals.csv --db crm.db --as opportunities --pipeline sales.json --currency EUR
  crmcore import tickets.csv --db crm.db --as cases --timezone Europe/Berlin
  crmcore import contacts.csv --db crm.db --dry-run --format json

--on-duplicate: alert (default) stores a row that matches and lists it as flagged; skip does
not store it; merge stores it and merges it into its match (reversible: crmcore.unmerge);
create stores every row without checking. Under every policy but create, a row that only
possibly matches (the review band) is stored and listed as a possible match, for review.

exit status: 0 when the file was imported (rejected rows included), 1 when the input or the
store cannot be read, 2 when the command line does not fit the input."""


def register(commands: Any) -> None:
    """Add ``crmcore import`` to the sub-commands."""
    from crmcore.io import FIELDS, IMPORT_FIELDS, INTERACTION_FIELDS, WORK_FIELDS

    fields = {**FIELDS, **IMPORT_FIELDS, **INTERACTION_FIELDS}
    listed = "\n".join(f"  {name}: {meaning}" for name, meaning in fields.items())
    work = "\n".join(
        f"fields for --map with --as {entity}: {', '.join(own)}"
        for entity, own in WORK_FIELDS.items()
    )
    parser = add_command(
        commands,
        "import",
        help="import customers, leads, interactions, opportunities, tasks or cases from a file "
        "into a store",
        description=_DESCRIPTION,
        epilog=f"fields for --map:\n{listed}\n{work}\n(docs/import.md says what each "
        f"holds)\n\n{_EXAMPLES}",
    )
    parser.add_argument(
        "input", type=Path, metavar="INPUT", help="the CSV or JSON Lines file; - for standard input"
    )
    add_db_option(parser)
    add_input_options(parser)
    parser.add_argument(
        "--as",
        dest="entity",
        choices=("customers", "leads", "interactions", "opportunities", "tasks", "cases"),
        default="customers",
        help="what each row is (default: customers)",
    )
    parser.add_argument(
        "--pipeline",
        dest="pipelines",
        action="append",
        type=Path,
        default=[],
        metavar="FILE.json",
        help="with --as opportunities (required): the pipeline the deals are in, as JSON "
        "(crmcore.Pipeline.to_dict(), or a list of them); repeatable, and a pipeline column "
        "then picks one",
    )
    parser.add_argument(
        "--currency",
        metavar="CODE",
        help="with --as opportunities: the ISO 4217 currency of amounts written without one",
    )
    add_region_option(parser, "default phone region (ISO 3166 alpha-2, e.g. SE)")
    add_map_option(parser, "read FIELD from COLUMN (repeatable; see the fields below)")
    add_id_column_option(
        parser, "column of unique row ids, kept on each record (default: the row number)"
    )
    parser.add_argument(
        "--source",
        metavar="NAME",
        help="the name row ids are kept under, source:NAME (default: the input file's name; "
        "stdin for standard input, so give one)",
    )
    parser.add_argument(
        "--on-duplicate",
        choices=("alert", "skip", "merge", "create"),
        default="alert",
        help="what to do with a row that matches a stored record or an earlier row "
        "(default: alert)",
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        metavar="FILE",
        help="where to write the rejected rows (default: INPUT's name with .rejects.csv; "
        "stdin.rejects.csv for standard input)",
    )
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        help="the time zone (e.g. Europe/Stockholm) of timestamps written without an offset",
    )
    parser.add_argument(
        "--participant-source",
        metavar="NAME",
        help="with --as interactions: the --source of a customer import whose row ids the "
        "identifier columns hold (e.g. customers.csv); with --as opportunities, tasks or "
        "cases: whose row ids the customer (about) column holds",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="do everything, then roll it back: store nothing"
    )
    parser.add_argument(
        "--batch-size",
        type=positive,
        default=1000,
        metavar="N",
        help="rows per transaction (default: 1000)",
    )
    add_format_option(
        parser, "the summary: a line on stderr (text) or a JSON object on stdout (json)"
    )
    add_workers_option(parser)
    add_quiet_option(parser, "no progress bar")
    parser.set_defaults(handler=run_import)


def _rejects_path(args: argparse.Namespace) -> Path:
    if args.rejects is not None:
        path: Path = args.rejects
    elif str(args.input) == "-":
        path = Path("stdin.rejects.csv")
    else:
        path = args.input.with_name(f"{args.input.stem}.rejects.csv")
    if same_file(path, args.input):
        raise CliError("--rejects must not be the input file", EXIT_USAGE)
    if not path.parent.is_dir():
        raise CliError(f"{path}: cannot be written (no such directory)")
    return path


def run_import(args: argparse.Namespace, err: TextIO) -> int:
    """Run ``crmcore import``; problems the user can fix raise :class:`CliError`."""
    from crmcore.cli._common import open_db
    from crmcore.cli._progress import Progress
    from crmcore.cli._table import parse_map_options, read_table
    from crmcore.errors import ValidationError
    from crmcore.io import (
        FIELDS,
        IMPORT_FIELDS,
        INTERACTION_FIELDS,
        WORK_FIELDS,
        ColumnError,
        import_columns,
        import_table,
        is_export,
    )
    from crmcore.io._import_common import write_rejects
    from crmcore.io._import_interactions import zone

    started = time.perf_counter()
    region = default_region(args.region)
    if args.timezone is not None:
        try:
            zone(args.timezone)
        except ValidationError:
            raise CliError(
                "--timezone: not a known time zone (use e.g. Europe/Stockholm)", EXIT_USAGE
            ) from None
    if args.entity in WORK_FIELDS:
        mapped = parse_map_options(args.maps, WORK_FIELDS[args.entity])
    else:
        own = INTERACTION_FIELDS if args.entity == "interactions" else IMPORT_FIELDS
        mapped = parse_map_options(args.maps, {**FIELDS, **own})
    pipelines = _pipelines(args)
    currency = _currency(args)
    rejects = _rejects_path(args)
    quiet = args.quiet or args.format == "json"
    if str(args.input) != "-" and is_export(args.input):
        return _restore(args, open_db(args.db), err)
    # The input is read, and its columns checked, before the store is opened: a
    # file that cannot be imported leaves no new, empty database behind.
    table = read_table(args.input, delimiter=args.delimiter, encoding=args.encoding)
    try:
        columns = import_columns(table, entity=args.entity, mapped=mapped, id_column=args.id_column)
    except ColumnError as exc:
        raise _column_error(exc) from None
    except ValidationError as exc:  # a work-item file without a column a field needs
        raise CliError(f"{args.input}: {exc.problems[0][1]}", EXIT_USAGE) from None
    store = open_db(args.db)
    progress = Progress(enabled=not quiet, unit="rows")
    staged = False

    def shown(done: int, total: int) -> None:
        nonlocal staged
        if not staged:
            progress.stage(f"Importing {args.entity}", total)
            staged = True
        progress.update(done, total)

    if not quiet:
        _say_columns(columns, err)
    source = args.source or ("stdin" if str(args.input) == "-" else args.input.name)
    try:
        report = import_table(
            store,
            table,
            source=source,
            entity=args.entity,
            region=region,
            mapped=mapped,
            id_column=args.id_column,
            on_duplicate=args.on_duplicate,
            timezone=args.timezone,
            participant_source=args.participant_source,
            pipelines=pipelines,
            currency=currency,
            dry_run=args.dry_run,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=shown,
        )
        if report.rejects and not args.dry_run:
            try:
                write_rejects(rejects, table, report.rejects)
            except OSError as exc:
                reason = exc.strerror or "I/O error"
                raise CliError(f"{rejects}: cannot be written ({reason})") from None
    except ColumnError as exc:
        raise _column_error(exc) from None
    except ValidationError as exc:  # the store keeps no work items
        raise CliError(f"--db: {exc.problems[0][0]} {exc.problems[0][1]}") from None
    finally:
        progress.stop()
        store.close()
    if args.format == "json":
        summary = report.to_dict()
        summary["rejects_file"] = str(rejects) if report.rejects and not args.dry_run else None
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
        return 0
    _summary(report, args, rejects, time.perf_counter() - started, err, table, columns)
    return 0


def _pipelines(args: argparse.Namespace) -> list[Any]:
    """The pipelines of ``--pipeline`` files; only (and always) for ``--as opportunities``."""
    from crmcore.errors import ValidationError
    from crmcore.pipelines import Pipeline

    if args.entity != "opportunities":
        if args.pipelines:
            raise CliError("--pipeline: only with --as opportunities", EXIT_USAGE)
        return []
    if not args.pipelines:
        raise CliError(
            "--pipeline: an opportunities import needs the pipeline its deals are in "
            "(FILE.json, crmcore.Pipeline.to_dict())",
            EXIT_USAGE,
        )
    found: list[Pipeline] = []
    for path in args.pipelines:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"--pipeline {path}: cannot be read ({exc.strerror})") from None
        except (ValueError, RecursionError):
            raise CliError(f"--pipeline {path}: is not JSON", EXIT_USAGE) from None
        for i, item in enumerate(data if isinstance(data, list) else [data]):
            try:
                found.append(Pipeline.from_dict(item))
            except ValidationError as exc:
                where = f"[{i}]" if isinstance(data, list) else ""
                path_, message = exc.problems[0]
                field = f"{where}.{path_}" if where and path_ else where or path_ or "pipeline"
                raise CliError(f"--pipeline {path}: {field} {message}", EXIT_USAGE) from None
    ids = [p.id for p in found]
    if len(set(ids)) != len(ids):
        raise CliError("--pipeline: two pipelines have the same id", EXIT_USAGE)
    return found


def _currency(args: argparse.Namespace) -> str | None:
    from crmcore.errors import ValidationError
    from crmcore.values import Money

    if args.currency is None:
        return None
    if args.entity != "opportunities":
        raise CliError("--currency: only with --as opportunities", EXIT_USAGE)
    try:
        return Money.of(0, args.currency).currency
    except ValidationError:
        raise CliError("--currency: not an ISO 4217 currency code (e.g. EUR)", EXIT_USAGE) from None


def _restore(args: argparse.Namespace, store: Any, err: TextIO) -> int:
    """A crmcore export (``crmcore export``) comes back whole: ids, versions, merges."""
    from crmcore.errors import CrmError
    from crmcore.io import InputError, restore

    if args.dry_run:
        store.close()
        raise CliError("--dry-run: a crmcore export is restored whole or not at all", EXIT_USAGE)
    try:
        report = restore(store, args.input)
    except InputError as exc:
        raise CliError(str(exc)) from None
    except CrmError as exc:
        # Only an empty store can take an export: its ids, versions and merges as they were.
        raise CliError(
            f"{args.input}: a crmcore export, and it cannot be restored here: {exc}"
        ) from None
    finally:
        store.close()
    if args.format == "json":
        json.dump({"restored": report.to_dict()}, sys.stdout)
        sys.stdout.write("\n")
    else:
        counts = ", ".join(f"{n} {entity}" for entity, n in report.counts.items())
        print(f"{args.input}: a crmcore export, restored: {counts}", file=err)
    return 0


def _column_error(exc: Any) -> CliError:
    if exc.field and exc.column:
        return CliError(f"--map {exc.field}={exc.column}: {exc.reason}", EXIT_USAGE)
    return CliError(f"--id-column: {exc.reason}", EXIT_USAGE)


def _say_columns(columns: Any, err: TextIO) -> None:
    """The column plan, before any row is written, and the columns that look unread."""
    print("columns:", file=err)
    for line in columns.describe():
        print(f"  {line}", file=err)
    for found in columns.lookalikes:
        print(
            f"warning: column {found.column!r} looks like {found.kind}s but is not read as "
            f"one; to read it: --map {found.field}={found.column}",
            file=err,
        )


def _needs_region(table: Any, columns: Any, report: Any) -> bool:
    """Most phone cells were rejected, and most of those are written without ``+``/``00``."""
    from crmcore.io._checks import national_phones_unread

    # A reject names the row's fields, not its columns: every phone column of a
    # row whose phone was rejected counts as failed.
    failed_rows = {r.row for r in report.rejects if "phone" in r.field.split("; ")}
    phone_columns = (table.header.index(c) for c, field in columns.read if field == "phone")
    return national_phones_unread(table, ((index, failed_rows) for index in phone_columns))


def _rows(numbers: list[int]) -> str:
    listed = ", ".join(str(n) for n in numbers[:10])
    return listed + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _summary(
    report: Any,
    args: argparse.Namespace,
    rejects: Path,
    seconds: float,
    err: TextIO,
    table: Any,
    columns: Any,
) -> None:
    if report.unread_columns:
        names = ", ".join(repr(c) for c in report.unread_columns)
        print(f"warning: columns nothing reads (use --map): {names}", file=err)
    stored = [f for f in report.flags if f.record_id and f.merge_id is None]
    flagged = [f.row for f in stored if f.decision != "possible"]
    possible = [f.row for f in stored if f.decision == "possible"]
    if flagged:
        print(f"flagged (stored, and matching another record): rows {_rows(flagged)}", file=err)
    if possible:
        print(f"possible matches (stored, for review): rows {_rows(possible)}", file=err)
    if report.rejected:
        where = "not written: dry run" if args.dry_run else f"written to {rejects}"
        print(f"rejected: rows {_rows([r.row for r in report.rejects])} ({where})", file=err)
        if any("--timezone" in r.reason for r in report.rejects):
            print("hint: timestamps without a UTC offset need --timezone", file=err)
        if args.region is None and _needs_region(table, columns, report):
            print(
                "hint: most phone numbers could not be read, and most of those have no "
                "country code: give their region, --region XX (e.g. SE)",
                file=err,
            )
    orgs = report.organizations_created
    extra = f"; {orgs} organisation{'s' if orgs != 1 else ''} created" if orgs else ""
    again = f"; {report.already_imported} already imported" if report.already_imported else ""
    prefix = "dry run, nothing stored: " if args.dry_run else ""
    name = "standard input" if str(args.input) == "-" else args.input
    print(
        f"{prefix}{name}: {report.rows} rows -> {report.imported} imported, "
        f"{report.merged} merged, {report.skipped} skipped{again}, {report.rejected} rejected, "
        f"{report.flagged} flagged{extra} in {seconds:.1f} s",
        file=err,
    )
