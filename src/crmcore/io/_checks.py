"""What a column plan may have missed: unread columns that look like names, emails or phones.

The checks look at the header words and at a sample of cells, and report
column names and counts only, never a cell.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

import attrs

from crmcore.io._columns import ColumnPlan
from crmcore.io._headers import header_key
from crmcore.io._records import CellProblems
from crmcore.io._tables import Table

__all__ = ["Lookalike", "lookalike_columns", "national_phones_unread", "phone_region_hint"]

_SAMPLE_ROWS = 500

# Header fragments (after header_key) of names, e-mails and phones, in the languages read.
_NAME_WORDS = ("name", "namn", "nama")
_EMAIL_WORDS = ("mail", "epost", "surel")
_PHONE_WORDS = ("phone", "tel", "mobil", "handy", "ponsel", "handphone", "fon", "telp")
# Numbers the recognised headers leave out on purpose: not a way to reach the person.
_NOT_THEIR_PHONE = ("fax", "pager", "assistant", "telex", "isdn")
_PHONE_CELL = re.compile(r"[+(0][0-9 ()./-]{6,}")
_EMAIL_CELL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@attrs.frozen
class Lookalike:
    """A column no field reads that looks like one.

    Attributes:
        column: the column's header.
        kind: ``"name"``, ``"email"`` or ``"phone"``.
        field: the field to map it to (``--map FIELD=COLUMN``).
    """

    column: str
    kind: str
    field: str


def _sample(table: Table, index: int) -> list[str]:
    cells = (row[index].strip() for row in table.rows[:_SAMPLE_ROWS] if index < len(row))
    return [cell for cell in cells if cell]


def _most(cells: Sequence[str], pattern: re.Pattern[str]) -> bool:
    return bool(cells) and sum(1 for c in cells if pattern.fullmatch(c)) * 2 > len(cells)


def lookalike_columns(table: Table, plan: ColumnPlan) -> list[Lookalike]:
    """The unread columns with data that look like e-mails, phones, or (when no name is read) names.

    An e-mail column is one where most sampled cells are addresses; a phone
    column one whose header says phone (or mobile, Telefon, HP...) or whose cells
    are mostly numbers starting ``+``, ``0`` or ``(`` (a fax, pager or
    assistant's number is not the person's, and is left out); a name column one whose
    header says name (namn, nama), reported only when no name field is read at all.
    Empty columns lose nothing and are never reported.
    """
    used = set(plan.used_columns())
    has_name = any(plan.get(f) for f in ("name", "given_name", "family_name"))
    found: list[Lookalike] = []
    for index, column in enumerate(table.header):
        if index in used:
            continue
        cells = _sample(table, index)
        if not cells:
            continue
        key = header_key(column)
        if _most(cells, _EMAIL_CELL):
            found.append(Lookalike(column, "email", "email"))
        elif not any(w in key for w in _NOT_THEIR_PHONE) and (
            _most(cells, _PHONE_CELL)
            or (
                any(w in key for w in _PHONE_WORDS)
                and sum(1 for c in cells if sum(ch.isdigit() for ch in c) >= 6) * 2 > len(cells)
            )
        ):
            found.append(Lookalike(column, "phone", "phone"))
        elif not has_name and any(w in key for w in _NAME_WORDS):
            found.append(Lookalike(column, "name", "name"))
    return found


def phone_region_hint(table: Table, plan: ColumnPlan, problems: CellProblems) -> bool:
    """Whether most phone cells could not be read and most of those lack a leading ``+``.

    That is what numbers written nationally (``070-123 45 67``) look like when
    no region is known for their rows: the caller should suggest a default
    region (``--region``) or a country column.
    """
    return national_phones_unread(
        table,
        ((index, problems.by_column.get(table.header[index], ())) for index in plan.get("phone")),
    )


def national_phones_unread(table: Table, failed: Iterable[tuple[int, Collection[int]]]) -> bool:
    """:func:`phone_region_hint` for a caller that knows the failed rows in its own terms.

    ``crmcore import`` rejects whole rows and names their fields, not their
    columns, so it gives the same rows for every phone column; dedupe gives each
    column's own (through :func:`phone_region_hint`).

    Args:
        table: the rows read (each padded to the header's width).
        failed: for each phone column, its index and the numbers of the rows
            (the header being row 1) whose phone in it could not be read.

    Returns:
        Whether most filled phone cells failed and most failed ones have no
        leading ``+`` or ``00``.
    """
    filled = failures = national = 0
    for index, rows in failed:
        failed_rows = set(rows)
        for number, row in enumerate(table.rows, start=2):
            cell = row[index].strip()
            if cell:
                filled += 1
                if number in failed_rows:
                    failures += 1
                    national += not cell.startswith(("+", "00"))
    return filled > 0 and failures * 2 > filled and national * 2 > failures
