"""CSV rows to match records: every distinct email and phone parsed once, on every core.

Parsing dominates the cost of reading a contact list (email-validator and
phonenumbers each take tens of microseconds a value), and contact lists repeat
values: the same company switchboard, the same address typed twice. So the
rows are scanned once to collect distinct values (phones keyed by text and
region), those are parsed in worker processes in chunks, and the records are
built from the caches. Full :class:`~crmcore.Customer` entities are never made:
matching reads :class:`~crmcore.dedup.MatchRecord` only.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date

import attrs

from crmcore.cli._regions import country_code
from crmcore.cli._table import ColumnMap, Table
from crmcore.dedup.records import MatchRecord, RecordType
from crmcore.errors import ValidationError
from crmcore.values import EmailAddress, PersonName, PhoneNumber, PostalAddress, optional_text

__all__ = ["Problems", "RecordBuild", "build_records", "default_workers"]

# Below this many distinct values (or rows), starting worker processes costs more
# than it saves.
PARALLEL_THRESHOLD = 4_000
# Distinct values handed to the workers at a time while the rows are read.
_BATCH = 4_096

EmailResult = tuple[str, str] | None
PhoneResult = tuple[str, str | None] | None
PhoneKey = tuple[str, str | None]

_EMAIL_SPLIT = re.compile(r"[;,]")


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def parse_emails(texts: Sequence[str]) -> list[EmailResult]:
    """Parse each text; ``(normalized, match_key)`` or ``None`` when it is not an address.

    :meth:`EmailAddress.parse` validates each distinct domain once, so a list
    full of gmail.com addresses costs little more than its local parts.
    """
    out: list[EmailResult] = []
    for text in texts:
        try:
            email = EmailAddress.parse(text)
        except ValidationError:
            out.append(None)
        else:
            out.append((email.normalized, email.match_key))
    return out


def parse_phones(keys: Sequence[PhoneKey]) -> list[PhoneResult]:
    """Parse each ``(text, region)``; ``(e164, extension)`` or ``None`` when it is no number."""
    out: list[PhoneResult] = []
    for text, region in keys:
        if region is None and text.startswith("00"):
            # Without a region, 00 is read as the international prefix it is in most
            # of the world (not in North America, whose rows carry a country anyway).
            text = "+" + text[2:]
        try:
            phone = PhoneNumber.parse(text, region)
        except ValidationError:
            out.append(None)
        else:
            out.append((phone.e164, phone.extension))
    return out


_PHONE_PLAIN = re.compile(r"\+?[0-9][0-9 .\-]*")
_PHONE_SEPARATORS = re.compile(r"[ .\-]+")


def phone_key(text: str, region: str | None) -> PhoneKey:
    """The cache key of a phone cell: spaces, dots and hyphens dropped, region only if needed.

    ``070-123 45 67`` and ``0701234567`` in one region are one number, so they
    are parsed once; a number with ``+`` does not depend on the region at all.
    """
    if len(text) <= 64 and _PHONE_PLAIN.fullmatch(text):
        digits = _PHONE_SEPARATORS.sub("", text)
        # phonenumbers reads very short digit strings differently with and without
        # punctuation; real numbers are longer than that.
        if len(digits) >= 7:
            text = digits
    return (text, None if text.startswith("+") else region)


def _chunks(items: list[object], count: int) -> list[list[object]]:
    size = max(1, -(-len(items) // count))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _parse_chunk(kind: str, items: list[object]) -> list[object]:
    if kind == "email":
        return list(parse_emails(items))  # type: ignore[arg-type]
    return list(parse_phones(items))  # type: ignore[arg-type]


def _mp_context() -> multiprocessing.context.BaseContext:
    # fork shares the already imported dependencies with the workers at no cost;
    # where it is unavailable (Windows, macOS default), spawn still works, only slower.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class ParseJob:
    """Distinct emails and phones being parsed, in worker processes when that pays.

    With workers, creating the job (and :meth:`add`) returns at once, so that the
    caller can go on reading rows and building names and addresses while they
    parse; :meth:`result` waits for them. Without workers, :meth:`result` does
    the parsing itself.
    """

    def __init__(
        self,
        emails: list[str],
        phones: list[PhoneKey],
        *,
        workers: int,
        advance: Callable[[int], None] | None = None,
        parallel: bool | None = None,
    ) -> None:
        self._emails = list(emails)
        self._phones = list(phones)
        self._advance = advance
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._futures: dict[concurrent.futures.Future[list[object]], tuple[str, list[object]]]
        self._futures = {}
        if parallel is None:
            parallel = len(emails) + len(phones) >= PARALLEL_THRESHOLD
        if workers > 1 and parallel:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=_mp_context()
            )
            # Many chunks per worker so that the progress bar moves, a slow chunk does
            # not leave a core idle at the end, and this process can take over the
            # chunks not started yet once it has built the rest of the records.
            self._submit("email", _chunks(list(emails), workers * 8))
            self._submit("phone", _chunks(list(phones), workers * 8))

    def _submit(self, kind: str, chunks: list[list[object]]) -> None:
        assert self._pool is not None
        for chunk in chunks:
            if chunk:
                self._futures[self._pool.submit(_parse_chunk, kind, chunk)] = (kind, chunk)

    def add(self, emails: list[str], phones: list[PhoneKey]) -> None:
        """More distinct values to parse: workers start on them at once."""
        self._emails += emails
        self._phones += phones
        if self._pool is not None:
            self._submit("email", [list(emails)])
            self._submit("phone", [list(phones)])

    def result(self) -> tuple[dict[str, EmailResult], dict[PhoneKey, PhoneResult]]:
        """The parsed values: ``text -> (normalized, match_key)``, ``key -> (e164, ext)``."""
        advance = self._advance
        if self._pool is None:
            email_results = parse_emails(self._emails)
            if advance:
                advance(len(self._emails))
            phone_results = parse_phones(self._phones)
            if advance:
                advance(len(self._phones))
            return dict(zip(self._emails, email_results, strict=True)), dict(
                zip(self._phones, phone_results, strict=True)
            )
        email_map: dict[str, EmailResult] = {}
        phone_map: dict[PhoneKey, PhoneResult] = {}

        def take(kind: str, chunk: list[object], results: list[object]) -> None:
            if kind == "email":
                email_map.update(zip(chunk, results, strict=True))  # type: ignore[arg-type]
            else:
                phone_map.update(zip(chunk, results, strict=True))  # type: ignore[arg-type]
            if advance:
                advance(len(chunk))

        try:
            # This process is free now: rather than wait, it parses the chunks no
            # worker has started, from the last one back, while the workers take
            # theirs from the front.
            for future in reversed(list(self._futures)):
                if future.cancel():
                    kind, chunk = self._futures.pop(future)
                    take(kind, chunk, _parse_chunk(kind, chunk))
            for future in concurrent.futures.as_completed(self._futures):
                kind, chunk = self._futures[future]
                take(kind, chunk, future.result())
        finally:
            self.close()
        return email_map, phone_map

    def close(self) -> None:
        """Stop the workers, waiting for them; safe to call more than once."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def parse_distinct(
    emails: list[str],
    phones: list[PhoneKey],
    *,
    workers: int,
    advance: Callable[[int], None] | None = None,
) -> tuple[dict[str, EmailResult], dict[PhoneKey, PhoneResult]]:
    """Parse distinct emails and phones, in ``workers`` processes when that pays."""
    return ParseJob(emails, phones, workers=workers, advance=advance).result()


class Problems:
    """Cells that could not be parsed, by column: row numbers only, never values."""

    def __init__(self) -> None:
        self.by_column: dict[str, list[int]] = {}

    def add(self, column: str, row_number: int) -> None:
        """Note that ``column`` could not be parsed on ``row_number`` (header = row 1)."""
        rows = self.by_column.setdefault(column, [])
        if not rows or rows[-1] != row_number:
            rows.append(row_number)

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
    problems: Problems
    distinct_emails: int
    distinct_phones: int


_DATE_FORMATS = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
    re.compile(r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})"),
    re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})"),
)


def parse_birth_date(text: str) -> date | None:
    """A date in one of the unambiguous formats, or ``None``."""
    for pattern in _DATE_FORMATS:
        found = pattern.fullmatch(text)
        if found:
            try:
                return date(int(found["y"]), int(found["m"]), int(found["d"]))
            except ValueError:
                return None
    return None


def _identifier_scheme(column: str) -> str:
    scheme = re.sub(r"[^A-Za-z0-9_.:-]+", "_", column).strip("_")[:64]
    return scheme or "id"


def _cell(row: Sequence[str], cols: Sequence[int]) -> str:
    for i in cols:
        value = row[i].strip()
        if value:
            return value
    return ""


def build_records(
    table: Table,
    columns: ColumnMap,
    *,
    region: str | None = None,
    region_column: int | None = None,
    workers: int | None = None,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> RecordBuild:
    """Turn every row into a :class:`MatchRecord`; unparseable cells become problems.

    A row's phone region is its ``country`` cell when that names a country, else
    the ``region_column`` cell, else ``region``.
    """
    header = table.header
    rows = table.rows
    problems = Problems()
    country_cols = columns.get("country")
    email_cols = columns.get("email")
    phone_cols = columns.get("phone")

    # Pass 1: each row's region, and the distinct values to parse. Workers parse
    # them batch by batch while this pass (and the next) goes on.
    job = ParseJob(
        [],
        [],
        workers=workers or default_workers(),
        advance=advance,
        parallel=len(rows) >= PARALLEL_THRESHOLD,
    )
    new_emails: list[str] = []
    new_phones: list[PhoneKey] = []
    regions: list[str | None] = []
    email_set: dict[str, None] = {}
    phone_set: dict[PhoneKey, None] = {}
    row_phones: list[list[tuple[int, str, PhoneKey]]] = []  # kept so pass 2 need not re-key
    for index, row in enumerate(rows):
        row_region = None
        country = _cell(row, country_cols)
        if country:
            row_region = country_code(country)
            if row_region is None:
                problems.add(header[country_cols[0]], index + 2)
        if row_region is None and region_column is not None:
            value = row[region_column].strip()
            if value:
                row_region = country_code(value)
                if row_region is None:
                    problems.add(header[region_column], index + 2)
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
        if phone_cols:
            found: list[tuple[int, str, PhoneKey]] = []
            for i in phone_cols:
                cell = row[i]
                if cell:
                    for part in cell.split(";"):
                        part = part.strip()
                        if part:
                            pkey = phone_key(part, row_region)
                            if pkey not in phone_set:
                                phone_set[pkey] = None
                                new_phones.append(pkey)
                            found.append((i, part, pkey))
            row_phones.append(found)
        if len(new_emails) + len(new_phones) >= _BATCH:
            job.add(new_emails, new_phones)
            new_emails, new_phones = [], []
    job.add(new_emails, new_phones)

    emails = list(email_set)
    phones = list(phone_set)
    if on_total:
        on_total(len(emails) + len(phones))

    # Pass 2: the records.
    given_cols = columns.get("given_name")
    family_cols = columns.get("family_name")
    middle_cols = columns.get("middle_name")
    name_cols = columns.get("name")
    company_cols = columns.get("company")
    street_number_cols = columns.get("street_number")
    address_cols = columns.get("address")
    city_cols = columns.get("city")
    postcode_cols = columns.get("postcode")
    state_cols = columns.get("state")
    birth_cols = columns.get("birth_date")
    identifier_cols = [(i, _identifier_scheme(header[i])) for i in columns.get("identifier")]
    has_address = bool(address_cols or street_number_cols or city_cols or postcode_cols)
    address_cache: dict[tuple[object, ...], PostalAddress | list[tuple[str, str]]] = {}

    # Names, companies and addresses repeat too (common names, one city for many rows):
    # each distinct one is validated once. A cached exception replays its problems.
    names: dict[tuple[str, str, str], PersonName | ValidationError] = {}
    full_names: dict[str, PersonName | None] = {}
    companies: dict[str, str | None] = {}

    # First the fields that need no email or phone, while the workers parse those.
    parts: list[
        tuple[PersonName | None, str | None, tuple[PostalAddress, ...], date | None, dict[str, str]]
    ] = []
    for index, row in enumerate(rows):
        row_number = index + 2
        row_region = regions[index]

        name = None
        given = _cell(row, given_cols)
        family = _cell(row, family_cols)
        if given or family:
            key = (given, family, _cell(row, middle_cols))
            cached = names.get(key)
            if cached is None:
                try:
                    cached = PersonName(
                        given=given or None, family=family or None, middle=key[2] or None
                    )
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
                    problems.add(header[name_cols[0]], row_number)

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
                problems.add(header[company_cols[0]], row_number)

        addresses: tuple[PostalAddress, ...] = ()
        if has_address:
            address = _address(
                address_cache,
                row,
                row_number,
                header,
                problems,
                street_number_cols,
                address_cols,
                city_cols,
                postcode_cols,
                state_cols,
                row_region if _cell(row, country_cols) else None,
            )
            if address is not None:
                addresses = (address,)

        birth_date = None
        born = _cell(row, birth_cols)
        if born:
            birth_date = parse_birth_date(born)
            if birth_date is None:
                problems.add(header[birth_cols[0]], row_number)

        identifiers: dict[str, str] = {}
        for i, scheme in identifier_cols:
            value = row[i].strip()
            if value:
                if len(value) > 200 or not value.isprintable():
                    problems.add(header[i], row_number)
                else:
                    identifiers[scheme] = " ".join(value.split())

        parts.append((name, organization, addresses, birth_date, identifiers))

    # The workers have been parsing emails and phones meanwhile.
    try:
        email_map, phone_map = job.result()
    finally:
        job.close()
    email_objects = {t: EmailAddress(*r) for t, r in email_map.items() if r is not None}
    records: list[MatchRecord] = []
    for index, row in enumerate(rows):
        row_number = index + 2
        name, organization, addresses, birth_date, identifiers = parts[index]
        found_emails: list[EmailAddress] = []
        for i in email_cols:
            cell = row[i]
            if not cell:
                continue
            for part in _EMAIL_SPLIT.split(cell):
                part = part.strip()
                if not part:
                    continue
                email = email_objects.get(part)
                if email is None:
                    problems.add(header[i], row_number)
                elif email not in found_emails:
                    found_emails.append(email)

        found_phones: list[PhoneNumber] = []
        for i, part, pkey in row_phones[index] if phone_cols else ():
            parsed = phone_map.get(pkey)
            if parsed is None:
                problems.add(header[i], row_number)
                continue
            phone = PhoneNumber(parsed[0], parsed[1], part)
            if phone not in found_phones:
                found_phones.append(phone)

        if name is not None:
            kind = RecordType.PERSON
        elif organization is not None:
            kind = RecordType.ORGANIZATION
        else:
            kind = RecordType.PERSON
        records.append(
            MatchRecord(
                id=str(index),
                type=kind,
                name=name,
                organization=organization,
                emails=tuple(found_emails),
                phones=tuple(found_phones),
                addresses=addresses,
                birth_date=birth_date,
                identifiers=identifiers,
            )
        )
    return RecordBuild(records, problems, len(emails), len(phones))


def _name_problems(
    exc: ValidationError,
    row_number: int,
    header: Sequence[str],
    problems: Problems,
    given_cols: Sequence[int],
    family_cols: Sequence[int],
) -> None:
    paths = {path.split(".")[-1] for path, _ in exc.problems}
    if "family" in paths and family_cols:
        problems.add(header[family_cols[0]], row_number)
    if ("family" not in paths or paths - {"family"}) and given_cols:
        problems.add(header[given_cols[0]], row_number)
    elif not given_cols and family_cols and "family" not in paths:
        problems.add(header[family_cols[0]], row_number)


def _address(
    cache: dict[tuple[object, ...], PostalAddress | list[tuple[str, str]]],
    row: Sequence[str],
    row_number: int,
    header: Sequence[str],
    problems: Problems,
    street_number_cols: Sequence[int],
    address_cols: Sequence[int],
    city_cols: Sequence[int],
    postcode_cols: Sequence[int],
    state_cols: Sequence[int],
    country: str | None,
) -> PostalAddress | None:
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
            cols: Iterable[int] = where.get(path, (*street_number_cols, *address_cols))
            for i in cols:
                if row[i].strip():
                    problems.add(header[i], row_number)
                    break
    return None


if sys.platform == "win32":  # pragma: no cover
    PARALLEL_THRESHOLD = 20_000  # spawn re-imports crmcore in every worker
