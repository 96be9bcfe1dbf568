"""What an import will read from each column, told before any row is written."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from crmcore.errors import ValidationError
from crmcore.io._checks import Lookalike, lookalike_columns
from crmcore.io._import import _columns
from crmcore.io._import_interactions import interaction_columns
from crmcore.io._import_work import WORK_FIELDS, work_columns
from crmcore.io._tables import Table

__all__ = ["ImportColumns", "import_columns"]


@attrs.frozen
class ImportColumns:
    """The columns of an import: what each feeds, what is kept as it is, what looks unread.

    Attributes:
        read: ``(column, field)`` for every column a field reads, in header order.
        id_column: the column of row ids (``--id-column``), if one was given.
        custom: the columns kept as custom fields, as they are (customers and leads).
        unread: the columns nothing reads (interactions, which have no custom fields).
        lookalikes: columns left to custom fields or unread that look like a name,
            an email or a phone (map them with ``--map FIELD=COLUMN``).
    """

    read: tuple[tuple[str, str], ...]
    id_column: str | None
    custom: tuple[str, ...]
    unread: tuple[str, ...]
    lookalikes: tuple[Lookalike, ...]

    def describe(self) -> list[str]:
        """The plan as lines for a person: ``Förnamn -> given_name``, then the rest."""
        lines = [f"{column} -> {field}" for column, field in self.read]
        if self.id_column is not None:
            lines.append(f"{self.id_column} -> the row's source id")
        if self.custom:
            lines.append(f"kept as custom fields: {', '.join(self.custom)}")
        if self.unread:
            lines.append(f"not read: {', '.join(self.unread)}")
        return lines


def import_columns(
    table: Table,
    *,
    entity: str = "customers",
    mapped: Iterable[tuple[str, str]] = (),
    id_column: str | None = None,
) -> ImportColumns:
    """What :func:`~crmcore.io.import_table` will read from ``table``'s columns, with
    the same arguments; nothing is read from the rows but a sample for ``lookalikes``.

    Raises:
        ColumnError: a mapping or ``id_column`` names a column that is not in the table.
        ValidationError: ``entity`` is not one the import knows, or (work items)
            no column holds a required field (naming ``columns``).
    """
    header = table.header
    mapped = list(mapped)
    if entity in WORK_FIELDS:
        work = work_columns(header, entity, mapped, id_column)
        by_work = {i: f for f, i in work.fields.items()} | dict.fromkeys(work.tags, "tags")
        # Work items have no contact columns to miss: no lookalikes to warn of.
        return ImportColumns(
            read=tuple((header[i], by_work[i]) for i in sorted(by_work)),
            id_column=None if work.id_col is None else header[work.id_col],
            custom=tuple(header[i] for i, _ in work.custom),
            unread=(),
            lookalikes=(),
        )
    if entity == "interactions":
        plan, cols, id_col, unread = interaction_columns(header, mapped, id_column)
        by_index = {i: f for f, i in cols.items()}
        custom: tuple[str, ...] = ()
    elif entity in ("customers", "leads"):
        columns = _columns(table, entity, mapped, id_column)
        plan, id_col = columns.plan, columns.id_col
        by_index = dict.fromkeys(columns.tags, "tags")
        custom = tuple(header[i] for i, _ in columns.custom)
        unread = []
    else:
        raise ValidationError(
            "entity", "must be customers, leads, interactions, opportunities, tasks or cases"
        )
    by_index.update((i, f) for f, indexes in plan.fields.items() for i in indexes)
    read = tuple((header[i], by_index[i]) for i in sorted(by_index))
    taken = set(by_index) | ({id_col} if id_col is not None else set())
    lookalikes = tuple(
        found for found in lookalike_columns(table, plan) if header.index(found.column) not in taken
    )
    return ImportColumns(
        read=read,
        id_column=None if id_col is None else header[id_col],
        custom=custom,
        unread=tuple(unread),
        lookalikes=lookalikes,
    )
