"""``crmcore dedupe``: a CSV file in, the same rows with cluster ids out."""

from __future__ import annotations

import gc
import shlex
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import attrs

from crmcore.cli._common import default_region, same_file
from crmcore.cli._errors import EXIT_USAGE, CliError
from crmcore.cli._progress import Progress, ProgressLike
from crmcore.cli._report import write_report
from crmcore.cli._table import find_column, parse_map_options, read_table, resolve_columns
from crmcore.dedup.records import MatchRecord
from crmcore.dedup.results import Cluster, DedupResult
from crmcore.io import (
    CellProblems,
    ColumnPlan,
    Table,
    lookalike_columns,
    match_records,
    phone_region_hint,
    write_csv,
)

if TYPE_CHECKING:
    from crmcore.dedup import RuleSet

__all__ = ["DedupeOptions", "run_dedupe"]

OUTPUT_COLUMNS = ("cluster_id", "match_confidence")
_MAX_ROWS_LISTED = 10


@attrs.frozen
class DedupeOptions:
    """The parsed ``crmcore dedupe`` command line."""

    input: Path
    output: Path
    region: str | None = None
    region_column: str | None = None
    id_column: str | None = None
    maps: tuple[str, ...] = ()
    report: Path | None = None
    threshold: float | None = None
    rules: Path | None = None
    report_limit: int = 500
    workers: int | None = None
    quiet: bool = False
    delimiter: str | None = None
    encoding: str | None = None
    keep_formulas: bool = False


def _engine_progress(progress: ProgressLike) -> Callable[[str, int, int], None]:
    # One bar per engine stage (prepare, block, score, cluster).
    current: list[str] = []

    def callback(stage: str, done: int, total: int) -> None:
        # The engine reports a total of 0 while it cannot know one yet (loading an
        # iterable of records): shown as a count, not as "10000/0".
        known = total if total > 0 or done == 0 else None
        if not current or current[-1] != stage:
            current.append(stage)
            progress.stage(f"Matching: {stage}", known)
        progress.update(done, known)

    return callback


def _run_engine(
    records: Iterable[MatchRecord],
    rules: RuleSet,
    progress: Callable[[str, int, int], None],
) -> DedupResult:
    from crmcore.cli._engine import find_clusters

    return find_clusters(records, rules=rules, progress=progress)


def _hand_over(records: list[MatchRecord]) -> Iterator[MatchRecord]:
    """The records in order, each let go of here as the engine takes it.

    The engine keeps only what it matches on (see ``find_duplicates``): a
    million records need not stay alive beside their prepared features.
    """
    queue = deque(records)
    records.clear()
    while queue:
        yield queue.popleft()


def _labels(table: Table, id_col: int | None, option: str) -> list[str]:
    if id_col is None:
        return [str(i + 2) for i in range(len(table.rows))]
    labels = [row[id_col].strip() for row in table.rows]
    first_seen: dict[str, int] = {}
    for index, label in enumerate(labels):
        if not label:
            raise CliError(f"{option}: row {index + 2} has no id", EXIT_USAGE)
        if label in first_seen:
            raise CliError(
                f"{option}: rows {first_seen[label] + 2} and {index + 2} have the same id",
                EXIT_USAGE,
            )
        first_seen[label] = index
    return labels


def _warn(problems: CellProblems, long_rows: Sequence[int], err: TextIO) -> None:
    rows = problems.rows | {i + 2 for i in long_rows}
    if not rows:
        return
    print(
        f"warning: {len(rows)} row{'s' if len(rows) != 1 else ''} had values that could not "
        "be read; every row is kept in the output and matched on what could be read:",
        file=err,
    )
    for column, numbers in sorted(problems.by_column.items()):
        listed = ", ".join(str(n) for n in numbers[:_MAX_ROWS_LISTED])
        more = f" and {len(numbers) - _MAX_ROWS_LISTED} more" if len(numbers) > 10 else ""
        print(f"  {column}: row{'s' if len(numbers) != 1 else ''} {listed}{more}", file=err)
    if long_rows:
        listed = ", ".join(str(i + 2) for i in long_rows[:_MAX_ROWS_LISTED])
        more = f" and {len(long_rows) - _MAX_ROWS_LISTED} more" if len(long_rows) > 10 else ""
        print(f"  more cells than the header: rows {listed}{more}", file=err)


def _write_output(
    path: Path,
    table: Table,
    cluster_ids: Sequence[str],
    confidences: Sequence[str],
    *,
    safe: bool,
) -> None:
    # Columns named like ours are replaced, so that a file can be deduplicated again.
    keep = [i for i, h in enumerate(table.header) if h not in OUTPUT_COLUMNS]
    width = len(table.header)
    rows = (
        [*(row[i] for i in keep), cid, conf, *row[width:]]
        for row, cid, conf in zip(table.rows, cluster_ids, confidences, strict=True)
    )
    try:
        write_csv(
            path,
            [*(table.header[i] for i in keep), *OUTPUT_COLUMNS],
            rows,
            safe=safe,
            delimiter=table.delimiter,
            # Excel reads a UTF-8 file as UTF-8 only with a BOM: kept, or added when
            # the input was in another encoding (and so likely made by Excel).
            bom=table.had_bom or table.encoding != "utf-8",
        )
    except OSError as exc:
        reason = exc.strerror or "I/O error"
        raise CliError(f"{_name(path)}: cannot be written ({reason})") from None


def _is_std(path: Path) -> bool:
    return str(path) == "-"


def _name(path: Path) -> str:
    return "standard output" if _is_std(path) else str(path)


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _print_plan(source: Path, table: Table, columns: ColumnPlan, err: TextIO) -> None:
    name = "standard input" if _is_std(source) else str(source)
    kind = _DELIMITER_NAMES.get(table.delimiter, repr(table.delimiter))
    print(
        f"reading {name}: {len(table.rows):,} rows, {kind}-separated, {table.encoding}",
        file=err,
    )
    for line in columns.describe():
        print(f"  {line}", file=err)


_KINDS = {"email": "e-mail addresses", "phone": "phone numbers", "name": "names"}


def _warn_unread(table: Table, columns: ColumnPlan, err: TextIO) -> None:
    # Before the work: a long run can be stopped and started again with the --map.
    for found in lookalike_columns(table, columns):
        print(
            f"warning: column {found.column!r} looks like {_KINDS[found.kind]} but is not read; "
            f"to read it, add --map {shlex.quote(f'{found.field}={found.column}')}",
            file=err,
        )


def _warn_region(
    table: Table, columns: ColumnPlan, problems: CellProblems, region: str | None, err: TextIO
) -> None:
    if region is None and phone_region_hint(table, columns, problems):
        print(
            "warning: most phone numbers could not be read: they have no leading + and no "
            "country in their row; give their region, e.g. --region SE (or --region-column COL)",
            file=err,
        )


def run_dedupe(options: DedupeOptions, err: TextIO) -> int:
    """Run the command; raise :class:`CliError` for problems the user can fix."""
    # Reading and matching a contact list allocate millions of small objects
    # (cells, parsed values, records) and free almost none until the end: the
    # cyclic garbage collector would rescan them all, again and again, for
    # nothing (about a third of the parsing time at 150,000 rows).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_dedupe(options, err)
    finally:
        if enabled:
            gc.enable()


def _run_dedupe(options: DedupeOptions, err: TextIO) -> int:
    started = time.perf_counter()
    if same_file(options.output, options.input):
        raise CliError("--output must not be the input file", EXIT_USAGE)
    if options.report is not None and _is_std(options.report):
        raise CliError("--report: name a file (standard output is for --output -)", EXIT_USAGE)
    if options.report is not None and (
        same_file(options.report, options.input) or same_file(options.report, options.output)
    ):
        raise CliError("--report must differ from the input and output files", EXIT_USAGE)
    # Found only at writing time, a typo in a directory would cost the whole run
    # (and leave the output written without its report).
    for target in (options.output, options.report):
        if target is not None and not _is_std(target) and not target.parent.is_dir():
            raise CliError(f"{target}: cannot be written (no such directory)")
    region = default_region(options.region)
    if options.threshold is not None and not 0.0 < options.threshold < 1.0:
        raise CliError("--threshold: must be between 0 and 1, exclusive", EXIT_USAGE)
    from crmcore.cli._engine import rules_for

    # Read before the input: a broken rule file should not cost a long read.
    rules = rules_for(options.threshold, options.rules)
    mapped = parse_map_options(options.maps)

    table = read_table(options.input, delimiter=options.delimiter, encoding=options.encoding)
    header = table.header
    columns: ColumnPlan = resolve_columns(header, mapped)
    region_col = (
        find_column(header, options.region_column, "--region-column")
        if options.region_column is not None
        else None
    )
    id_col = (
        find_column(header, options.id_column, "--id-column")
        if options.id_column is not None
        else None
    )
    if not columns.fields:
        maps = [
            f"--map {shlex.quote(f'{found.field}={found.column}')}"
            for found in lookalike_columns(table, columns)
        ]
        hint = f" (such as {' '.join(maps)})" if maps else ""
        raise CliError(
            f"{options.input}: no column to match on; name them (email, phone, name, ...) "
            f"or use --map FIELD=COLUMN{hint}",
            EXIT_USAGE,
        )
    labels = _labels(table, id_col, f"--id-column {options.id_column}")
    if not options.quiet:
        _print_plan(options.input, table, columns, err)
    _warn_unread(table, columns, err)

    progress = Progress(enabled=not options.quiet)
    try:
        progress.stage("Parsing contacts", None)
        built = match_records(
            table,
            columns,
            region=region,
            region_column=region_col,
            workers=options.workers,
            advance=progress.advance,
            on_total=progress.set_total,
        )
        result = _run_engine(_hand_over(built.records), rules, _engine_progress(progress))
    finally:
        progress.stop()

    cluster_ids, confidences = _assign(result, labels)
    _write_output(options.output, table, cluster_ids, confidences, safe=not options.keep_formulas)
    if options.report is not None:
        id_cols = () if id_col is None else (id_col,)
        shown = list(dict.fromkeys((*id_cols, *columns.used_columns())))
        try:
            write_report(
                options.report,
                source_name="standard input" if _is_std(options.input) else options.input.name,
                result=result,
                header=header,
                shown_columns=shown,
                rows=table.rows,
                label=lambda rid: (
                    labels[int(rid)] if id_col is not None else f"row {labels[int(rid)]}"
                ),
                cluster_label=lambda c: cluster_ids[min(int(m) for m in c.member_ids)],
                limit=options.report_limit,
            )
        except OSError as exc:
            raise CliError(
                f"{options.report}: cannot be written ({exc.strerror or 'I/O error'})"
            ) from None

    _warn(built.problems, table.long_rows, err)
    _warn_region(table, columns, built.problems, region, err)
    in_clusters = sum(len(c.member_ids) for c in result.clusters)
    entities = len(table.rows) - in_clusters + len(result.clusters)
    clusters = len(result.clusters)
    rows = len(table.rows)
    print(
        f"{rows} {'row' if rows == 1 else 'rows'} -> {entities} distinct "
        f"{'entity' if entities == 1 else 'entities'} "
        f"({clusters} {'cluster' if clusters == 1 else 'clusters'} of 2 or more rows "
        f"{'holds' if clusters == 1 else 'hold'} {in_clusters} rows); "
        f"wrote {_name(options.output)} in {time.perf_counter() - started:.1f} s",
        file=err,
    )
    return 0


def _assign(result: DedupResult, labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Each row's cluster id (its first row's label) and its confidence in that cluster."""
    cluster_ids = list(labels)
    confidences = [""] * len(labels)
    cluster: Cluster
    for cluster in result.clusters:
        members = [int(m) for m in cluster.member_ids]
        cid = labels[min(members)]
        best: dict[int, float] = {}
        for pair in cluster.pairs:
            for rid in (int(pair.a), int(pair.b)):
                best[rid] = max(best.get(rid, 0.0), pair.score)
        for m in members:
            cluster_ids[m] = cid
            confidences[m] = f"{best.get(m, cluster.confidence):.3f}"
    return cluster_ids, confidences
