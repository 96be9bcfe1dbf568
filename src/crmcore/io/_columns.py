"""Which column of a table feeds which record field: header recognition and mappings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from crmcore.io._errors import ColumnError

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

# Headers recognised without a mapping, compared after case-folding and dropping
# everything that is not a letter or a digit ("First Name", "first_name" and
# "FIRSTNAME" all agree).
_AUTO_HEADERS: dict[str, str] = {
    **dict.fromkeys(["givenname", "firstname", "forename"], "given_name"),
    **dict.fromkeys(["familyname", "lastname", "surname"], "family_name"),
    **dict.fromkeys(["middlename", "middlenames"], "middle_name"),
    **dict.fromkeys(["name", "fullname"], "name"),
    **dict.fromkeys(["email", "emailaddress"], "email"),
    **dict.fromkeys(["phone", "mobile", "telephone", "phonenumber", "mobilephone", "tel"], "phone"),
    **dict.fromkeys(["company", "organization", "organisation", "companyname"], "company"),
    **dict.fromkeys(["city", "town"], "city"),
    **dict.fromkeys(["country", "countrycode"], "country"),
    **dict.fromkeys(["postcode", "postalcode", "zip", "zipcode"], "postcode"),
    **dict.fromkeys(["dateofbirth", "birthdate", "dob"], "birth_date"),
}


def _header_key(header: str) -> str:
    return re.sub(r"[\W_]+", "", header.casefold())


@attrs.frozen
class ColumnPlan:
    """Which column indexes feed each record field (see :data:`FIELDS`)."""

    fields: dict[str, tuple[int, ...]]

    def get(self, field: str) -> tuple[int, ...]:
        """The column indexes for ``field`` (empty when nothing feeds it)."""
        return self.fields.get(field, ())

    def used_columns(self) -> tuple[int, ...]:
        """Every column index that feeds some field, in header order."""
        return tuple(sorted({i for cols in self.fields.values() for i in cols}))


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


def plan_columns(header: Sequence[str], mapped: Iterable[tuple[str, str]] = ()) -> ColumnPlan:
    """Recognise common headers, then let ``(field, column)`` pairs replace them field by field.

    A column mapped explicitly to one field feeds no field it was recognised for.

    Raises:
        ColumnError: a field is unknown, a column is not in ``header``, or a
            single-valued field is mapped twice.
    """
    fields: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        field = _AUTO_HEADERS.get(_header_key(name))
        if field is None:
            continue
        if field in MULTI_VALUED or field not in fields:
            fields.setdefault(field, []).append(index)
    explicit: dict[str, list[int]] = {}
    for field, column in mapped:
        if field not in FIELDS:
            raise ColumnError(field, column, f"unknown field {field!r}")
        try:
            index = column_index(header, column)
        except ColumnError as exc:
            raise ColumnError(field, column, exc.reason) from None
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
    return ColumnPlan(result)
