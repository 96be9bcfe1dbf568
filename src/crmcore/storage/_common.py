"""The row and filter layer every crmcore store shares: allow-lists, filters, index rows.

Both reference stores go through these functions, so a filter means the same
thing in memory and in SQL: values are normalised once here (enums to their
value, datetimes to integer microseconds since the epoch, dates to ISO text)
and the stores compare the normalised forms.
"""

from __future__ import annotations

import decimal
import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, TypeVar, cast

import attrs

from crmcore.cases import Case, CaseStatus
from crmcore.customers import Customer, CustomerKind, LifecycleStage
from crmcore.errors import ValidationError
from crmcore.interactions import Channel, Interaction
from crmcore.leads import Lead, LeadSource, LeadStatus
from crmcore.opportunities import Opportunity
from crmcore.pipelines import DealStatus
from crmcore.storage.keys import EMAIL_PREFIX, PHONE_PREFIX, KeyFunction, identifier_key
from crmcore.storage.protocols import TOTALS_BY, Filter, Op, Total
from crmcore.tasks import Priority, Task, TaskKind, TaskStatus
from crmcore.values import normalize_tags

E = TypeVar("E", bound=Customer | Lead | Interaction | Opportunity | Task | Case)

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)
MAX_LIMIT: Final = 10_000
MAX_TEXT: Final = 1_000
SORT_FIELDS: Final = ("id", "created_at", "updated_at")

# Namespaces of the lookup index: one table (or dict) answers every lookup.
NS_EMAIL: Final = "e"
NS_PHONE: Final = "p"
NS_IDENTIFIER: Final = "i"
NS_KEY: Final = "k"
IDENTIFIER_SEPARATOR: Final = "\x1f"  # cannot occur in a scheme, so never ambiguous


def micros(value: datetime, field: str = "datetime") -> int:
    """Microseconds since the epoch: an exact, sortable integer form of a timestamp.

    Raises:
        ValidationError: naming ``field`` when ``value``'s UTC moment is
            outside ``datetime``'s range (year 9999 at -05:00): no record can
            hold it, and it could not be turned back into a datetime.
    """
    # Subtracting aware datetimes never overflows, so the range is checked on
    # the integer rather than by converting to UTC first.
    result = (value - EPOCH) // _MICRO
    if not MIN_MICROS <= result <= MAX_MICROS:
        raise ValidationError(field, "is outside the range of datetimes in UTC")
    return result


MIN_MICROS: Final = (datetime.min.replace(tzinfo=UTC) - EPOCH) // _MICRO
"""The earliest timestamp, in microseconds since the epoch."""
MAX_MICROS: Final = (datetime.max.replace(tzinfo=UTC) - EPOCH) // _MICRO
"""The latest timestamp, in microseconds since the epoch (well inside 64 bits)."""


class Kind(enum.Enum):
    """How a field's filter values are checked and normalised."""

    TEXT = "text"
    INT = "int"
    DATETIME = "datetime"
    DATE = "date"
    ENUM = "enum"
    TAGS = "tags"
    IDS = "ids"
    """A collection of exact ids (an opportunity's ``contact_ids``): ``contains`` only."""


@attrs.frozen
class FieldSpec:
    """One allow-listed field: what it holds and which operators apply."""

    name: str
    kind: Kind
    ops: frozenset[Op]
    nullable: bool = False
    enum_type: type[enum.Enum] | None = None


def _spec(
    name: str,
    kind: Kind,
    *ops: Op,
    nullable: bool = False,
    enum_type: type[enum.Enum] | None = None,
) -> FieldSpec:
    return FieldSpec(name, kind, frozenset(ops), nullable, enum_type)


_TEXT_OPS = (Op.EQ, Op.IN, Op.PREFIX)


def _allow_list(*specs: FieldSpec) -> Mapping[str, FieldSpec]:
    """An entity's allow-list: its ``specs`` between the fields every entity has.

    Every entity has an ``id`` (first), ``tags`` and its two timestamps (last).
    """
    common_last = (
        _spec("tags", Kind.TAGS, Op.CONTAINS),
        _spec("created_at", Kind.DATETIME, Op.EQ, Op.IN, Op.RANGE),
        _spec("updated_at", Kind.DATETIME, Op.EQ, Op.IN, Op.RANGE),
    )
    return {f.name: f for f in (_spec("id", Kind.TEXT, *_TEXT_OPS), *specs, *common_last)}


CUSTOMER_FIELDS: Final = _allow_list(
    _spec("kind", Kind.ENUM, Op.EQ, Op.IN, enum_type=CustomerKind),
    _spec("stage", Kind.ENUM, Op.EQ, Op.IN, enum_type=LifecycleStage),
    _spec("owner", Kind.TEXT, *_TEXT_OPS, nullable=True),
    _spec("organization_id", Kind.TEXT, Op.EQ, Op.IN, nullable=True),
    _spec("merged_into", Kind.TEXT, Op.EQ, Op.IN, nullable=True),
    _spec("birth_date", Kind.DATE, Op.EQ, Op.IN, Op.RANGE, nullable=True),
)

LEAD_FIELDS: Final = _allow_list(
    _spec("status", Kind.ENUM, Op.EQ, Op.IN, enum_type=LeadStatus),
    _spec("source", Kind.ENUM, Op.EQ, Op.IN, nullable=True, enum_type=LeadSource),
    _spec("owner", Kind.TEXT, *_TEXT_OPS, nullable=True),
    _spec("company", Kind.TEXT, *_TEXT_OPS, nullable=True),
    _spec("score", Kind.INT, Op.EQ, Op.IN, Op.RANGE, nullable=True),
    _spec("converted_customer_id", Kind.TEXT, Op.EQ, Op.IN, nullable=True),
    _spec("merged_into", Kind.TEXT, Op.EQ, Op.IN, nullable=True),
)

OPPORTUNITY_FIELDS: Final = _allow_list(
    _spec("customer_id", Kind.TEXT, Op.EQ, Op.IN),
    _spec("contact_ids", Kind.IDS, Op.CONTAINS),
    _spec("pipeline_id", Kind.TEXT, Op.EQ, Op.IN),
    _spec("stage_id", Kind.TEXT, Op.EQ, Op.IN),
    _spec("status", Kind.ENUM, Op.EQ, Op.IN, enum_type=DealStatus),
    _spec("owner", Kind.TEXT, *_TEXT_OPS, nullable=True),
    _spec("lead_id", Kind.TEXT, Op.EQ, Op.IN, nullable=True),
    _spec("source", Kind.ENUM, Op.EQ, Op.IN, nullable=True, enum_type=LeadSource),
    _spec("currency", Kind.TEXT, Op.EQ, Op.IN, nullable=True),
    _spec("close_date", Kind.DATE, Op.EQ, Op.IN, Op.RANGE, nullable=True),
    _spec("closed_at", Kind.DATETIME, Op.EQ, Op.IN, Op.RANGE, nullable=True),
)

TASK_FIELDS: Final = _allow_list(
    _spec("kind", Kind.ENUM, Op.EQ, Op.IN, enum_type=TaskKind),
    _spec("status", Kind.ENUM, Op.EQ, Op.IN, enum_type=TaskStatus),
    _spec("priority", Kind.ENUM, Op.EQ, Op.IN, enum_type=Priority),
    _spec("assignee", Kind.TEXT, *_TEXT_OPS, nullable=True),
    # A prefix finds the tasks about any opportunity ("opp_"), case, ...
    _spec("about_id", Kind.TEXT, *_TEXT_OPS, nullable=True),
    _spec("due_at", Kind.DATETIME, Op.EQ, Op.IN, Op.RANGE, nullable=True),
    _spec("completed_at", Kind.DATETIME, Op.EQ, Op.IN, Op.RANGE, nullable=True),
)

CASE_FIELDS: Final = _allow_list(
    _spec("customer_id", Kind.TEXT, Op.EQ, Op.IN),
    _spec("status", Kind.ENUM, Op.EQ, Op.IN, enum_type=CaseStatus),
    _spec("priority", Kind.ENUM, Op.EQ, Op.IN, enum_type=Priority),
    _spec("channel", Kind.ENUM, Op.EQ, Op.IN, enum_type=Channel),
    _spec("assignee", Kind.TEXT, *_TEXT_OPS, nullable=True),
    _spec("reported_at", Kind.DATETIME, Op.EQ, Op.IN, Op.RANGE),
    _spec("resolved_at", Kind.DATETIME, Op.EQ, Op.IN, Op.RANGE, nullable=True),
)

Scalar = str | int | None


@attrs.frozen
class Condition:
    """A checked filter: the value is normalised (a scalar, a tuple, or a (low, high) pair)."""

    field: str
    op: Op
    value: Any


def _scalar(spec: FieldSpec, value: object, path: str) -> Scalar:
    if value is None:
        if not spec.nullable:
            raise ValidationError(path, "cannot be null for this field")
        return None
    kind = spec.kind
    if kind is Kind.TEXT or kind is Kind.TAGS or kind is Kind.IDS:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ValidationError(path, f"must be text of at most {MAX_TEXT} characters")
        return value.casefold() if kind is Kind.TAGS else value
    if kind is Kind.INT:
        if not isinstance(value, int) or isinstance(value, bool) or not -(2**63) <= value < 2**63:
            raise ValidationError(path, "must be an integer within 64 bits")
        return value
    if kind is Kind.DATETIME:
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValidationError(path, "must be a timezone-aware datetime")
        return micros(value, path)
    if kind is Kind.DATE:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValidationError(path, "must be a date")
        return value.isoformat()
    assert spec.enum_type is not None
    if isinstance(value, spec.enum_type):
        return str(value.value)
    try:
        return str(spec.enum_type(value).value)
    except (ValueError, TypeError):
        raise ValidationError(path, f"must be a {spec.enum_type.__name__}") from None


def compile_filters(
    fields: Mapping[str, FieldSpec], filters: Iterable[object]
) -> tuple[Condition, ...]:
    """Check filters against an allow-list and normalise their values.

    Raises:
        ValidationError: naming ``filters[i]`` (never the value) for an unknown
            field, an operator the field does not take, or a bad value.
    """
    result: list[Condition] = []
    problems: list[tuple[str, str]] = []
    for i, item in enumerate(filters):
        path = f"filters[{i}]"
        try:
            result.append(_compile_one(fields, item, path))
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return tuple(result)


def _compile_one(fields: Mapping[str, FieldSpec], item: object, path: str) -> Condition:
    if not isinstance(item, Filter):
        raise ValidationError(path, "must be a Filter (build one with where())")
    spec = fields.get(item.field) if isinstance(item.field, str) else None
    if spec is None:
        raise ValidationError(f"{path}.field", "is not a field that can be filtered on")
    if item.op not in spec.ops:
        raise ValidationError(f"{path}.op", f"does not apply to the field {spec.name}")
    value_path = f"{path}.value"
    if item.op is Op.IN:
        if not isinstance(item.value, tuple | list | set | frozenset):
            raise ValidationError(value_path, "must be a collection of values")
        if len(item.value) > MAX_LIMIT:
            raise ValidationError(value_path, f"must hold at most {MAX_LIMIT} values")
        values = []
        for j, v in enumerate(item.value):
            if v is None:
                raise ValidationError(f"{value_path}[{j}]", "cannot be null (use eq(None))")
            values.append(_scalar(spec, v, f"{value_path}[{j}]"))
        return Condition(spec.name, Op.IN, tuple(sorted(set(values), key=repr)))
    if item.op is Op.RANGE:
        if not isinstance(item.value, tuple) or len(item.value) != 2:
            raise ValidationError(value_path, "must be a (low, high) pair")
        low, high = item.value
        low_n = None if low is None else _scalar(spec, low, f"{value_path}.low")
        high_n = None if high is None else _scalar(spec, high, f"{value_path}.high")
        return Condition(spec.name, Op.RANGE, (low_n, high_n))
    if item.op is Op.PREFIX:
        if not isinstance(item.value, str):
            raise ValidationError(value_path, "must be text")
        return Condition(spec.name, Op.PREFIX, _scalar(spec, item.value, value_path))
    if item.op is Op.CONTAINS:
        if item.value is None:
            raise ValidationError(value_path, "cannot be null")
        if spec.kind is Kind.IDS:
            # Ids are matched exactly: no folding, unlike tags.
            return Condition(spec.name, Op.CONTAINS, _scalar(spec, item.value, value_path))
        (tag,) = normalize_tags([item.value], value_path)
        return Condition(spec.name, Op.CONTAINS, tag)
    return Condition(spec.name, Op.EQ, _scalar(spec, item.value, value_path))


def matches(conditions: Iterable[Condition], row: Mapping[str, Any]) -> bool:
    """Evaluate checked conditions on an index row (the in-memory reference semantics)."""
    for c in conditions:
        value = row[c.field]
        if c.op is Op.EQ:
            ok = value == c.value
        elif c.op is Op.IN:
            ok = value is not None and value in c.value
        elif c.op is Op.CONTAINS:
            ok = c.value in value
        elif c.op is Op.RANGE:
            low, high = c.value
            ok = (
                value is not None
                and (low is None or value >= low)
                and (high is None or value < high)
            )
        else:
            ok = value is not None and value.startswith(c.value)
        if not ok:
            return False
    return True


def customer_row(c: Customer) -> dict[str, Any]:
    """The indexed columns of a customer (``tags`` as a frozenset)."""
    return {
        "id": c.id,
        "kind": c.kind.value,
        "stage": c.stage.value,
        "owner": c.owner,
        "organization_id": c.organization_id,
        "merged_into": c.merged_into,
        "birth_date": None if c.birth_date is None else c.birth_date.isoformat(),
        "created_at": micros(c.created_at),
        "updated_at": micros(c.updated_at),
        "tags": c.tags,
    }


def lead_row(lead: Lead) -> dict[str, Any]:
    """The indexed columns of a lead (``tags`` as a frozenset)."""
    return {
        "id": lead.id,
        "status": lead.status.value,
        "source": None if lead.source is None else lead.source.value,
        "owner": lead.owner,
        "company": lead.company,
        "score": lead.score,
        "converted_customer_id": lead.converted_customer_id,
        "merged_into": lead.merged_into,
        "created_at": micros(lead.created_at),
        "updated_at": micros(lead.updated_at),
        "tags": lead.tags,
    }


def _optional_micros(value: datetime | None) -> int | None:
    return None if value is None else micros(value)


def _work_row(item: Opportunity | Task | Case, **columns: Any) -> dict[str, Any]:
    # The columns every work item has around its own.
    return {
        "id": item.id,
        **columns,
        "created_at": micros(item.created_at),
        "updated_at": micros(item.updated_at),
        "tags": item.tags,
    }


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text (``"0.25"``, never ``"2.5E-1"``): how totals name a probability.

    Models keep probabilities canonical (``0.50`` is ``0.5``), so equal
    probabilities have equal text in every store.
    """
    return format(value, "f")


def opportunity_row(o: Opportunity) -> dict[str, Any]:
    """The indexed columns of an opportunity: its filters and what ``totals`` groups by.

    ``tags`` and ``contact_ids`` are frozensets; ``amount`` and ``probability``
    are Decimals, ``close_month`` is ``"YYYY-MM"``.
    """
    amount = o.amount
    close = None if o.close_date is None else o.close_date.isoformat()
    return _work_row(
        o,
        customer_id=o.customer_id,
        contact_ids=frozenset(c.customer_id for c in o.contacts),
        pipeline_id=o.pipeline_id,
        stage_id=o.stage_id,
        status=o.status.value,
        owner=o.owner,
        lead_id=o.lead_id,
        source=None if o.source is None else o.source.value,
        currency=None if amount is None else amount.currency,
        amount=None if amount is None else amount.amount,
        probability=o.probability,
        close_date=close,
        close_month=None if close is None else close[:7],
        closed_at=_optional_micros(o.closed_at),
    )


def task_row(t: Task) -> dict[str, Any]:
    """The indexed columns of a task (``tags`` as a frozenset)."""
    return _work_row(
        t,
        kind=t.kind.value,
        status=t.status.value,
        priority=t.priority.value,
        assignee=t.assignee,
        about_id=t.about_id,
        due_at=_optional_micros(t.due_at),
        completed_at=_optional_micros(t.completed_at),
    )


def case_row(c: Case) -> dict[str, Any]:
    """The indexed columns of a support case (``tags`` as a frozenset)."""
    return _work_row(
        c,
        customer_id=c.customer_id,
        status=c.status.value,
        priority=c.priority.value,
        channel=c.channel.value,
        assignee=c.assignee,
        reported_at=micros(c.reported_at),
        resolved_at=_optional_micros(c.resolved_at),
    )


def check_totals_by(by: object) -> tuple[str, ...]:
    """The ``by`` of ``totals``: names from :data:`TOTALS_BY`, each at most once.

    Raises:
        ValidationError: naming ``by`` (a single string is refused too: it is
            a mistake for ``[name]``).
    """
    if isinstance(by, str) or not isinstance(by, Sequence):
        raise ValidationError("by", "must be a sequence of field names")
    names = tuple(by)
    if not all(isinstance(name, str) and name in TOTALS_BY for name in names):
        raise ValidationError("by", f"can only name {', '.join(TOTALS_BY)}")
    if len(set(names)) != len(names):
        raise ValidationError("by", "names a field twice")
    return names


# Sums are exact however many amounts, and whatever their exponents: addition
# at this precision never rounds (libmpdec grows only to the digits it needs).
_EXACT: Final = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[decimal.Inexact]
)


def group_text(field: str, value: object) -> str | None:
    """A row's value of a ``totals`` field as :attr:`Total.group` holds it."""
    if value is None:
        return None
    if field == "probability":
        assert isinstance(value, Decimal)
        return decimal_text(value)
    return str(value)


def _null_first(value: str | None) -> tuple[bool, str]:
    return (value is not None, value or "")


def total_order(total: Total) -> tuple[Any, ...]:
    """The order of ``totals``: by group then currency, ``None`` before any text."""
    return (tuple(_null_first(v) for v in total.group), _null_first(total.currency))


def totals_of(rows: Iterable[Mapping[str, Any]], by: Sequence[str]) -> list[Total]:
    """The reference semantics of ``totals`` over opportunity rows (:func:`opportunity_row`)."""
    groups: dict[tuple[tuple[str | None, ...], str | None], list[Any]] = {}
    for row in rows:
        key = (tuple(group_text(f, row[f]) for f in by), row["currency"])
        entry = groups.get(key)
        if entry is None:
            entry = groups[key] = [0, Decimal(0)]
        entry[0] += 1
        if row["amount"] is not None:
            entry[1] = _EXACT.add(entry[1], row["amount"])
    totals = [Total(g, currency, n, amount) for (g, currency), (n, amount) in groups.items()]
    totals.sort(key=total_order)
    return totals


def exact_sum(amounts: Iterable[Decimal]) -> Decimal:
    """The exact sum of decimals (no rounding at any precision): for a backend's ``totals``."""
    total = Decimal(0)
    for amount in amounts:
        total = _EXACT.add(total, amount)
    return total


def lookup_rows(record: Customer | Lead, key_function: KeyFunction) -> list[tuple[str, str, str]]:
    """Every (namespace, key, record id) the in-memory lookup indexes hold for a record, once each.

    Written for speed (it runs for every record of a batch): plain loops, and
    deduplication only where repeats can occur (phones that differ only by
    extension, and whatever the key function yields).
    """
    rid: str = record.id
    rows: list[tuple[str, str, str]] = []
    for entry in record.emails:
        rows.append((NS_EMAIL, entry.address.match_key, rid))
    phones = record.phones
    if len(phones) == 1:
        rows.append((NS_PHONE, phones[0].number.e164, rid))
    elif phones:
        for e164 in dict.fromkeys([p.number.e164 for p in phones]):
            rows.append((NS_PHONE, e164, rid))
    if isinstance(record, Customer):
        for scheme, value in record.identifiers.items():
            rows.append((NS_IDENTIFIER, scheme + IDENTIFIER_SEPARATOR + value, rid))
    seen: set[str] = set()
    for key in key_function(record):
        if not isinstance(key, str):
            raise ValidationError("key_function", "must yield text keys")
        if key not in seen:
            seen.add(key)
            rows.append((NS_KEY, key, rid))
    return rows


# What a row of SQLite's lookup table stands for: bits, since one key string can be
# both the store's own lookup key and a blocking key (the default key function yields
# exactly the store's own keys, so each is written once instead of twice).
FLAG_EMAIL: Final = 1
FLAG_PHONE: Final = 2
FLAG_IDENTIFIER: Final = 4
FLAG_KEY: Final = 8


def lookup_flags(record: Customer | Lead, key_function: KeyFunction) -> dict[str, int]:
    """The lookup table's keys of a record, each with its FLAG_* bits.

    The store's own keys are those of :mod:`crmcore.storage.keys`
    (``email:``, ``phone:``, ``id:``); the flags keep them apart from blocking
    keys, so ``find_by_email`` never depends on the key function and
    ``find_by_keys`` never sees a key the key function did not yield.
    """
    found: dict[str, int] = {}
    for entry in record.emails:
        key = EMAIL_PREFIX + entry.address.match_key
        found[key] = found.get(key, 0) | FLAG_EMAIL
    for phone in record.phones:
        key = PHONE_PREFIX + phone.number.e164
        found[key] = found.get(key, 0) | FLAG_PHONE
    if isinstance(record, Customer):
        for scheme, value in record.identifiers.items():
            key = identifier_key(scheme, value)
            found[key] = found.get(key, 0) | FLAG_IDENTIFIER
    for key in key_function(record):
        if not isinstance(key, str):
            raise ValidationError("key_function", "must yield text keys")
        found[key] = found.get(key, 0) | FLAG_KEY
    return found


def is_unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode: no lone surrogate, which no SQL driver can bind.

    Text that is not matches nothing in memory but cannot reach SQLite at all;
    checking it before any backend keeps every store's answer the same.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def identifier_index_key(scheme: object, value: object) -> str:
    """The in-memory index key of an identifier (checked: both must be text)."""
    if not isinstance(scheme, str) or not scheme or not is_unicode(scheme):
        raise ValidationError("scheme", "must be non-empty text")
    if not isinstance(value, str) or not is_unicode(value):
        raise ValidationError("value", "must be text")
    # Stored identifiers are whitespace-folded (clean_text); fold the query the same way.
    return f"{scheme}{IDENTIFIER_SEPARATOR}{' '.join(value.split())}"


@functools.cache
def _stamper(cls: Any) -> Any:
    # A function per entity class that copies every field in one go: about three
    # times faster than a loop of getattr/setattr, which matters on big batches.
    names = [f.name for f in attrs.fields(cls) if f.name not in ("version", "updated_at")]
    lines = ["def stamp(record, version, updated_at):", "    copy = new(cls)"]
    lines += [f"    put(copy, {name!r}, record.{name})" for name in names]
    lines += ["    put(copy, 'version', version)", "    put(copy, 'updated_at', updated_at)"]
    lines += ["    return copy"]
    namespace: dict[str, Any] = {"new": object.__new__, "put": object.__setattr__, "cls": cls}
    exec("\n".join(lines), namespace)  # field names come from attrs, never from input
    return namespace["stamp"]


def stamped(record: E, version: int, updated_at: datetime) -> E:
    """A copy of ``record`` with the store's ``version`` and ``updated_at``.

    Equivalent to ``attrs.evolve(record, version=..., updated_at=...)`` without
    re-running the entity's validation: every other field was validated when
    ``record`` was built, and these two values come from the store itself. On a
    batch of 100,000 records that validation would cost a fifth of ``add_many``.
    """
    cls: Any = type(record)
    return cast(E, _stamper(cls)(record, version, updated_at))
