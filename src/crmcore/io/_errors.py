"""The two ways a table can fail to be read as asked."""

from __future__ import annotations

from crmcore.errors import CrmError, ValidationError

__all__ = ["ColumnError", "InputError"]


class InputError(CrmError):
    """A file that cannot be read as a table: missing, not UTF-8, not CSV, empty.

    The message names the file and, where it helps, a line or byte offset; never
    the content of a cell.
    """


class ColumnError(ValidationError):
    """A column mapping that does not fit the header: an unknown column, a field mapped twice.

    Attributes:
        field: the record field being mapped (``city``), or ``""`` for a plain lookup.
        column: the column named, as given.
        reason: what is wrong, e.g. ``unknown column 'Town'``.
    """

    def __init__(self, field: str, column: str, reason: str) -> None:
        super().__init__(field or "column", reason)
        self.field = field
        self.column = column
        self.reason = reason
