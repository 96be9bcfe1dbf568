"""Which column of a table feeds which record field: header recognition and mappings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from crmcore.io._errors import ColumnError
from crmcore.io._headers import ADDRESS_FIELDS, header_field

__all__ = ["FIELDS", "MULTI_VALUED", "ColumnPlan", "column_index", "plan_columns"]

# Field name -> what it means; the names a mapping (`--map FIELD=COLUMN`) accepts.
FIELDS: dict[str, str] = {
    "given_name": "given (first) name",
    "family_name": "family name (surname)",
    "middle_name": "middle name(s)",
    "name": "full name as typed, split into parts when no given/family name is present",
    "email": "email address; several columns allowed, a cell may hold several separated by ; or ,",
    "phone": "phone number; several columns allowed, a cell may hold several separated by ;",
    "company": "organisation name (the employer of a person, or the organisation itself)",
    "street_number": "house number, put in front of the first address line",
    "address": "address line; several columns allowed, in order",
    "city": "city, town or suburb",
    "postcode": "postal code",
    "state": "state, province or county",
    "country": "country: ISO 3166 alpha-2 code or English country name; sets the phone region",
    "birth_date": "date of birth: YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD or DD.MM.YYYY",
    "identifier": "an external identifier (national id, VAT number, ...); the scheme is the "
    "column name; several columns allowed",
}
"""Every record field a column can feed, with what it means (docs/io.md lists them)."""

MULTI_VALUED = frozenset({"email", "phone", "address", "identifier"})
"""The fields that several columns may feed at once."""


@attrs.frozen
class ColumnPlan:
    """Which column indexes feed each record field (see :data:`FIELDS`).

    Attributes:
        fields: field name -> the indexes of the columns feeding it, in order.
        header: the header the plan was made for (``()`` when built by hand);
            :meth:`describe` names columns by it.
    """

    fields: dict[str, tuple[int, ...]]
    header: tuple[str, ...] = ()

    def get(self, field: str) -> tuple[int, ...]:
        """The column indexes for ``field`` (empty when nothing feeds it)."""
        return self.fields.get(field, ())

    def used_columns(self) -> tuple[int, ...]:
        """Every column index that feeds some field, in header order."""
        return tuple(sorted({i for cols in self.fields.values() for i in cols}))

    def read_columns(self) -> list[tuple[str, str]]:
        """``(column, field)`` for every column read, in header order."""
        by_index = sorted((i, field) for field, cols in self.fields.items() for i in cols)
        return [(self._column(i), field) for i, field in by_index]

    def untouched_columns(self) -> list[str]:
        """The columns no field reads, in header order: carried along, never compared."""
        used = set(self.used_columns())
        return [self._column(i) for i in range(len(self.header)) if i not in used]

    def describe(self) -> list[str]:
        """The plan as lines for a person: ``Förnamn -> given_name``, then the untouched columns.

        >>> plan_columns(("Förnamn", "E-post", "Kundnr")).describe()
        ['Förnamn -> given_name', 'E-post -> email', 'carried untouched: Kundnr']
        """
        lines = [f"{column} -> {field}" for column, field in self.read_columns()]
        untouched = self.untouched_columns()
        if untouched:
            lines.append(f"carried untouched: {', '.join(untouched)}")
        return lines

    def _column(self, index: int) -> str:
        if index < len(self.header) and self.header[index]:
            return self.header[index]
        return f"column {index + 1}"


def column_index(header: Sequence[str], column: str) -> int:
    """The index of ``column`` in ``header``: exact match first, then case-insensitive.

    Raises:
        ColumnError: no column has that name.
    """
    if column in header:
        return header.index(column)
    folded = [h.casefold() for h in header]
    if column.casefold() in folded:
        return folded.index(column.casefold())
    raise ColumnError("", column, f"unknown column {column!r}")


def mapped_column(header: Sequence[str], field: str, column: str, known: Iterable[str]) -> int:
    """The index of the column a ``(field, column)`` mapping names.

    Raises:
        ColumnError: ``field`` is not one of ``known``, or ``column`` is not in ``header``.
    """
    if field not in known:
        raise ColumnError(field, column, f"unknown field {field!r}")
    try:
        return column_index(header, column)
    except ColumnError as exc:
        raise ColumnError(field, column, exc.reason) from None


def plan_columns(header: Sequence[str], mapped: Iterable[tuple[str, str]] = ()) -> ColumnPlan:
    """Recognise common headers, then let ``(field, column)`` pairs replace them field by field.

    Headers are recognised in English, Swedish, German and Indonesian, and as
    HubSpot, Salesforce, Odoo, Google Contacts and Outlook export them
    (:data:`~crmcore.io.HEADER_ALIASES`), ignoring case, diacritics, spaces and
    punctuation. The address fields are read from one group of columns (the
    first seen of Outlook's business, home and other addresses, or Google's
    ``Address 1``, ``Address 2``).

    A column mapped explicitly to one field feeds no field it was recognised for.

    Raises:
        ColumnError: a field is unknown, a column is not in ``header``, or a
            single-valued field is mapped twice.
    """
    fields: dict[str, list[int]] = {}
    address_group: str | None = None
    for index, name in enumerate(header):
        found = header_field(name)
        if found is None:
            continue
        field, group = found
        if field in ADDRESS_FIELDS and group:
            # One address from one group: the first group seen (Outlook's business
            # columns come before its home ones); a generic column joins any group.
            if address_group is None:
                address_group = group
            elif group != address_group:
                continue
        if field in MULTI_VALUED or field not in fields:
            fields.setdefault(field, []).append(index)
    explicit: dict[str, list[int]] = {}
    for field, column in mapped:
        index = mapped_column(header, field, column, FIELDS)
        if field not in MULTI_VALUED and field in explicit:
            raise ColumnError(field, column, f"field {field!r} is mapped more than once")
        if index not in explicit.get(field, []):
            explicit.setdefault(field, []).append(index)
    claimed = {i for cols in explicit.values() for i in cols}
    result: dict[str, tuple[int, ...]] = {}
    for field, cols in fields.items():
        kept = tuple(i for i in cols if i not in claimed)
        if kept and field not in explicit:
            result[field] = kept
    result.update({field: tuple(cols) for field, cols in explicit.items()})
    return ColumnPlan(result, tuple(header))
