"""What the importers of customers, leads and interactions share: the report, chunks, rejects."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from crmcore.audit import AuditAction, audited
from crmcore.errors import ValidationError
from crmcore.io._columns import ColumnPlan, column_index
from crmcore.io._errors import ColumnError
from crmcore.io._records import RowFields, _parse_table
from crmcore.io._tables import Table

if TYPE_CHECKING:
    from crmcore.storage import Store
    from crmcore.values import EmailAddress, PhoneNumber

T = TypeVar("T")

__all__ = ["Flag", "ImportReport", "Reject", "in_chunks", "split_mapped", "write_rejects"]


@attrs.frozen
class Reject:
    """A row that was not imported: its number (the header is row 1), the field and why."""

    row: int
    field: str
    reason: str


@attrs.frozen
class Flag:
    """A row that matched: the record it became (or was merged or skipped for) and its matches.

    Attributes:
        row: the row number (the header is row 1).
        record_id: the record stored for the row (under ``skip``: ``""``).
        matches: the ids of the stored records (or earlier rows' records) it matches.
        merge_id: under ``merge``, the merge that folded the row into ``matches[0]``.
        decision: ``match`` (the policy acted on it), ``possible`` (a POSSIBLE
            match, for a person to review: the row is stored under every
            policy, never merged or skipped) or ``suppressed`` (under
            ``suppression=ALERT``, a contact point of the row is on the
            suppression list; ``matches`` is empty, ``record_id`` is the
            record built for the row).
    """

    row: int
    record_id: str
    matches: tuple[str, ...]
    merge_id: str | None = None
    decision: str = "match"


@attrs.frozen
class ImportReport:
    """What an import did, row by row accounted for.

    ``imported + merged + skipped + rejected == rows``; ``flagged`` counts the
    imported rows that matched (under ``alert``) and ``already_imported`` the
    skipped rows whose source id was already stored (a re-run, a resumed run).

    Attributes:
        entity: ``customers``, ``leads`` or ``interactions``.
        rows: the data rows read.
        imported: rows stored as new records.
        merged: rows stored and merged into the record they match.
        skipped: rows not stored: duplicates under ``skip``, and rows already imported.
        rejected: rows that could not be read (see ``rejects``).
        flagged: imported rows that match another record (under ``alert``).
        already_imported: skipped rows whose source id was already stored.
        organizations_created: organisation customers created for the employers named.
        source: the identifier scheme of the row ids (``source:<name>``).
        dry_run: nothing was written.
        rejects: each rejected row, in row order.
        flags: each row that matched, in row order.
        unread_columns: columns nothing reads (interactions, which have no custom fields).
    """

    entity: str
    rows: int
    imported: int
    merged: int
    skipped: int
    rejected: int
    flagged: int
    already_imported: int
    organizations_created: int
    source: str
    dry_run: bool
    rejects: tuple[Reject, ...] = ()
    flags: tuple[Flag, ...] = ()
    unread_columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``crmcore import --format json`` prints)."""
        return {
            "entity": self.entity,
            "rows": self.rows,
            "imported": self.imported,
            "merged": self.merged,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "flagged": self.flagged,
            "already_imported": self.already_imported,
            "organizations_created": self.organizations_created,
            "source": self.source,
            "dry_run": self.dry_run,
            "rejects": [attrs.asdict(r) for r in self.rejects],
            "flags": [attrs.asdict(f) for f in self.flags],
            "unread_columns": list(self.unread_columns),
        }


class DryRun(Exception):
    """Raised to roll back the whole run's transaction."""


def in_chunks(
    store: Store,
    total: int,
    batch_size: int,
    chunk: Callable[[range], None],
    progress: Callable[[int, int], None] | None,
    *,
    dry_run: bool,
) -> None:
    """Call ``chunk`` on each ``batch_size`` rows, each call in its own transaction.

    A dry run wraps them all in one transaction that is rolled back: the
    counts are those a real run would give (later chunks see the earlier
    ones), and nothing stays.
    """

    def run() -> None:
        if progress is not None:
            progress(0, total)
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            # One audit entry per batch: every row it wrote, as one IMPORT.
            with audited(store, AuditAction.IMPORT, operation="import"):
                chunk(range(start, stop))
            if progress is not None:
                progress(stop, total)

    if not dry_run:
        run()
        return
    try:
        with store.transaction():
            run()
            raise DryRun
    except DryRun:
        pass


@attrs.define
class Tally:
    imported: int = 0
    merged: int = 0
    skipped: int = 0
    already: int = 0
    organizations: int = 0
    rejects: list[Reject] = attrs.Factory(list)
    flags: list[Flag] = attrs.Factory(list)


def header_key(header: str) -> str:
    return re.sub(r"[\W_]+", "", header.casefold())


TAG_HEADERS = frozenset({"tags", "tag", "labels"})
"""Headers (as :func:`header_key` gives them) of a column of tags, read without a mapping."""
_TAG_SPLIT = re.compile(r"[;,]")


def row_tags(row: Sequence[str], cols: Sequence[int]) -> list[str]:
    """The tags in a row's tag columns, a cell holding several separated by ``;`` or ``,``."""
    return [t.strip() for i in cols if i < len(row) for t in _TAG_SPLIT.split(row[i]) if t.strip()]


def row_custom(row: Sequence[str], cols: Sequence[tuple[int, str]]) -> dict[str, str]:
    """A row's cells kept as custom fields, by key; empty cells left out."""
    return {key: row[i].strip() for i, key in cols if i < len(row) and row[i].strip()}


def custom_key(header: str, taken: set[str]) -> str:
    """The custom-field key a column is kept under: its header, made a key, unique in ``taken``."""
    key = re.sub(r"[^A-Za-z0-9_.:-]+", "_", header).strip("_")[:60] or "column"
    base, n = key, 2
    while key in taken:
        key = f"{base}_{n}"
        n += 1
    taken.add(key)
    return key


def split_mapped(
    header: Sequence[str], mapped: Iterable[tuple[str, str]], own: Mapping[str, str]
) -> tuple[list[tuple[str, str]], dict[str, list[int]]]:
    """The ``(field, column)`` pairs for :func:`plan_columns`, and the columns of ``own`` fields.

    Raises:
        ColumnError: a column of an ``own`` field is not in ``header``.
    """
    rest: list[tuple[str, str]] = []
    mine: dict[str, list[int]] = {}
    for field, column in mapped:
        if field in own:
            try:
                mine.setdefault(field, []).append(column_index(header, column))
            except ColumnError as exc:
                raise ColumnError(field, column, exc.reason) from None
        else:
            rest.append((field, column))
    return rest, mine


def source_ids(
    table: Table, id_col: int | None, id_name: str
) -> tuple[list[str | None], dict[int, Reject]]:
    """Each row's source id (``None`` when rejected) and the rejects, by row number."""
    out: list[str | None] = []
    rejects: dict[int, Reject] = {}
    first: dict[str, int] = {}
    for index, row in enumerate(table.rows):
        number = index + 2
        if id_col is None:
            out.append(f"row:{number}")
            continue
        value = " ".join(row[id_col].split())
        reason = None
        if not value:
            reason = "is empty; every row needs its id"
        elif len(value) > 200 or not value.isprintable():
            reason = "is not a usable id (over 200 characters or unprintable)"
        elif value in first:
            reason = f"repeats the id of row {first[value]}"
        if reason is None:
            first[value] = number
            out.append(value)
        else:
            rejects[number] = Reject(number, id_name, reason)
            out.append(None)
    return out, rejects


@attrs.frozen
class ParsedRows:
    """What every importer reads from its rows before it builds records.

    Attributes:
        source_ids: each row's source id, ``None`` where the id is rejected.
        fields: each row's fields but its emails and phones.
        contacts: each row's emails and phones.
        id_rejects: by row number, the rows whose id cannot be used.
        cell_rejects: by row number, the rows with a cell that cannot be read.
    """

    source_ids: list[str | None]
    fields: list[RowFields]
    contacts: list[tuple[tuple[EmailAddress, ...], tuple[PhoneNumber, ...]]]
    id_rejects: dict[int, Reject]
    cell_rejects: dict[int, Reject]


def parse_rows(
    table: Table,
    plan: ColumnPlan,
    id_col: int | None,
    id_name: str,
    *,
    region: str | None,
    workers: int | None,
) -> ParsedRows:
    """Read every row's source id and the cells ``plan`` feeds; nothing is dropped yet."""
    row_ids, id_rejects = source_ids(table, id_col, id_name)
    fields, contacts, problems, _ = _parse_table(table, plan, region=region, workers=workers)
    cell_rejects = problem_rejects(table, plan, problems.by_column)
    return ParsedRows(row_ids, fields, contacts, id_rejects, cell_rejects)


def pending(
    indexes: range, ids: Sequence[str | None], rejected: Mapping[int, Reject], tally: Tally
) -> list[tuple[int, int, str]]:
    """The rows of ``indexes`` still to build, as (index, row number, source id).

    The rejected ones are tallied; a row without a source id had its reject
    tallied with the id's.
    """
    todo: list[tuple[int, int, str]] = []
    for index in indexes:
        number = index + 2
        reject = rejected.get(number)
        sid = ids[index]
        if reject is not None or sid is None:
            if reject is not None:
                tally.rejects.append(reject)
            continue
        todo.append((index, number, sid))
    return todo


def build_each(
    todo: Iterable[tuple[int, int, str]], build: Callable[[int, str], T], tally: Tally
) -> list[tuple[int, str, T]]:
    """``build(index, source id)`` of each row, as (row number, source id, record).

    A row whose record cannot be built is rejected whole, naming the field.
    """
    built: list[tuple[int, str, T]] = []
    for index, number, sid in todo:
        try:
            built.append((number, sid, build(index, sid)))
        except ValidationError as exc:
            field, reason = problems_text(exc)
            tally.rejects.append(Reject(number, field, reason))
    return built


def problem_rejects(
    table: Table, plan: ColumnPlan, by_column: Mapping[str, list[int]]
) -> dict[int, Reject]:
    """One reject per row with unreadable cells, naming the fields their columns feed."""
    field_of = {table.header[i]: field for field, cols in plan.fields.items() for i in cols}
    per_row: dict[int, list[str]] = {}
    for column, numbers in by_column.items():
        for number in numbers:
            per_row.setdefault(number, []).append(column)
    out: dict[int, Reject] = {}
    for number, columns in per_row.items():
        fields = list(dict.fromkeys(field_of.get(c, c) for c in columns))
        listed = ", ".join(repr(c) for c in columns)
        noun = "column" if len(columns) == 1 else "columns"
        out[number] = Reject(number, "; ".join(fields), f"{noun} {listed} cannot be read")
    return out


def problems_text(exc: ValidationError) -> tuple[str, str]:
    fields = "; ".join(dict.fromkeys(path for path, _ in exc.problems)) or "row"
    reasons = "; ".join(dict.fromkeys(message for _, message in exc.problems))
    return fields, reasons


def make_report(
    entity: str,
    rows: int,
    tally: Tally,
    scheme: str,
    dry_run: bool,
    unread: Sequence[str] = (),
) -> ImportReport:
    rejects = tuple(sorted(tally.rejects, key=lambda r: r.row))
    flags = tuple(sorted(tally.flags, key=lambda f: f.row))
    return ImportReport(
        entity=entity,
        rows=rows,
        imported=tally.imported,
        merged=tally.merged,
        skipped=tally.skipped,
        rejected=len(rejects),
        flagged=sum(1 for f in flags if f.record_id and f.merge_id is None),
        already_imported=tally.already,
        organizations_created=tally.organizations,
        source=scheme,
        dry_run=dry_run,
        rejects=rejects,
        flags=flags,
        unread_columns=tuple(unread),
    )


def write_rejects(path: Path, table: Table, rejects: Sequence[Reject]) -> None:
    """Write the rejected rows: their original cells, then ``row``, ``field`` and ``reason``.

    Cells a spreadsheet would run as a formula are neutralised (:func:`safe_cell`):
    the rejects file is the one a person opens to fix the rows.

    Raises:
        OSError: the file cannot be written.
    """
    from crmcore.io._writing import write_csv

    width = len(table.header)
    rows = (
        [
            *table.rows[r.row - 2][:width],
            str(r.row),
            r.field,
            r.reason,
            *table.rows[r.row - 2][width:],
        ]
        for r in rejects
    )
    write_csv(path, [*table.header, "row", "field", "reason"], rows, bom=table.had_bom)
