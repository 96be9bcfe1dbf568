"""What the importers of customers, leads and interactions share: the report, chunks, rejects."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from crmcore.errors import ValidationError
from crmcore.io._columns import ColumnPlan, column_index
from crmcore.io._errors import ColumnError
from crmcore.io._tables import Table

if TYPE_CHECKING:
    from crmcore.storage import Store

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
        decision: ``match`` (the policy acted on it) or ``possible`` (a POSSIBLE
            match, for a person to review: the row is stored under every
            policy, never merged or skipped).
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
            with store.transaction():
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
    table: Table, id_col: int | None, id_name: str, tally: Tally
) -> tuple[list[str | None], set[int]]:
    """Each row's source id (``None`` when rejected) and the rows rejected for it."""
    out: list[str | None] = []
    bad: set[int] = set()
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
            tally.rejects.append(Reject(number, id_name, reason))
            bad.add(index)
            out.append(None)
    return out, bad


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
