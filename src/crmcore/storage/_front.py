"""What every crmcore store shares above its reads and writes.

A backend (in memory, SQLite, a third party's) supplies only how records are
read and written; the argument checks, the errors a compare-and-set raises,
pages and their cursors, ``resolve``, and the whole argument side of the work
item repositories (:class:`ItemsFront`: opportunities, tasks, cases) live here
so that every store means the same thing by them. The public face of this module is
:mod:`crmcore.storage.front`.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

import attrs

from crmcore._validation import check_version, items_of, utcnow
from crmcore.cases import Case
from crmcore.customers import Customer
from crmcore.errors import (
    DataError,
    DuplicateRecord,
    NotFound,
    ValidationError,
    VersionConflict,
    join_path,
)
from crmcore.ids import (
    OpportunityId,
    is_case_id,
    is_customer_id,
    is_lead_id,
    is_opportunity_id,
    is_task_id,
)
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord, Snapshot
from crmcore.opportunities import Opportunity
from crmcore.storage._common import (
    CASE_FIELDS,
    MAX_LIMIT,
    MAX_MICROS,
    MIN_MICROS,
    OPPORTUNITY_FIELDS,
    SORT_FIELDS,
    TASK_FIELDS,
    Condition,
    FieldSpec,
    case_row,
    check_totals_by,
    compile_filters,
    is_unicode,
    micros,
    opportunity_row,
    stamped,
    task_row,
)
from crmcore.storage.protocols import DEFAULT_PAGE_SIZE, Filter, LoadedRecord, Page, Total
from crmcore.tasks import Task
from crmcore.values import recheck_email, recheck_phone

R = TypeVar("R", bound=Customer | Lead)
Rec = TypeVar("Rec")
W = TypeVar("W", bound=Opportunity | Task | Case)
IdT = TypeVar("IdT", bound=str)
T = TypeVar("T")

WORK_ITEM_TYPES: Final = (Opportunity, Task, Case)
"""The entities of :class:`~crmcore.storage.SupportsWorkItems`."""
LOADABLE: Final = (Customer, Lead, Interaction, MergeRecord, *WORK_ITEM_TYPES)
"""Every entity :meth:`~crmcore.storage.SupportsLoad.load` places."""

MAX_CHAIN: Final = 1_000
"""How many merges deep ``resolve`` follows before calling the chain broken."""

TIMELINE_TAG: Final = "timeline"
"""The ordering tag of ``list_for`` cursors (newest first)."""


@attrs.frozen
class Errors:
    """The errors one repository raises, worded with its noun (``"customer"``, ...)."""

    noun: str

    def not_found(self) -> NotFound:
        """No record with this id is stored."""
        return NotFound(f"no {self.noun} with this id is stored")

    def conflict(self, expected: int, actual: int) -> VersionConflict:
        """The stored version is not the one the caller read."""
        return VersionConflict(
            f"the {self.noun} changed since this copy was read", expected=expected, actual=actual
        )

    def duplicate(self) -> DuplicateRecord:
        """A record with this id is already stored."""
        article = "an" if self.noun[0] in "aeiou" else "a"
        return DuplicateRecord(f"{article} {self.noun} with this id is already stored")

    def unreadable(self) -> DataError:
        """A stored document of this kind cannot be decoded (the store is at fault)."""
        return DataError(f"a stored {self.noun} cannot be read")

    def found(self, current: T | None) -> T:
        """``current``, or :class:`~crmcore.NotFound` when it is ``None``."""
        if current is None:
            raise self.not_found()
        return current

    def check_version(self, actual: int | None, expected: int | None) -> int:
        """Compare-and-set: the stored version ``actual`` must be ``expected`` (unless ``None``).

        Raises:
            NotFound: ``actual`` is ``None`` (nothing is stored).
            VersionConflict: the versions differ.
        """
        if actual is None:
            raise self.not_found()
        if expected is not None and actual != expected:
            raise self.conflict(expected, actual)
        return actual


def external_id_taken() -> DuplicateRecord:
    """An update gives an interaction the ``external_id`` of another one."""
    return DuplicateRecord("another interaction has this external id")


def check_external_id(external_id: object) -> str:
    """The argument of ``find_by_external_id``: text."""
    # A lone surrogate matches nothing in memory but cannot reach SQLite at
    # all: refused here, both stores answer the same.
    if not isinstance(external_id, str) or not is_unicode(external_id):
        raise ValidationError("external_id", "must be text")
    return external_id


def check_batch_size(batch_size: object) -> int:
    """The ``batch_size`` of ``iter_all``: 1 to MAX_LIMIT."""
    size = check_limit(batch_size, field="batch_size")
    assert size is not None
    return size


def check_keys(keys: Iterable[str]) -> list[str]:
    """Blocking keys given to ``find_by_keys``: text, deduplicated."""
    result = []
    seen = set()
    for key in items_of(keys, "keys"):
        if not isinstance(key, str) or not is_unicode(key):
            raise ValidationError("keys", "must all be text")
        if key not in seen:
            seen.add(key)
            result.append(key)
    return result


def check_limit(limit: object, *, optional: bool = False, field: str = "limit") -> int | None:
    """A page size: 1 to MAX_LIMIT (``None`` allowed when ``optional``)."""
    if limit is None and optional:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(field, f"must be an integer from 1 to {MAX_LIMIT}")
    return limit


def check_order(order_by: object, descending: object) -> tuple[str, bool]:
    """An ordering: a sortable field and a direction."""
    if order_by not in SORT_FIELDS:
        raise ValidationError("order_by", f"must be one of {', '.join(SORT_FIELDS)}")
    if not isinstance(descending, bool):
        raise ValidationError("descending", "must be true or false")
    assert isinstance(order_by, str)
    return order_by, descending


def check_expected_version(value: object) -> int | None:
    """An ``expected_version`` argument: ``None`` or a positive 64-bit integer."""
    if value is None:
        return None
    check_version(value, "expected_version", least=1)
    assert isinstance(value, int)
    return value


def encode_cursor(tag: str, sort_value: str | int, record_id: str) -> str:
    """An opaque cursor: where the previous page stopped, for one ordering."""
    raw = json.dumps([tag, sort_value, record_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# The exact JSON text encode_cursor writes: a list of a tag, a sort value (text
# or a bare integer) and an id, without spaces. ``json.dumps`` escapes every
# non-ASCII character, so a string is printable ASCII and escapes (never of a
# lone surrogate, which no id holds and no SQLite driver can bind). Matching
# this before ``json.loads`` refuses a crafted cursor (1,400 ``[``) without the
# parser recursing, and keeps an integer to at most 19 digits.
_STRING: Final = r'"(?:[ !#-\[\]-~]|\\["\\/bfnrt]|\\u(?![dD][89a-fA-F])[0-9a-fA-F]{4})*"'
_INTEGER: Final = r"-?(?:0|[1-9][0-9]{0,18})"
_CURSOR_TEXT: Final = re.compile(rf"\[{_STRING},(?:{_STRING}|{_INTEGER}),{_STRING}\]")


def decode_cursor(cursor: object, tag: str, value_type: type) -> tuple[Any, str]:
    """Read a cursor made by :func:`encode_cursor` for the same ordering ``tag``.

    Only the exact shape :func:`encode_cursor` writes is read; an integer sort
    value must be a timestamp (microseconds within ``datetime``'s range), so
    every store answers a forged one the same way.

    Raises:
        ValidationError: naming ``cursor`` when it is malformed or was made
            for another ordering.
    """
    if not isinstance(cursor, str) or len(cursor) > 2_000:
        raise ValidationError("cursor", "is not a cursor")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if _CURSOR_TEXT.fullmatch(text) is None:
            raise ValueError("not the shape encode_cursor writes")
        data = json.loads(text)
    except (ValueError, binascii.Error):
        raise ValidationError("cursor", "is not a cursor") from None
    value = data[1]
    if type(value) is not value_type or (
        type(value) is int and not MIN_MICROS <= value <= MAX_MICROS
    ):
        raise ValidationError("cursor", "is not a cursor")
    if data[0] != tag:
        raise ValidationError("cursor", "belongs to another ordering")
    return value, data[2]


def order_tag(entity: str, order_by: str, descending: bool) -> str:
    """What a cursor records about its ordering, so it is refused under another one."""
    return f"{entity}:{order_by}:{'desc' if descending else 'asc'}"


def check_record(record: object, cls: type, field: str = "record", *, at: str = "") -> None:
    """Refuse anything but the repository's entity type, and what no store could read back.

    The entity constructors check every field; what they cannot see is an
    email or a phone number built with ``trusted()`` from parts that were never
    validated. Such a record would make every later read of the store fail
    (``get``, the pages and timelines holding it, ``iter_all``, duplicate
    detection), so it is refused before anything is written.

    Args:
        record: what the caller asks to write.
        cls: the repository's entity type.
        field: the name a record of the wrong type is refused under.
        at: where the record sits in the call (``records[3]`` in a batch), put
            in front of the path of a value that no store could read back.

    Raises:
        ValidationError: naming ``field``, or the value's path
            (``records[3].emails[0].address``).
    """
    if not isinstance(record, cls):
        raise ValidationError(field, f"must be a {cls.__name__}")
    if isinstance(record, Customer | Lead):
        _check_contact_points(record, at)
    elif isinstance(record, MergeRecord):
        for side in ("before", "after"):
            snapshot: Snapshot = getattr(record, side)
            for i, customer in enumerate(snapshot.customers):
                _check_contact_points(customer, join_path(at, f"{side}.customers[{i}]"))
            for i, lead in enumerate(snapshot.leads):
                _check_contact_points(lead, join_path(at, f"{side}.leads[{i}]"))


def _check_contact_points(record: Customer | Lead, at: str) -> None:
    # Emails and phones are the only values a record holds that can skip
    # validation (their trusted() constructors); everything else was checked
    # when the record was built.
    # The path is only spelled out for a refusal: this runs for every record written.
    for i, email in enumerate(record.emails):
        try:
            recheck_email(email.address, "")
        except ValidationError as exc:
            raise exc.prefixed(join_path(at, f"emails[{i}].address")) from None
    for i, phone in enumerate(record.phones):
        try:
            recheck_phone(phone.number, "")
        except ValidationError as exc:
            raise exc.prefixed(join_path(at, f"phones[{i}].number")) from None


def check_load(records: Iterable[object], *, work_items: bool = True) -> list[LoadedRecord]:
    """The batch of :meth:`~crmcore.storage.SupportsLoad.load`: records only, each readable.

    Args:
        records: what the caller asks to place.
        work_items: whether the store keeps opportunities, tasks and cases
            (:class:`~crmcore.storage.SupportsWorkItems`); when ``False`` they
            are refused like anything else that is not a record of the store.

    Raises:
        ValidationError: naming ``records`` (not a collection) or ``records[i]``.
    """
    batch = items_of(records, "records")
    kinds = LOADABLE if work_items else LOADABLE[:4]
    for i, record in enumerate(batch):
        if not isinstance(record, kinds):
            names = ", ".join(k.__name__ for k in kinds[:-1])
            raise ValidationError(f"records[{i}]", f"must be a {names} or {kinds[-1].__name__}")
        check_record(record, type(record), at=f"records[{i}]")
    return batch


def check_interaction(interaction: object) -> Interaction:
    """Refuse anything but an Interaction."""
    check_record(interaction, Interaction, "interaction")
    assert isinstance(interaction, Interaction)
    return interaction


@attrs.frozen
class ListQuery:
    """The checked arguments of ``list()``: conditions, ordering, page size, resume point."""

    conditions: tuple[Condition, ...]
    order_by: str
    descending: bool
    size: int
    tag: str
    after: tuple[Any, str] | None


def check_list_args(
    noun: str,
    fields: Mapping[str, FieldSpec],
    filters: Iterable[object],
    order_by: object,
    descending: object,
    limit: object,
    cursor: object,
) -> ListQuery:
    """Check every argument of ``list()``; a cursor must belong to the same ordering."""
    conditions = compile_filters(fields, filters)
    order, desc = check_order(order_by, descending)
    size = check_limit(limit)
    assert size is not None
    tag = order_tag(noun, order, desc)
    after = None
    if cursor is not None:
        after = decode_cursor(cursor, tag, str if order == "id" else int)
    return ListQuery(conditions, order, desc, size, tag, after)


def page_of(
    rows: Sequence[tuple[Any, ...]],
    size: int | None,
    tag: str,
    items: Callable[[Sequence[tuple[Any, ...]]], Iterable[T]],
) -> Page[T]:
    """A page from rows ``(sort value, id, ...)`` in page order, fetched up to ``size + 1``.

    ``items`` turns rows into records; a next cursor is made when more rows
    than ``size`` came back (``size`` ``None``: everything is one page).
    """
    if size is None or len(rows) <= size:
        return Page(tuple(items(rows)), None)
    page = rows[:size]
    return Page(tuple(items(page)), encode_cursor(tag, page[-1][0], page[-1][1]))


def get_many_of(
    ids: Iterable[str], field: str, fetch: Callable[[list[str]], Mapping[str, T]]
) -> dict[Any, T]:
    """``get_many``: check the collection, ask ``fetch`` for the distinct text ids once.

    The result keeps the order asked; ids that are not stored (or not text,
    or not valid Unicode, which no id is) are left out.
    """
    wanted = list(
        dict.fromkeys(i for i in items_of(ids, field) if isinstance(i, str) and is_unicode(i))
    )
    found = fetch(wanted)
    return {i: found[i] for i in wanted if i in found}


C = TypeVar("C")
L = TypeVar("L")
In = TypeVar("In")
M = TypeVar("M")


class StoreFront(Generic[C, L, In, M]):
    """A store's repositories as properties, and use as a context manager.

    A backend sets ``_customers``, ``_leads``, ``_interactions`` and ``_merges``
    in its constructor and implements ``close()``.
    """

    _customers: C
    _leads: L
    _interactions: In
    _merges: M

    @property
    def customers(self) -> C:
        """The customers."""
        return self._customers

    @property
    def leads(self) -> L:
        """The leads."""
        return self._leads

    @property
    def interactions(self) -> In:
        """The interactions."""
        return self._interactions

    @property
    def merges(self) -> M:
        """The merge records."""
        return self._merges

    def close(self) -> None:
        """Release the store; it refuses further use."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RecordsFront(Generic[Rec, IdT]):
    """``list()``, ``count()`` and ``iter_all()`` of any repository (customers, leads, work
    items); a backend implements ``_list`` and ``_count``.

    A subclass sets ``_entity`` (the noun: ``"customer"``) and ``_fields`` (the
    allow-list: :data:`CUSTOMER_FIELDS`, :data:`LEAD_FIELDS`, ...).
    """

    _entity: str
    _fields: Mapping[str, FieldSpec]

    def list(
        self,
        *filters: Filter,
        order_by: str = "id",
        descending: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Rec]:
        """See :meth:`crmcore.storage.ItemRepository.list`."""
        query = check_list_args(
            self._entity, self._fields, filters, order_by, descending, limit, cursor
        )
        return self._list(query)

    def _list(self, query: ListQuery) -> Page[Rec]:
        """One page for checked arguments (build it with :func:`page_of`)."""
        raise NotImplementedError

    def count(self, *filters: Filter) -> int:
        """See :meth:`crmcore.storage.ItemRepository.count`."""
        return self._count(compile_filters(self._fields, filters))

    def _count(self, conditions: Sequence[Condition]) -> int:
        """How many records meet checked ``conditions`` (a backend implements it)."""
        raise NotImplementedError

    def iter_all(self, *, batch_size: int = 500) -> Iterator[Rec]:
        """See :meth:`crmcore.storage.ItemRepository.iter_all` (keyset pages of ``list()``)."""
        size = check_batch_size(batch_size)
        cursor = None
        while True:
            page = self.list(limit=size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class TypedRecords(RecordsFront[R, IdT]):
    """What both built-in record repositories hold besides their storage.

    Not part of :mod:`crmcore.storage.front`: a third party's subclass of
    :class:`RecordsFront` keeps setting ``_entity`` and ``_fields`` its own way.
    """

    def __init__(
        self,
        cls: type[R],
        entity: str,
        fields: Mapping[str, FieldSpec],
        row: Callable[[R], dict[str, Any]],
    ) -> None:
        self._cls = cls
        self._entity = entity
        self._fields = fields
        self._row = row
        self._errors = Errors(entity)

    def _check(self, record: object, at: str = "") -> R:
        check_record(record, self._cls, self._entity, at=at)
        return record  # type: ignore[return-value]

    def find_by_keys(self, keys: Iterable[str], *, limit: int | None = None) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_keys`."""
        return self._key_matches(check_keys(keys), check_limit(limit, optional=True))

    def _key_matches(self, keys: builtins.list[str], size: int | None) -> builtins.list[R]:
        """The records holding any of checked blocking ``keys``: the first ``size`` by id."""
        raise NotImplementedError


class InteractionsFront:
    """The argument side of an interaction repository.

    A backend implements ``_timeline`` (checked ``list_for`` arguments) and
    ``_find_external`` (a checked external id).
    """

    def list_for(
        self,
        record_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        channel: Channel | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Interaction]:
        """See :meth:`crmcore.storage.InteractionRepository.list_for`."""
        low, high, chan, size, after = check_timeline_args(
            record_id, since, until, channel, limit, cursor
        )
        return self._timeline(record_id, Timeline(low, high, chan, size, after))

    def find_by_external_id(self, external_id: str) -> Interaction | None:
        """See :meth:`crmcore.storage.InteractionRepository.find_by_external_id`."""
        return self._find_external(check_external_id(external_id))

    def _timeline(self, record_id: str, query: Timeline) -> Page[Interaction]:
        """One timeline page, newest first (build it with :func:`page_of`, ``TIMELINE_TAG``)."""
        raise NotImplementedError

    def _find_external(self, external_id: str) -> Interaction | None:
        """The interaction with this external id, if any."""
        raise NotImplementedError


@attrs.frozen
class Timeline:
    """The checked arguments of ``list_for``: bounds (microseconds), channel, size, resume."""

    since: int | None
    until: int | None
    channel: Channel | None
    size: int | None
    after: tuple[int, str] | None


def resolve_chain(get: Callable[[Any], R], record_id: Any) -> R:
    """Follow ``merged_into`` from ``record_id`` to the live record.

    Raises:
        NotFound: a record on the chain is not stored.
        DataError: the chain loops or is absurdly long (a corrupt store).
    """
    record = get(record_id)
    seen = {record.id}
    while record.merged_into is not None:
        record = get(record.merged_into)
        if record.id in seen or len(seen) > MAX_CHAIN:
            raise DataError("the chain of merges from this record loops")
        seen.add(record.id)
    return record


def check_record_id(record_id: object) -> str:
    """The ``record_id`` of ``merges.list_for``: text (a list must not reach a driver)."""
    if not isinstance(record_id, str) or not is_unicode(record_id):
        raise ValidationError("record_id", "must be a customer or lead id")
    return record_id


def check_timeline_args(
    record_id: object,
    since: object,
    until: object,
    channel: object,
    limit: object,
    cursor: object,
) -> tuple[int | None, int | None, Channel | None, int | None, tuple[int, str] | None]:
    """Check ``list_for``'s arguments; times become microseconds since the epoch.

    ``record_id`` is a customer or lead id (a timeline) or a case id (the case's thread).
    """
    if not (is_customer_id(record_id) or is_lead_id(record_id) or is_case_id(record_id)):
        raise ValidationError("record_id", "must be a customer, lead or case id")
    bounds: list[int | None] = []
    for name, value in (("since", since), ("until", until)):
        if value is None:
            bounds.append(None)
        elif isinstance(value, datetime) and value.utcoffset() is not None:
            bounds.append(micros(value, name))
        else:
            raise ValidationError(name, "must be a timezone-aware datetime")
    if channel is not None and not isinstance(channel, Channel):
        raise ValidationError("channel", "must be a Channel")
    size = check_limit(limit, optional=True)
    after = None
    if cursor is not None:
        after = decode_cursor(cursor, TIMELINE_TAG, int)
    return bounds[0], bounds[1], channel, size, after


Opps = TypeVar("Opps")
Tk = TypeVar("Tk")
K = TypeVar("K")


class WorkItemsFront(Generic[Opps, Tk, K]):
    """A store's work item repositories as properties (:class:`~crmcore.storage.SupportsWorkItems`).

    A backend mixes it into its store (beside :class:`StoreFront`) and sets
    ``_opportunities``, ``_tasks`` and ``_cases`` in its constructor.
    """

    _opportunities: Opps
    _tasks: Tk
    _cases: K

    @property
    def opportunities(self) -> Opps:
        """The opportunities (the sales pipeline)."""
        return self._opportunities

    @property
    def tasks(self) -> Tk:
        """The tasks (planned follow-ups)."""
        return self._tasks

    @property
    def cases(self) -> K:
        """The support cases."""
        return self._cases


@attrs.frozen
class ItemKind(Generic[W]):
    """What a work item repository knows of its entity: everything but its storage.

    The one parameter of :class:`ItemsFront`; :data:`OPPORTUNITIES`,
    :data:`TASKS` and :data:`CASES` are crmcore's three.
    """

    cls: type[W]
    noun: str
    """How errors name one item (``"opportunity"``)."""
    is_id: Callable[[object], bool]
    """Whether a value is a well-formed id of this kind (anything else names nothing)."""
    fields: Mapping[str, FieldSpec]
    """The allow-list of filterable fields."""
    row: Callable[[W], dict[str, Any]]
    """The filterable columns of an item (what :func:`matches` reads)."""
    history: str | None = None
    """The item's append-only history field (``"stage_history"``), if it has one."""


OPPORTUNITIES: Final = ItemKind(
    Opportunity,
    "opportunity",
    is_opportunity_id,
    OPPORTUNITY_FIELDS,
    opportunity_row,
    history="stage_history",
)
TASKS: Final = ItemKind(Task, "task", is_task_id, TASK_FIELDS, task_row)
CASES: Final = ItemKind(Case, "case", is_case_id, CASE_FIELDS, case_row, history="history")


def check_history(kind: ItemKind[W], stored: W, item: W) -> None:
    """Refuse a copy whose history does not start with the stored one (it is append-only).

    Raises:
        ValidationError: naming the history field (``stage_history``).
    """
    if kind.history is None:
        return
    old: tuple[object, ...] = getattr(stored, kind.history)
    new: tuple[object, ...] = getattr(item, kind.history)
    if new[: len(old)] != old:
        raise ValidationError(kind.history, "is append-only: a stored entry was changed or removed")


class ItemsFront(RecordsFront[W, IdT]):
    """One work item repository above its storage: every check, error and page rule.

    A backend subclasses it once for all three kinds (``ItemsFront(kind)``)
    and supplies the reads and writes: :meth:`_fetch`, :meth:`_insert`,
    :meth:`_change`, :meth:`_count` and ``_list`` (and ``_totals`` for
    opportunities, :class:`OpportunitiesFront`); ``list()`` and
    ``iter_all()`` come from :class:`RecordsFront`. Compare-and-set, the append-only history and the
    ``NotFound``/``VersionConflict``/``DuplicateRecord`` errors are decided
    here, inside the backend's write, from the stored copy it passes in.
    """

    def __init__(self, kind: ItemKind[W]) -> None:
        self._kind = kind
        self._entity = kind.noun
        self._fields = kind.fields
        self._errors = Errors(kind.noun)

    # ------------------------------------------------------------------ the backend's part

    def _fetch(self, ids: builtins.list[str]) -> Mapping[str, W]:
        """The stored items among ``ids`` (distinct, valid text), by id."""
        raise NotImplementedError

    def _insert(self, batch: builtins.list[W]) -> None:
        """Store checked new items, already stamped version 1, all or none.

        Raise ``self._errors.duplicate()`` when an id is already stored or
        repeats within the batch (and store nothing).
        """
        raise NotImplementedError

    def _change(self, item_id: str, change: Callable[[W | None], W | None]) -> None:
        """In one write: read the stored item (``None``: absent), call ``change`` on it,
        and store what it returns in its place (``None``: delete it).

        ``change`` raises to refuse the write; nothing must be written then.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ checks

    def _check(self, item: object, at: str = "") -> W:
        check_record(item, self._kind.cls, self._kind.noun, at=at)
        return item  # type: ignore[return-value]

    def _wanted(self, item_id: object) -> str:
        if not self._kind.is_id(item_id):
            raise self._errors.not_found()
        assert isinstance(item_id, str)
        return item_id

    def _successor(self, item: W) -> Callable[[W | None], W]:
        def change(current: W | None) -> W:
            stored = self._errors.found(current)
            self._errors.check_version(stored.version, item.version)
            check_history(self._kind, stored, item)
            return stamped(item, stored.version + 1, utcnow())

        return change

    # ------------------------------------------------------------------ writes

    def _add_checked(self, checked: builtins.list[W]) -> builtins.list[W]:
        now = utcnow()
        batch = [stamped(w, 1, now) for w in checked]
        if batch:
            self._insert(batch)
        return batch

    def add(self, item: W) -> W:
        """See :meth:`crmcore.storage.ItemRepository.add`."""
        return self._add_checked([self._check(item)])[0]

    def add_many(self, items: Iterable[W]) -> builtins.list[W]:
        """See :meth:`crmcore.storage.ItemRepository.add_many`."""
        return self._add_checked(
            [self._check(w, f"items[{i}]") for i, w in enumerate(items_of(items, "items"))]
        )

    def update(self, item: W) -> W:
        """See :meth:`crmcore.storage.ItemRepository.update`."""
        successor = self._successor(self._check(item))
        result: builtins.list[W] = []

        def change(current: W | None) -> W:
            result.append(successor(current))
            return result[-1]

        self._change(self._wanted(item.id), change)
        return result[-1]

    def delete(self, item_id: str, *, expected_version: int | None = None) -> None:
        """See :meth:`crmcore.storage.ItemRepository.delete`."""
        expected = check_expected_version(expected_version)

        def change(current: W | None) -> None:
            stored = self._errors.found(current)
            self._errors.check_version(stored.version, expected)

        self._change(self._wanted(item_id), change)

    # ------------------------------------------------------------------ reads

    def get(self, item_id: str) -> W:
        """See :meth:`crmcore.storage.ItemRepository.get`."""
        wanted = self._wanted(item_id)
        return self._errors.found(self._fetch([wanted]).get(wanted))

    def get_many(self, item_ids: Iterable[str]) -> dict[IdT, W]:
        """See :meth:`crmcore.storage.ItemRepository.get_many`."""
        is_id = self._kind.is_id
        return get_many_of(
            item_ids, "item_ids", lambda ids: self._fetch([i for i in ids if is_id(i)])
        )


class OpportunitiesFront(ItemsFront[Opportunity, OpportunityId]):
    """:class:`ItemsFront` for opportunities (built with :data:`OPPORTUNITIES`), with ``totals``.

    A backend adds :meth:`_totals`.
    """

    def totals(self, *filters: Filter, by: Sequence[str] = ()) -> builtins.list[Total]:
        """See :meth:`crmcore.storage.OpportunityRepository.totals`."""
        conditions = compile_filters(self._fields, filters)
        return self._totals(conditions, check_totals_by(by))

    def _totals(self, conditions: Sequence[Condition], by: tuple[str, ...]) -> builtins.list[Total]:
        """The totals of the items meeting checked ``conditions``, grouped by checked ``by``.

        :func:`~crmcore.storage.front.totals_of` is the reference semantics
        (sum with :func:`~crmcore.storage.front.exact_sum`).
        """
        raise NotImplementedError
