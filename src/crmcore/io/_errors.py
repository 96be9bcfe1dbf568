"""The two ways a table can fail to be read as asked."""

from __future__ import annotations

from crmcore.errors import CrmError, ValidationError

__all__ = ["ColumnError", "EncodingError", "InputError"]


class InputError(CrmError):
    """A file that cannot be read as a table: missing, not UTF-8, not CSV, empty.

    The message names the file and, where it helps, a line or byte offset; never
    the content of a cell.
    """


class EncodingError(InputError):
    """A file that is not text in the encoding it was read with.

    The message names the file, the encoding and the offset of the first byte
    that does not fit, and the encodings to try; never the bytes themselves.

    Attributes:
        source: how the file is named (a path, ``<stdin>``).
        encoding: the encoding asked for, or ``None`` for the default (UTF-8).
        offset: the offset, in bytes from the start of the file, of the first bad byte.
    """

    def __init__(self, source: str, what: str, encoding: str | None, offset: int) -> None:
        self.source = source
        self.encoding = encoding
        self.offset = offset
        super().__init__(
            f"{self.problem}; give its encoding (such as cp1252, latin-1 or utf-16) "
            f"or save it as {what} UTF-8"
        )

    @property
    def problem(self) -> str:
        """What is wrong, without the advice: ``FILE: is not UTF-8 text (invalid byte at ...)``."""
        label = "UTF-8" if self.encoding in {None, "utf-8"} else self.encoding
        return f"{self.source}: is not {label} text (invalid byte at offset {self.offset})"


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
