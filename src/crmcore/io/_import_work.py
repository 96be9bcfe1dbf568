"""Import of work items: opportunities, tasks and support cases, one row each.

Each row becomes one item built with its model's constructors (a deal is
created at its stage, or moved to a lost one with its reason; a task is
completed or cancelled; a case walks its state machine), so an imported item
is one an app could have made. The row id is kept in the custom field
``source:<name>`` and, before each chunk is written, the stored items of the
chunk's customers (a task: of what it is about) are read for it: importing a
file again, or finishing a killed run, stores nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import attrs

from crmcore.cases import Case, CaseStatus
from crmcore.errors import NotFound, ValidationError
from crmcore.ids import is_case_id, is_customer_id, is_lead_id, is_opportunity_id
from crmcore.interactions import Channel
from crmcore.io._columns import column_index, mapped_column
from crmcore.io._errors import ColumnError
from crmcore.io._export import work_repository
from crmcore.io._headers import WORK_HEADER_ALIASES, header_key
from crmcore.io._import_common import (
    TAG_HEADERS,
    ImportReport,
    Tally,
    build_each,
    custom_key,
    in_chunks,
    make_report,
    pending,
    row_custom,
    row_tags,
    source_ids,
)
from crmcore.io._import_interactions import parse_timestamp, zone
from crmcore.io._tables import Table
from crmcore.leads import LeadSource
from crmcore.opportunities import Opportunity
from crmcore.pipelines import DealStatus, Pipeline, Stage
from crmcore.storage.keys import identifier_key, source_scheme
from crmcore.tasks import Priority, Task, TaskKind, TaskStatus
from crmcore.values import EmailAddress, Money

if TYPE_CHECKING:
    from crmcore.storage import Store

__all__ = [
    "CASE_FIELDS",
    "OPPORTUNITY_FIELDS",
    "TASK_FIELDS",
    "WORK_FIELDS",
    "WorkColumns",
    "find_stage",
    "import_work",
    "parse_amount",
    "parse_date",
    "parse_moment",
    "parse_probability_cell",
    "work_columns",
]

_CUSTOMER = (
    "a customer id, the email of a stored customer, or a row id of the customer import "
    "that --participant-source names"
)
_WHEN = "ISO 8601 (2024-05-01T14:30:00+02:00); without an offset, or a date alone, it needs "

OPPORTUNITY_FIELDS: dict[str, str] = {
    "name": "the deal's name (required)",
    "customer": f"who the deal is with (required): {_CUSTOMER}",
    "pipeline": "the pipeline's id or name, one of --pipeline's (default: the only one given)",
    "stage": "the stage's id or name (default: the pipeline's first open stage); a deal at a "
    "lost stage needs lost_reason",
    "amount": "the amount: digits with . or , as the decimal point, with or without its "
    "currency code (1200.50 EUR)",
    "currency": "the amount's ISO 4217 currency code (default: --currency)",
    "close_date": "expected close date (of a closed deal: when it closed): YYYY-MM-DD, "
    "YYYY/MM/DD or DD.MM.YYYY; a date and time is cut to its date",
    "probability": "overrides the stage's default for an open deal: 0 to 1, or a percentage "
    "(40 %; a number over 1 is one)",
    "owner": "the deal's owner (a user name)",
    "source": "where it came from: web_form (web), import, referral, campaign, event, "
    "inbound_call, outbound, partner, social, other",
    "campaign": "the campaign it came from",
    "lost_reason": "why a lost deal was lost",
    "tags": "tags; a cell may hold several separated by ; or ,",
}
"""The fields of an opportunities import (``--map FIELD=COLUMN`` accepts them)."""

TASK_FIELDS: dict[str, str] = {
    "title": "what to do (required)",
    "kind": "call, email, meeting or todo (to-do, task)",
    "status": "open (not started, in progress, waiting, deferred), done (completed) or "
    "cancelled (canceled)",
    "priority": "low, normal (medium), high or urgent (critical)",
    "due": f"when it is due: {_WHEN}--timezone; a date alone is due at the end of that day",
    "assignee": "who is to do it (a user name)",
    "about": "what it is about: a customer, lead, opportunity or case id, the email of a "
    "stored customer or lead, or a row id of the import that --participant-source names",
    "description": "the details",
    "completed": f"when a done task was done (default: its due time, else now): {_WHEN}--timezone",
    "tags": "tags; a cell may hold several separated by ; or ,",
}
"""The fields of a tasks import (``--map FIELD=COLUMN`` accepts them)."""

CASE_FIELDS: dict[str, str] = {
    "subject": "what the case is about (required)",
    "customer": f"who raised it (required): {_CUSTOMER}",
    "description": "the customer's words",
    "channel": "where it came from: web_form (web, form), email, phone_call (phone), chat, "
    "sms, social, letter, meeting, web_visit, other (default: web_form)",
    "priority": "low, normal (medium), high or urgent (critical)",
    "status": "new, open (working, in progress, escalated), waiting_on_customer (waiting, "
    "pending), resolved (solved) or closed (default: new)",
    "assignee": "who works on it (a user name)",
    "reported": f"when the customer raised it (default: now): {_WHEN}--timezone",
    "first_response": f"the first response to the customer: {_WHEN}--timezone",
    "resolved": f"when it was resolved: {_WHEN}--timezone",
    "closed": f"when it was closed: {_WHEN}--timezone",
    "tags": "tags; a cell may hold several separated by ; or ,",
}
"""The fields of a support cases import (``--map FIELD=COLUMN`` accepts them)."""

WORK_FIELDS: Mapping[str, dict[str, str]] = {
    "opportunities": OPPORTUNITY_FIELDS,
    "tasks": TASK_FIELDS,
    "cases": CASE_FIELDS,
}
"""The fields of each work-item import, by entity."""

_REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "opportunities": ("name", "customer"),
    "tasks": ("title",),
    "cases": ("subject", "customer"),
}
# The most ids one IN filter takes (crmcore.storage's MAX_LIMIT).
_IN_LIMIT = 10_000


def _key(text: str) -> str:
    """A cell or name as enum aliases are compared: case-folded, words joined by ``_``."""
    return "_".join(re.findall(r"[^\W_]+", text.casefold()))


_PRIORITY = {"medium": "normal", "critical": "urgent", "highest": "urgent", "lowest": "low"}
_TASK_KIND = {"phone_call": "call", "to_do": "todo", "task": "todo", "e_mail": "email"}
_TASK_STATUS = {
    "not_started": "open",
    "in_progress": "open",
    "waiting": "open",
    "waiting_on_someone_else": "open",
    "deferred": "open",
    "completed": "done",
    "complete": "done",
    "canceled": "cancelled",
}
_CASE_STATUS = {
    "working": "open",
    "in_progress": "open",
    "escalated": "open",
    "waiting_on_us": "open",
    "waiting": "waiting_on_customer",
    "waiting_on_contact": "waiting_on_customer",
    "pending": "waiting_on_customer",
    "on_hold": "waiting_on_customer",
    "solved": "resolved",
}
_CHANNEL = {
    "web": "web_form",
    "form": "web_form",
    "phone": "phone_call",
    "call": "phone_call",
    "e_mail": "email",
    "live_chat": "chat",
}
_SOURCE = {
    "web": "web_form",
    "website": "web_form",
    "form": "web_form",
    "trade_show": "event",
    "phone_inquiry": "inbound_call",
    "cold_call": "outbound",
    "partner_referral": "partner",
    "employee_referral": "referral",
    "external_referral": "referral",
}


def _choice(text: str, field: str, aliases: Mapping[str, str], allowed: Iterable[str]) -> str:
    key = _key(text)
    value = aliases.get(key, key)
    if value not in allowed:
        raise ValidationError(field, f"must be one of {', '.join(allowed)}")
    return value


# --------------------------------------------------------------------------- columns


@attrs.frozen
class WorkColumns:
    """Which columns a work-item import reads.

    Attributes:
        fields: field -> the index of the column it reads.
        id_col: the column of row ids, if one was given.
        tags: the columns of tags.
        custom: ``(index, key)`` of each column kept as a custom field.
    """

    fields: dict[str, int]
    id_col: int | None
    tags: tuple[int, ...]
    custom: tuple[tuple[int, str], ...]


def work_columns(
    header: Sequence[str],
    entity: str,
    mapped: Iterable[tuple[str, str]],
    id_column: str | None,
) -> WorkColumns:
    """The columns an import of ``entity`` reads: mapped ones first, then recognised headers.

    Raises:
        ColumnError: a mapping names an unknown field or column, or a field twice.
        ValidationError: naming ``columns`` when no column feeds a required field.
    """
    known = WORK_FIELDS[entity]
    explicit: dict[str, int] = {}
    tags: list[int] = []
    for field, column in mapped:
        index = mapped_column(header, field, column, known)
        if field == "tags":
            tags.append(index)
        elif field in explicit:
            raise ColumnError(field, column, f"field {field!r} is mapped more than once")
        else:
            explicit[field] = index
    claimed = set(explicit.values()) | set(tags)
    aliases = WORK_HEADER_ALIASES[entity]
    fields = dict(explicit)
    for index, name in enumerate(header):
        key = header_key(name)
        recognised = aliases.get(key)
        if index in claimed:
            continue
        if recognised is not None and recognised not in fields:
            fields[recognised] = index
            claimed.add(index)
        elif key in TAG_HEADERS and not any(f == "tags" for f, _ in mapped):
            tags.append(index)
            claimed.add(index)
    id_col = None if id_column is None else column_index(header, id_column)
    if id_col is not None:
        # The row id is provenance: it feeds no field it was recognised for.
        fields = {f: i for f, i in fields.items() if i != id_col or f in explicit}
        claimed = set(fields.values()) | set(tags) | {id_col}
    missing = [f for f in _REQUIRED[entity] if f not in fields]
    if missing:
        raise ValidationError(
            "columns",
            f"no column holds {' or '.join(missing)}: name it with --map {missing[0]}=COLUMN",
        )
    taken: set[str] = set()
    custom = tuple(
        (i, custom_key(h, taken)) for i, h in enumerate(header) if i not in claimed and h.strip()
    )
    return WorkColumns(fields, id_col, tuple(tags), custom)


# --------------------------------------------------------------------------- cells


def parse_amount(text: str, currency: str | None, semicolons: bool) -> Money:
    """Money from a cell such as ``1 200,50``, ``1,200.50``, ``EUR 1200`` or ``1200.50 SEK``.

    A currency code in the cell wins over ``currency``. With both ``.`` and
    ``,`` the last is the decimal point; with ``,`` alone it is the decimal
    point in a semicolon-separated file (Excel wherever the comma is one),
    while ``1,200`` in a comma-separated file is refused as ambiguous.

    Raises:
        ValidationError: naming ``amount`` or ``currency``.
    """
    found = re.fullmatch(
        r"\s*(?:([A-Za-z]{3})\s*)?([-+]?[\d\s\u00a0'.,]*\d)(?:\s*([A-Za-z]{3}))?\s*", text
    )
    if found is None or (found[1] and found[3]):
        raise ValidationError("amount", "is not an amount (digits, and a currency code or none)")
    code = (found[1] or found[3] or currency or "").upper()
    if not code:
        raise ValidationError(
            "currency", "is not given: add a currency column, a code in the cell or --currency"
        )
    digits = re.sub(r"[\s\u00a0']", "", found[2])
    if len(digits) > 64:  # before Decimal(): no amount has that many digits
        raise ValidationError("amount", "has too many digits")
    if "." in digits and "," in digits:
        point = "." if digits.rfind(".") > digits.rfind(",") else ","
        digits = digits.replace("," if point == "." else ".", "").replace(",", ".")
    elif "," in digits:
        whole, _, tail = digits.rpartition(",")
        if digits.count(",") > 1:
            digits = digits.replace(",", "")
        elif semicolons or len(tail) != 3:
            digits = f"{whole}.{tail}"
        else:
            raise ValidationError(
                "amount", "is ambiguous: write 1200 or 1200.00, not 1,200 (a comma: decimals?)"
            )
    elif digits.count(".") > 1:
        digits = digits.replace(".", "")
    try:
        return Money.of(Decimal(digits), code, field="amount")
    except InvalidOperation:
        raise ValidationError("amount", "is not an amount") from None
    except ValidationError as exc:
        if any(path == "amount.currency" for path, _ in exc.problems):
            raise ValidationError("currency", "is not an ISO 4217 currency code") from None
        raise


_DATE = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})|(?P<y2>\d{4})/(?P<m2>\d{1,2})/(?P<d2>\d{1,2})"
    r"|(?P<d3>\d{1,2})\.(?P<m3>\d{1,2})\.(?P<y3>\d{4})"
)


def parse_date(text: str, field: str) -> date:
    """A date: ``YYYY-MM-DD``, ``YYYY/MM/DD`` or ``DD.MM.YYYY``; a time after it is dropped.

    Raises:
        ValidationError: naming ``field``.
    """
    found = _DATE.match(text.strip())
    rest = text.strip()[found.end() :] if found else ""
    if found is None or (rest and not re.fullmatch(r"[T ]\S.*", rest)):
        raise ValidationError(field, "is not a date (YYYY-MM-DD, YYYY/MM/DD or DD.MM.YYYY)")
    y = found["y"] or found["y2"] or found["y3"]
    m = found["m"] or found["m2"] or found["m3"]
    d = found["d"] or found["d2"] or found["d3"]
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        raise ValidationError(field, "is not a date that exists") from None


def parse_moment(text: str, field: str, tz: ZoneInfo | None, *, end_of_day: bool) -> datetime:
    """An aware time from ISO 8601; a date alone is the start (or end) of that day in ``tz``.

    Raises:
        ValidationError: naming ``field``; a time without an offset needs ``tz``.
    """
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = parse_date(text, field)
        if tz is None:
            raise ValidationError(field, "is a date alone; give --timezone (the zone it is in)")
        clock = time(23, 59, 59) if end_of_day else time(0)
        return datetime.combine(day, clock, tzinfo=tz)
    try:
        return parse_timestamp(text, tz)
    except ValidationError as exc:
        raise ValidationError(field, exc.problems[0][1]) from None


def parse_probability_cell(text: str) -> Decimal:
    """A probability from ``0.4``, ``40 %`` or ``40`` (a number over 1 is a percentage).

    Raises:
        ValidationError: naming ``probability``.
    """
    found = re.fullmatch(r"\s*(\d{1,3}(?:[.,]\d{1,6})?)\s*(%?)\s*", text)
    if found is None:
        raise ValidationError("probability", "must be a number from 0 to 1, or a percentage")
    value = Decimal(found[1].replace(",", "."))
    if found[2] or value > 1:
        value = value / 100
    if not 0 <= value <= 1:
        raise ValidationError("probability", "must be from 0 to 1 (0 % to 100 %)")
    return value.quantize(Decimal("0.0001")).normalize()


def _stage_key(text: str) -> str:
    return header_key(text)


def find_stage(pipeline: Pipeline, text: str) -> Stage:
    """The stage of ``pipeline`` that ``text`` names, by id or name (case and spaces ignored).

    Raises:
        ValidationError: naming ``stage``.
    """
    wanted = _stage_key(text)
    for stage in pipeline.stages:
        if wanted in (_stage_key(stage.id), _stage_key(stage.name)):
            return stage
    raise ValidationError("stage", "is not a stage of the deal's pipeline (by id or name)")


# --------------------------------------------------------------------------- finding records


@attrs.define
class _Finder:
    """Finds the stored records rows name: by id, by email, or by an earlier import's row id."""

    store: Store
    source: str | None

    def customer(self, text: str, field: str) -> str:
        """The live customer ``text`` names."""
        found = self._customers(text, field)
        if not found:
            raise ValidationError(field, "names no stored customer (by id, email or row id)")
        if len(found) > 1:
            raise ValidationError(field, "names more than one stored customer: give its id")
        return found[0]

    def _customers(self, text: str, field: str) -> list[str]:
        repo = self.store.customers
        if is_customer_id(text):
            return self._live(repo, text)
        if "@" in text:
            email = self._email(text, field)
            return sorted({repo.resolve(c.id).id for c in repo.find_by_email(email)})
        if self.source is None:
            raise ValidationError(
                field, "is not a customer id or an email (row ids need --participant-source)"
            )
        return sorted({repo.resolve(c.id).id for c in repo.find_by_identifier(self.source, text)})

    def about(self, text: str) -> str:
        """The record a task is about: a customer, lead, opportunity or case."""
        if is_opportunity_id(text) or is_case_id(text):
            entity = "opportunities" if is_opportunity_id(text) else "cases"
            try:
                work_repository(self.store, entity).get(text)
            except NotFound:
                raise ValidationError("about", f"names no stored {entity[:-1]}") from None
            return text
        if is_lead_id(text):
            found = self._live(self.store.leads, text)
        else:
            found = self._customers(text, "about") or self._leads(text)
        if not found:
            raise ValidationError("about", "names no stored record (by id, email or row id)")
        if len(found) > 1:
            raise ValidationError("about", "names more than one stored record: give its id")
        return found[0]

    def _leads(self, text: str) -> list[str]:
        """The live leads with the email ``text``, or with the row id ``text`` of the import."""
        leads = self.store.leads
        if "@" in text:
            found = leads.find_by_email(self._email(text, "about"))
        elif self.source is not None and not is_customer_id(text):
            # A lead import keeps its row ids as keys (crmcore.storage.keys.source_keys).
            keyed = leads.find_by_keys([identifier_key(self.source, text)])
            found = [r for r in keyed if r.custom_fields.get(self.source) == text]
        else:
            found = []
        return sorted({leads.resolve(r.id).id for r in found})

    @staticmethod
    def _live(repo: Any, record_id: str) -> list[str]:
        try:
            return [repo.resolve(record_id).id]
        except NotFound:
            return []

    @staticmethod
    def _email(text: str, field: str) -> EmailAddress:
        try:
            return EmailAddress.parse(text)
        except ValidationError:
            raise ValidationError(field, "is not a valid email address") from None


# --------------------------------------------------------------------------- building items


@attrs.define
class _Builder:
    """Builds one entity's item from a row's cells (already stripped, empty ones left out)."""

    entity: str
    finder: _Finder
    tz: ZoneInfo | None
    pipelines: Mapping[str, Pipeline]
    currency: str | None
    semicolons: bool

    def build(self, cells: dict[str, str], tags: list[str], custom: dict[str, str]) -> Any:
        """The item of one row; ValidationError naming the field when a cell cannot be used."""
        if self.entity == "opportunities":
            return self._opportunity(cells, tags, custom)
        if self.entity == "tasks":
            return self._task(cells, tags, custom)
        return self._case(cells, tags, custom)

    def _pipeline(self, cells: Mapping[str, str]) -> Pipeline:
        text = cells.get("pipeline")
        if text is None:
            if len(self.pipelines) == 1:
                return next(iter(self.pipelines.values()))
            raise ValidationError("pipeline", "is empty, and more than one --pipeline is given")
        wanted = _stage_key(text)
        for pipeline in self.pipelines.values():
            if wanted in (_stage_key(pipeline.id), _stage_key(pipeline.name)):
                return pipeline
        raise ValidationError("pipeline", "is not one of the --pipeline files' (by id or name)")

    def _opportunity(
        self, cells: Mapping[str, str], tags: list[str], custom: dict[str, str]
    ) -> Opportunity:
        name = _required(cells, "name")
        customer_id = self.finder.customer(_required(cells, "customer"), "customer")
        pipeline = self._pipeline(cells)
        stage = pipeline.first if "stage" not in cells else find_stage(pipeline, cells["stage"])
        amount = None
        if "amount" in cells:
            amount = parse_amount(
                cells["amount"], cells.get("currency", self.currency), self.semicolons
            )
        close_date = (
            None if "close_date" not in cells else parse_date(cells["close_date"], "close_date")
        )
        source = None
        if "source" in cells:
            source = _choice(cells["source"], "source", _SOURCE, [s.value for s in LeadSource])
        reason = cells.get("lost_reason")
        if stage.status is DealStatus.LOST and reason is None:
            raise ValidationError("lost_reason", "is empty: a deal at a lost stage needs a reason")
        # A closed deal closed on its close date (the time of day is not known: midnight UTC).
        at = None
        if stage.is_closed and close_date is not None:
            at = datetime.combine(close_date, time(0), tzinfo=UTC)
        start = pipeline.first if stage.status is DealStatus.LOST else stage
        deal = Opportunity.create(
            name=name,
            customer_id=customer_id,  # type: ignore[arg-type]
            pipeline=pipeline,
            stage=start.id,
            amount=amount,
            close_date=close_date,
            owner=cells.get("owner"),
            source=source,
            campaign=cells.get("campaign"),
            tags=tags,
            custom_fields=custom,
            at=at,
        )
        if stage.status is DealStatus.LOST:
            deal = deal.move_to(pipeline, stage.id, at=deal.stage_history[-1].at, reason=reason)
        if "probability" in cells and not deal.is_closed:
            deal = deal.with_probability(parse_probability_cell(cells["probability"]))
        return deal

    def _task(self, cells: Mapping[str, str], tags: list[str], custom: dict[str, str]) -> Task:
        title = _required(cells, "title")
        kind = "todo"
        if "kind" in cells:
            kind = _choice(cells["kind"], "kind", _TASK_KIND, [k.value for k in TaskKind])
        status = "open"
        if "status" in cells:
            status = _choice(cells["status"], "status", _TASK_STATUS, [s.value for s in TaskStatus])
        due = None
        if "due" in cells:
            due = parse_moment(cells["due"], "due", self.tz, end_of_day=True)
        completed = None
        if "completed" in cells:
            completed = parse_moment(cells["completed"], "completed", self.tz, end_of_day=False)
        about = None if "about" not in cells else self.finder.about(cells["about"])
        task = Task.create(
            title=title,
            kind=kind,
            priority=self._priority(cells),
            due_at=due,
            assignee=cells.get("assignee"),
            about_id=about,
            description=cells.get("description"),
            tags=tags,
            custom_fields=custom,
        )
        if status == "done":
            task = task.complete(at=completed or due)
        elif status == "cancelled":
            task = task.cancel()
        return task

    def _priority(self, cells: Mapping[str, str]) -> str:
        if "priority" not in cells:
            return "normal"
        return _choice(cells["priority"], "priority", _PRIORITY, [p.value for p in Priority])

    def _case(self, cells: Mapping[str, str], tags: list[str], custom: dict[str, str]) -> Case:
        subject = _required(cells, "subject")
        customer_id = self.finder.customer(_required(cells, "customer"), "customer")
        channel = "web_form"
        if "channel" in cells:
            channel = _choice(cells["channel"], "channel", _CHANNEL, [c.value for c in Channel])
        status = CaseStatus.NEW
        if "status" in cells:
            status = CaseStatus(
                _choice(cells["status"], "status", _CASE_STATUS, [s.value for s in CaseStatus])
            )
        times = {
            field: parse_moment(cells[field], field, self.tz, end_of_day=False)
            for field in ("reported", "first_response", "resolved", "closed")
            if field in cells
        }
        case = Case.create(
            subject=subject,
            customer_id=customer_id,  # type: ignore[arg-type]
            channel=channel,
            priority=self._priority(cells),
            description=cells.get("description"),
            assignee=cells.get("assignee"),
            reported_at=times.get("reported"),
            tags=tags,
            custom_fields=custom,
        )
        reported = case.reported_at
        if "first_response" in times:
            if times["first_response"] < reported:
                raise ValidationError("first_response", "is before the case was reported")
            case = case.responded(at=times["first_response"])
        # The shortest walk of the state machine to the row's status, each step at its time.
        for step in _CASE_WALK[status] if "resolved" not in times else _CASE_WALK_RESOLVED[status]:
            field = _STEP_FIELD.get(step, "reported")
            when = times.get(field) or case.first_response_at or reported
            if when < case.history[-1].at:
                raise ValidationError(field, "is before the case's earlier step")
            case = case.transition_to(step, at=when)
        return case


_CASE_WALK: Final[Mapping[CaseStatus, tuple[CaseStatus, ...]]] = {
    CaseStatus.NEW: (),
    CaseStatus.OPEN: (CaseStatus.OPEN,),
    CaseStatus.WAITING_ON_CUSTOMER: (CaseStatus.OPEN, CaseStatus.WAITING_ON_CUSTOMER),
    CaseStatus.RESOLVED: (CaseStatus.RESOLVED,),
    CaseStatus.CLOSED: (CaseStatus.CLOSED,),
}
# A closed case with a resolution time was resolved first: its resolution time is kept.
_CASE_WALK_RESOLVED: Final = {
    **_CASE_WALK,
    CaseStatus.CLOSED: (CaseStatus.RESOLVED, CaseStatus.CLOSED),
}
_STEP_FIELD: Final = {CaseStatus.RESOLVED: "resolved", CaseStatus.CLOSED: "closed"}


def _required(cells: Mapping[str, str], field: str) -> str:
    value = cells.get(field)
    if value is None:
        raise ValidationError(field, "is empty")
    return value


# --------------------------------------------------------------------------- the run


def _stored_with_sources(
    repository: Any, field: str, values: Sequence[str | None], scheme: str, wanted: set[str]
) -> Iterator[Any]:
    """The stored items whose ``field`` is one of ``values`` and whose source id is wanted."""
    from crmcore.storage.protocols import where

    ids = sorted({v for v in values if v is not None})
    filters = [where(field).in_(ids[i : i + _IN_LIMIT]) for i in range(0, len(ids), _IN_LIMIT)]
    if any(v is None for v in values):
        filters.append(where(field).eq(None))
    for condition in filters:
        cursor = None
        while True:
            page = repository.list(condition, limit=_IN_LIMIT, cursor=cursor)
            for item in page:
                if item.custom_fields.get(scheme) in wanted:
                    yield item
            cursor = page.next_cursor
            if cursor is None:
                break


def import_work(
    store: Store,
    table: Table,
    *,
    entity: str,
    scheme: str,
    mapped: Iterable[tuple[str, str]],
    id_column: str | None,
    timezone: str | None,
    participant_source: str | None,
    pipelines: Sequence[Pipeline],
    currency: str | None,
    dry_run: bool,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> ImportReport:
    """Import opportunity, task or case rows (see :func:`crmcore.io.import_file`)."""
    from crmcore.storage.protocols import SupportsKeyLocks

    repository = work_repository(store, entity)
    if repository is None:
        raise ValidationError("store", f"keeps no {entity} (it does not support work items)")
    by_id = _pipelines(pipelines, entity)
    tz = zone(timezone) if timezone is not None else None
    source = None if participant_source is None else source_scheme(participant_source)
    columns = work_columns(table.header, entity, mapped, id_column)
    builder = _Builder(
        entity, _Finder(store, source), tz, by_id, currency, semicolons=table.delimiter == ";"
    )
    row_ids, rejected = source_ids(table, columns.id_col, id_column or "row")
    tally = Tally()
    link = "about_id" if entity == "tasks" else "customer_id"

    def build(index: int, sid: str) -> Any:
        row = table.rows[index]
        cells = row_custom(row, [(i, field) for field, i in columns.fields.items()])
        custom = {**row_custom(row, columns.custom), scheme: sid}
        return builder.build(cells, row_tags(row, columns.tags), custom)

    def chunk(indexes: range) -> None:
        todo = pending(indexes, row_ids, rejected, tally)
        if isinstance(store, SupportsKeyLocks) and todo:
            # Two importers of one file take the same rows' keys: the second waits, then skips.
            store.lock_keys(sorted(identifier_key(scheme, sid) for _, _, sid in todo))
        built = build_each(todo, build, tally)
        if not built:
            return
        stored = {
            item.custom_fields[scheme]
            for item in _stored_with_sources(
                repository,
                link,
                [getattr(item, link) for _, _, item in built],
                scheme,
                {sid for _, sid, _ in built},
            )
        }
        new = [item for _, sid, item in built if sid not in stored]
        tally.skipped += len(built) - len(new)
        tally.already += len(built) - len(new)
        if new:
            repository.add_many(new)
            tally.imported += len(new)

    in_chunks(store, len(table.rows), batch_size, chunk, progress, dry_run=dry_run)
    return make_report(entity, len(table.rows), tally, scheme, dry_run)


def _pipelines(pipelines: Sequence[Pipeline], entity: str) -> dict[str, Pipeline]:
    if isinstance(pipelines, Pipeline):
        pipelines = [pipelines]
    by_id: dict[str, Pipeline] = {}
    for i, pipeline in enumerate(pipelines):
        if not isinstance(pipeline, Pipeline):
            raise ValidationError(f"pipelines[{i}]", "must be a Pipeline")
        if pipeline.id in by_id:
            raise ValidationError(f"pipelines[{i}]", "repeats the id of another pipeline")
        by_id[pipeline.id] = pipeline
    if entity == "opportunities" and not by_id:
        raise ValidationError("pipelines", "an opportunities import needs a pipeline")
    return by_id
