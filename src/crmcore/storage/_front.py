"""What every crmcore store shares above its reads and writes.

A backend (in memory, SQLite, a third party's) supplies only how records are
read and written; the argument checks, the errors a compare-and-set raises,
pages and their cursors, and ``resolve`` live here so that every store means
the same thing by them. The public face of this module is
:mod:`crmcore.storage.front`.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

import attrs

from crmcore._validation import check_version, items_of
from crmcore.customers import Customer
from crmcore.errors import (
    DataError,
    DuplicateRecord,
    NotFound,
    ValidationError,
    VersionConflict,
    join_path,
)
from crmcore.ids import is_customer_id, is_lead_id
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord, Snapshot
from crmcore.storage._common import (
    MAX_LIMIT,
    MAX_MICROS,
    MIN_MICROS,
    SORT_FIELDS,
    Condition,
    FieldSpec,
    compile_filters,
    is_unicode,
    micros,
)
from crmcore.storage.protocols import DEFAULT_PAGE_SIZE, Filter, Page
from crmcore.values import recheck_email, recheck_phone

R = TypeVar("R", bound=Customer | Lead)
IdT = TypeVar("IdT", bound=str)
T = TypeVar("T")

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


def check_load(
    records: Iterable[object],
) -> list[Customer | Lead | Interaction | MergeRecord]:
    """The batch of :meth:`~crmcore.storage.SupportsLoad.load`: records only, each readable.

    Raises:
        ValidationError: naming ``records`` (not a collection) or ``records[i]``.
    """
    batch = items_of(records, "records")
    for i, record in enumerate(batch):
        if not isinstance(record, Customer | Lead | Interaction | MergeRecord):
            raise ValidationError(
                f"records[{i}]", "must be a Customer, Lead, Interaction or MergeRecord"
            )
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


class RecordsFront(Generic[R, IdT]):
    """The argument side of a customer or lead repository; a backend implements ``_list``.

    A subclass sets ``_entity`` (the noun: ``"customer"``) and ``_fields`` (the
    allow-list: :data:`CUSTOMER_FIELDS`, :data:`LEAD_FIELDS`).
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
    ) -> Page[R]:
        """See :meth:`crmcore.storage.RecordRepository.list`."""
        query = check_list_args(
            self._entity, self._fields, filters, order_by, descending, limit, cursor
        )
        return self._list(query)

    def _list(self, query: ListQuery) -> Page[R]:
        """One page for checked arguments (build it with :func:`page_of`)."""
        raise NotImplementedError


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

    def count(self, *filters: Filter) -> int:
        """See :meth:`crmcore.storage.RecordRepository.count`."""
        return self._count(compile_filters(self._fields, filters))

    def find_by_keys(self, keys: Iterable[str], *, limit: int | None = None) -> builtins.list[R]:
        """See :meth:`crmcore.storage.RecordRepository.find_by_keys`."""
        return self._key_matches(check_keys(keys), check_limit(limit, optional=True))

    def _count(self, conditions: Sequence[Condition]) -> int:
        """How many records meet checked ``conditions``."""
        raise NotImplementedError

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
    """Check ``list_for``'s arguments; times become microseconds since the epoch."""
    if not (is_customer_id(record_id) or is_lead_id(record_id)):
        raise ValidationError("record_id", "must be a customer or lead id")
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
