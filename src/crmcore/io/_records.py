"""Table rows to records, in three named steps: regions and values, cells, records.

:func:`match_records` is the fast path for matching a whole table: every
distinct email and phone is parsed once (in worker processes when that pays),
names, companies and addresses are validated once per distinct value, and
full :class:`~crmcore.Customer` entities are never made. :func:`row_to_customer`
and :func:`row_to_lead` read one row with the same rules and build the entity
with its model constructor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import attrs

from crmcore._validation import Problems
from crmcore.customers import Customer, CustomerKind
from crmcore.dedup.records import MatchRecord, RecordType
from crmcore.errors import ValidationError
from crmcore.io import parsing
from crmcore.io._columns import ColumnPlan, plan_columns
from crmcore.io._regions import country_code
from crmcore.io._tables import Table
from crmcore.leads import Lead
from crmcore.values import EmailAddress, PersonName, PhoneNumber, PostalAddress, optional_text

__all__ = [
    "CellProblems",
    "RecordBuild",
    "RowFields",
    "match_records",
    "row_to_customer",
    "row_to_lead",
]

# Distinct values handed to the workers at a time while the rows are read.
_BATCH = 4_096

_EMAIL_SPLIT = re.compile(r"[;,]")


class CellProblems(Problems):
    """Cells that could not be read, by column: row numbers only, never values.

    Rows are numbered as in a file whose header is row 1 (so the first data row
    is row 2). :meth:`raise_if_any` raises one ValidationError naming the columns.
    """

    __slots__ = ("by_column",)

    def __init__(self) -> None:
        super().__init__()
        self.by_column: dict[str, list[int]] = {}

    def add_cell(self, column: str, row_number: int) -> None:
        """Note that ``column`` could not be read on ``row_number``."""
        rows = self.by_column.setdefault(column, [])
        if not rows or rows[-1] != row_number:
            rows.append(row_number)
            self.add(column, f"cannot be read (row {row_number})")

    @property
    def rows(self) -> set[int]:
        """Every row number with at least one problem."""
        return {r for rows in self.by_column.values() for r in rows}

    def __bool__(self) -> bool:
        return bool(self.by_column)


@attrs.frozen
class RecordBuild:
    """The match records (id = the row's 0-based index as text) and the problems found."""

    records: list[MatchRecord]
    problems: CellProblems
    distinct_emails: int
    distinct_phones: int


@attrs.frozen
class RowFields:
    """What one row says besides its emails and phones, each value validated."""

    name: PersonName | None
    organization: str | None
    addresses: tuple[PostalAddress, ...]
    birth_date: date | None
    identifiers: dict[str, str]


def _identifier_scheme(column: str) -> str:
    scheme = re.sub(r"[^A-Za-z0-9_.:-]+", "_", column).strip("_")[:64]
    return scheme or "id"


def _cell(row: Sequence[str], cols: Sequence[int]) -> str:
    for i in cols:
        value = row[i].strip()
        if value:
            return value
    return ""


# ------------------------------------------------------------- step 1: regions and values


@attrs.define
class _Scan:
    regions: list[str | None]
    row_phones: list[list[tuple[int, str, parsing.PhoneKey]]]
    distinct_emails: int
    distinct_phones: int


def _scan_values(
    table: Table,
    plan: ColumnPlan,
    job: parsing.ParseJob,
    problems: CellProblems,
    region: str | None,
    region_column: int | None,
) -> _Scan:
    """Each row's phone region, and the distinct emails and phones, fed to ``job`` in batches."""
    header = table.header
    country_cols = plan.get("country")
    email_cols = plan.get("email")
    phone_cols = plan.get("phone")
    new_emails: list[str] = []
    new_phones: list[parsing.PhoneKey] = []
    regions: list[str | None] = []
    email_set: dict[str, None] = {}
    phone_set: dict[parsing.PhoneKey, None] = {}
    row_phones: list[list[tuple[int, str, parsing.PhoneKey]]] = []  # so step 3 need not re-key
    for index, row in enumerate(table.rows):
        row_region = None
        country = _cell(row, country_cols)
        if country:
            row_region = country_code(country)
            if row_region is None:
                problems.add_cell(header[country_cols[0]], index + 2)
        if row_region is None and region_column is not None:
            value = row[region_column].strip()
            if value:
                row_region = country_code(value)
                if row_region is None:
                    problems.add_cell(header[region_column], index + 2)
        if row_region is None:
            row_region = region
        regions.append(row_region)
        for i in email_cols:
            cell = row[i]
            if cell:
                for part in _EMAIL_SPLIT.split(cell):
                    part = part.strip()
                    if part and part not in email_set:
                        email_set[part] = None
                        new_emails.append(part)
        found: list[tuple[int, str, parsing.PhoneKey]] = []
        for i in phone_cols:
            cell = row[i]
            if cell:
                for part in cell.split(";"):
                    part = part.strip()
                    if part:
                        pkey = parsing.phone_key(part, row_region)
                        if pkey not in phone_set:
                            phone_set[pkey] = None
                            new_phones.append(pkey)
                        found.append((i, part, pkey))
        row_phones.append(found)
        if len(new_emails) + len(new_phones) >= _BATCH:
            job.add(new_emails, new_phones)
            new_emails, new_phones = [], []
    job.add(new_emails, new_phones)
    return _Scan(regions, row_phones, len(email_set), len(phone_set))


# ------------------------------------------------------------- step 2: the other cells


def _read_cells(
    table: Table, plan: ColumnPlan, regions: Sequence[str | None], problems: CellProblems
) -> list[RowFields]:
    """Names, companies, addresses, birth dates and identifiers of every row."""
    header = table.header
    country_cols = plan.get("country")
    given_cols = plan.get("given_name")
    family_cols = plan.get("family_name")
    middle_cols = plan.get("middle_name")
    name_cols = plan.get("name")
    company_cols = plan.get("company")
    birth_cols = plan.get("birth_date")
    identifier_cols = [(i, _identifier_scheme(header[i])) for i in plan.get("identifier")]
    address_cols = _AddressColumns.of(plan)
    address_cache: dict[tuple[object, ...], PostalAddress | list[tuple[str, str]]] = {}

    # Names, companies and addresses repeat too (common names, one city for many rows):
    # each distinct one is validated once. A cached exception replays its problems.
    names: dict[tuple[str, str, str], PersonName | ValidationError] = {}
    full_names: dict[str, PersonName | None] = {}
    companies: dict[str, str | None] = {}

    out: list[RowFields] = []
    for index, row in enumerate(table.rows):
        row_number = index + 2
        name = None
        given = _cell(row, given_cols)
        family = _cell(row, family_cols)
        if given or family:
            key = (given, family, _cell(row, middle_cols))
            cached = names.get(key)
            if cached is None:
                try:
                    cached = PersonName.from_columns(given, key[2], family)
                except ValidationError as exc:
                    cached = exc
                names[key] = cached
            if isinstance(cached, ValidationError):
                _name_problems(cached, row_number, header, problems, given_cols, family_cols)
            else:
                name = cached
        if name is None:
            full = _cell(row, name_cols)
            if full:
                if full not in full_names:
                    try:
                        full_names[full] = PersonName.parse(full)
                    except ValidationError:
                        full_names[full] = None
                name = full_names[full]
                if name is None:
                    problems.add_cell(header[name_cols[0]], row_number)

        organization = None
        company = _cell(row, company_cols)
        if company:
            if company not in companies:
                try:
                    companies[company] = optional_text(company, "company")
                except ValidationError:
                    companies[company] = None
            organization = companies[company]
            if organization is None:
                problems.add_cell(header[company_cols[0]], row_number)

        addresses: tuple[PostalAddress, ...] = ()
        if address_cols:
            address = _address(
                address_cache,
                row,
                row_number,
                header,
                problems,
                address_cols,
                regions[index] if _cell(row, country_cols) else None,
            )
            if address is not None:
                addresses = (address,)

        birth_date = None
        born = _cell(row, birth_cols)
        if born:
            birth_date = parsing.parse_birth_date(born)
            if birth_date is None:
                problems.add_cell(header[birth_cols[0]], row_number)

        identifiers: dict[str, str] = {}
        for i, scheme in identifier_cols:
            value = row[i].strip()
            if value:
                if len(value) > 200 or not value.isprintable():
                    problems.add_cell(header[i], row_number)
                else:
                    identifiers[scheme] = " ".join(value.split())

        out.append(RowFields(name, organization, addresses, birth_date, identifiers))
    return out


def _name_problems(
    exc: ValidationError,
    row_number: int,
    header: Sequence[str],
    problems: CellProblems,
    given_cols: Sequence[int],
    family_cols: Sequence[int],
) -> None:
    paths = {path.split(".")[-1] for path, _ in exc.problems}
    if "family" in paths and family_cols:
        problems.add_cell(header[family_cols[0]], row_number)
    if ("family" not in paths or paths - {"family"}) and given_cols:
        problems.add_cell(header[given_cols[0]], row_number)
    elif not given_cols and family_cols and "family" not in paths:
        problems.add_cell(header[family_cols[0]], row_number)


@attrs.frozen
class _AddressColumns:
    street_number: tuple[int, ...]
    lines: tuple[int, ...]
    city: tuple[int, ...]
    postcode: tuple[int, ...]
    state: tuple[int, ...]

    @classmethod
    def of(cls, plan: ColumnPlan) -> _AddressColumns:
        fields = ("street_number", "address", "city", "postcode", "state")
        return cls(*(plan.get(field) for field in fields))

    def __bool__(self) -> bool:
        # A state alone makes no address.
        return bool(self.lines or self.street_number or self.city or self.postcode)


def _address(
    cache: dict[tuple[object, ...], PostalAddress | list[tuple[str, str]]],
    row: Sequence[str],
    row_number: int,
    header: Sequence[str],
    problems: CellProblems,
    cols: _AddressColumns,
    country: str | None,
) -> PostalAddress | None:
    street_number_cols, address_cols = cols.street_number, cols.lines
    city_cols, postcode_cols, state_cols = cols.city, cols.postcode, cols.state
    lines = [row[i].strip() for i in address_cols]
    lines = [line for line in lines if line]
    number = _cell(row, street_number_cols)
    if number:
        lines = [f"{number} {lines[0]}" if lines else number, *lines[1:]]
    locality = _cell(row, city_cols) or None
    postal_code = _cell(row, postcode_cols) or None
    if not (lines or locality or postal_code):
        return None
    key = (tuple(lines), locality, _cell(row, state_cols) or None, postal_code, country)
    found = cache.get(key)
    if found is None:
        try:
            found = PostalAddress(
                lines=key[0],
                locality=locality,
                region=key[2],
                postal_code=postal_code,
                country=country,
            )
        except ValidationError as exc:
            found = list(exc.problems)
        cache[key] = found
    if isinstance(found, PostalAddress):
        return found
    if found:
        where = {
            "locality": city_cols,
            "region": state_cols,
            "postal_code": postcode_cols,
            "country": (),
        }
        for path, _ in found:
            fed_by: Iterable[int] = where.get(path, (*street_number_cols, *address_cols))
            for i in fed_by:
                if row[i].strip():
                    problems.add_cell(header[i], row_number)
                    break
    return None


# ------------------------------------------------------------- step 3: the records


def _row_contacts(
    table: Table,
    plan: ColumnPlan,
    index: int,
    phones_found: Sequence[tuple[int, str, parsing.PhoneKey]],
    emails: Mapping[str, EmailAddress],
    phone_map: Mapping[parsing.PhoneKey, parsing.PhoneResult],
    problems: CellProblems,
) -> tuple[tuple[EmailAddress, ...], tuple[PhoneNumber, ...]]:
    """One row's emails and phones, from the parsed distinct values, without repeats."""
    header = table.header
    row = table.rows[index]
    row_number = index + 2
    found_emails: list[EmailAddress] = []
    for i in plan.get("email"):
        cell = row[i]
        if not cell:
            continue
        for part in _EMAIL_SPLIT.split(cell):
            part = part.strip()
            if not part:
                continue
            email = emails.get(part)
            if email is None:
                problems.add_cell(header[i], row_number)
            elif email not in found_emails:
                found_emails.append(email)
    found_phones: list[PhoneNumber] = []
    for i, part, pkey in phones_found:
        parsed = phone_map.get(pkey)
        if parsed is None:
            problems.add_cell(header[i], row_number)
            continue
        phone = PhoneNumber.trusted(parsed[0], parsed[1], part)
        if phone not in found_phones:
            found_phones.append(phone)
    return tuple(found_emails), tuple(found_phones)


def _record_type(fields: RowFields) -> RecordType:
    """A person when the row names one; an organisation when it names only a company."""
    if fields.name is None and fields.organization is not None:
        return RecordType.ORGANIZATION
    return RecordType.PERSON


def _parse_table(
    table: Table,
    plan: ColumnPlan,
    *,
    region: str | None,
    workers: int | None,
    region_column: int | None = None,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> tuple[
    list[RowFields],
    list[tuple[tuple[EmailAddress, ...], tuple[PhoneNumber, ...]]],
    CellProblems,
    _Scan,
]:
    problems = CellProblems()
    job = parsing.ParseJob(
        [],
        [],
        workers=workers or parsing.default_workers(),
        advance=advance,
        parallel=len(table.rows) >= parsing.PARALLEL_THRESHOLD,
    )
    try:
        scan = _scan_values(table, plan, job, problems, region, region_column)
        if on_total:
            on_total(scan.distinct_emails + scan.distinct_phones)
        # The workers parse emails and phones meanwhile.
        fields = _read_cells(table, plan, scan.regions, problems)
        email_map, phone_map = job.result()
    except BaseException:
        # Interrupted or failed: the workers' results are not wanted, stop them now.
        job.close(kill=True)
        raise
    finally:
        job.close()
    emails = {t: EmailAddress.trusted(*r) for t, r in email_map.items() if r is not None}
    contacts = [
        _row_contacts(table, plan, index, scan.row_phones[index], emails, phone_map, problems)
        for index in range(len(table.rows))
    ]
    return fields, contacts, problems, scan


def match_records(
    table: Table,
    plan: ColumnPlan,
    *,
    region: str | None = None,
    region_column: int | None = None,
    workers: int | None = None,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> RecordBuild:
    """Turn every row into a :class:`~crmcore.dedup.MatchRecord`; unreadable cells are problems.

    A row's phone region is its ``country`` cell when that names a country,
    else the ``region_column`` cell, else ``region``. A cell that cannot be
    read never drops its row: the record holds what could be read.

    Args:
        table: the rows.
        plan: which columns feed which field (:func:`plan_columns`).
        region: the default phone region (ISO 3166 alpha-2).
        region_column: index of a column holding each row's region.
        workers: processes for parsing emails and phones (default: every core).
        advance: called with the number of distinct values parsed, as they are.
        on_total: called once with the number of distinct values to parse.
    """
    fields, contacts, problems, scan = _parse_table(
        table,
        plan,
        region=region,
        region_column=region_column,
        workers=workers,
        advance=advance,
        on_total=on_total,
    )
    records = [
        MatchRecord(
            id=str(index),
            type=_record_type(row),
            name=row.name,
            organization=row.organization,
            emails=row_emails,
            phones=row_phones,
            addresses=row.addresses,
            birth_date=row.birth_date,
            identifiers=row.identifiers,
        )
        for index, (row, (row_emails, row_phones)) in enumerate(zip(fields, contacts, strict=True))
    ]
    return RecordBuild(records, problems, scan.distinct_emails, scan.distinct_phones)


def _one_row(
    row: Mapping[str, object], mapped: Iterable[tuple[str, str]], region: str | None
) -> tuple[RowFields, tuple[EmailAddress, ...], tuple[PhoneNumber, ...]]:
    table = Table.from_dicts([row])
    plan = plan_columns(table.header, mapped)
    fields, contacts, problems, _ = _parse_table(table, plan, region=region, workers=1)
    problems.raise_if_any()
    return fields[0], *contacts[0]


def row_to_customer(
    row: Mapping[str, object],
    *,
    mapped: Iterable[tuple[str, str]] = (),
    region: str | None = None,
) -> Customer:
    """One row (a dict of column -> cell) as a new :class:`~crmcore.Customer`.

    Columns are recognised as :func:`plan_columns` does, ``mapped`` pairs first.
    A row that names a person is a person (its company, if any, is kept in the
    custom field ``company``); a row that names only a company is an organisation.

    Raises:
        ValidationError: a cell cannot be read (the path names its column), or
            the row names neither a person nor a company (path ``name``).
    """
    fields, emails, phones = _one_row(row, mapped, region)
    options: dict[str, Any] = {}
    if fields.name is not None:
        name: PersonName | str = fields.name
        kind = CustomerKind.PERSON
        if fields.organization is not None:
            options["custom_fields"] = {"company": fields.organization}
    elif fields.organization is not None:
        name, kind = fields.organization, CustomerKind.ORGANIZATION
    else:
        raise ValidationError("name", "the row names neither a person nor a company")
    return Customer.create(
        name=name,
        kind=kind,
        emails=emails,
        phones=phones,
        addresses=fields.addresses,
        identifiers=fields.identifiers or None,
        birth_date=fields.birth_date,
        **options,
    )


def row_to_lead(
    row: Mapping[str, object],
    *,
    mapped: Iterable[tuple[str, str]] = (),
    region: str | None = None,
) -> Lead:
    """One row (a dict of column -> cell) as a new :class:`~crmcore.Lead`.

    A lead holds a name, a company, emails and phones.

    Raises:
        ValidationError: a cell cannot be read (the path names its column), or
            the row fills a field a lead does not have (an address, a birth
            date, an identifier: the path names the field).
    """
    fields, emails, phones = _one_row(row, mapped, region)
    problems = Problems()
    for field, value in (
        ("address", fields.addresses),
        ("birth_date", fields.birth_date),
        ("identifier", fields.identifiers),
    ):
        if value:
            problems.add(field, "is not a field of a lead")
    problems.raise_if_any()
    return Lead.create(name=fields.name, company=fields.organization, emails=emails, phones=phones)
