"""Dicts and JSON for every crmcore model, through one strict cattrs converter.

:func:`make_converter` builds it (never the global cattrs converter): value
objects have hooks of their own, unknown keys and wrong types are refused, and
every failure becomes one :class:`~crmcore.errors.ValidationError` listing the
bad fields by path (``emails[1].address``), never their values.

Payload layout versions: 2 (written) keeps a customer's and a lead's consent
as a ledger (``consent_events``) and their ``restriction``; 1 (still read)
kept a customer's current state only (``consents``). Reading a version 1
document, merge-record snapshots included, turns each of its ``consents`` into
a :class:`~crmcore.consent.ConsentEvent` that took effect when it was recorded;
writing it again writes version 2. A version 2 document with ``consents`` is
refused like any unknown field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Final, TypeVar

import cattrs
from cattrs.cols import is_sequence, list_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

from crmcore._validation import ensure_utc
from crmcore.consent import Consent, ConsentEvent
from crmcore.customers import Customer
from crmcore.errors import ValidationError, join_path
from crmcore.ids import RecordId
from crmcore.values import (
    CustomFields,
    EmailAddress,
    ExternalIds,
    PersonName,
    PhoneNumber,
    normalize_tags,
)

__all__ = [
    "SCHEMA_VERSION",
    "from_dict",
    "from_json",
    "make_converter",
    "to_dict",
    "to_json",
]

SCHEMA_VERSION: Final = 2
"""The version of the payload layout; every payload carries it under ``schema_version``."""

READABLE_VERSIONS: Final = frozenset({1, SCHEMA_VERSION})
"""The layout versions :func:`from_dict` reads (version 1: consent as ``consents``)."""

# Whether the document being read is of layout version 1: set by from_dict for
# the whole document, so a customer inside a merge record's snapshot is read
# as its document's version says.
_LEGACY: ContextVar[bool] = ContextVar("crmcore_legacy_payload", default=False)

SCHEMA_KEY: Final = "schema_version"
MAX_JSON_LENGTH: Final = 10_000_000

T = TypeVar("T")


def _strict(kind: type[Any], label: str) -> Callable[[object, type[Any]], Any]:
    def structure(value: object, _: type[Any]) -> Any:
        # bool is an int in Python; JSON keeps them apart and so do we.
        if isinstance(value, bool) and kind is not bool:
            raise ValidationError("", f"must be {label}")
        if kind is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, kind):
            raise ValidationError("", f"must be {label}")
        return value

    return structure


def _structure_datetime(value: object, _: type[Any]) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise ValidationError("", "must be an ISO 8601 datetime with a timezone")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("", "must be an ISO 8601 datetime with a timezone") from None
    return ensure_utc(parsed, "")


def _structure_date(value: object, _: type[Any]) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValidationError("", "must be an ISO 8601 date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError("", "is not a calendar date") from None


def _structure_decimal(value: object, _: type[Any]) -> Decimal:
    if not isinstance(value, str) or len(value) > 64:
        raise ValidationError("", "must be a decimal number as text")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValidationError("", "must be a decimal number as text") from None
    if not result.is_finite():
        raise ValidationError("", "must be a finite decimal number")
    return result


def _structure_timedelta(value: object, _: type[Any]) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError("", "must be a number of seconds")
    try:
        return timedelta(seconds=value)
    except (OverflowError, ValueError):
        raise ValidationError("", "is out of range") from None


def _structure_phone(value: object, _: type[Any]) -> PhoneNumber:
    if not isinstance(value, Mapping):
        raise ValidationError("", "must be an object with e164, extension and raw")
    extra = set(value) - {"e164", "extension", "raw"}
    if extra:
        raise ValidationError("", _unknown_fields(len(extra)))
    if "e164" not in value:
        raise ValidationError("e164", "is required")
    return PhoneNumber.from_e164(
        value["e164"], extension=value.get("extension"), raw=value.get("raw"), field=""
    )


def _unstructure_phone(phone: PhoneNumber) -> dict[str, str | None]:
    return {"e164": phone.e164, "extension": phone.extension, "raw": phone.raw}


def _structure_name(value: object, _: type[Any]) -> PersonName | str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return _person_name_converter().structure(value, PersonName)
    raise ValidationError("", "must be text (an organisation) or a person's name object")


@cache
def _person_name_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    _register_primitives(converter)
    return converter


def _register_primitives(converter: cattrs.Converter) -> None:
    converter.register_structure_hook(str, _strict(str, "text"))
    converter.register_structure_hook(int, _strict(int, "an integer"))
    converter.register_structure_hook(float, _strict(float, "a number"))
    converter.register_structure_hook(bool, _strict(bool, "true or false"))
    converter.register_structure_hook_factory(is_sequence, _strict_sequence)


def _strict_sequence(kind: Any, converter: cattrs.Converter) -> Callable[[object, Any], Any]:
    items = list_structure_factory(kind, converter)

    def structure(value: object, _: Any) -> tuple[Any, ...]:
        # cattrs iterates whatever it is given: a 10 kB string would become
        # 10,000 one-character items, each failing on its own (slowly).
        if not isinstance(value, list | tuple):
            raise ValidationError("", "must be a list")
        return tuple(items(value, kind))

    return structure


def make_converter() -> cattrs.Converter:
    """Build crmcore's strict converter: value-object hooks first, extra keys forbidden."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    _register_primitives(converter)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(datetime, lambda d: d.astimezone(UTC).isoformat())
    converter.register_structure_hook(date, _structure_date)
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_structure_hook(Decimal, _structure_decimal)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(timedelta, _structure_timedelta)
    converter.register_unstructure_hook(timedelta, timedelta.total_seconds)
    converter.register_structure_hook(EmailAddress, lambda v, _: EmailAddress.parse(v, field=""))
    converter.register_unstructure_hook(EmailAddress, str)
    converter.register_structure_hook(PhoneNumber, _structure_phone)
    converter.register_unstructure_hook(PhoneNumber, _unstructure_phone)
    # Predicate hooks: registering a union or a generic directly would dispatch
    # on its members (and so replace the strict ``str`` hook).
    name_type: Any = PersonName | str
    converter.register_structure_hook_func(lambda t: t == name_type, _structure_name)
    converter.register_unstructure_hook_func(
        lambda t: t == name_type,
        lambda v: v if isinstance(v, str) else converter.unstructure(v, PersonName),
    )
    # field="": cattrs puts the attribute's name in front of every path itself.
    converter.register_structure_hook(CustomFields, lambda v, _: CustomFields.parse(v, field=""))
    converter.register_unstructure_hook(CustomFields, CustomFields.to_dict)
    converter.register_structure_hook(ExternalIds, lambda v, _: ExternalIds.parse(v, field=""))
    converter.register_unstructure_hook(ExternalIds, ExternalIds.to_dict)
    converter.register_structure_hook_func(lambda t: t == RecordId, _strict(str, "text"))
    converter.register_structure_hook_func(lambda t: t == frozenset[str], _structure_tags)
    converter.register_unstructure_hook_func(lambda t: t == frozenset[str], sorted)
    converter.register_structure_hook(Customer, _customer_hook(converter))
    return converter


def _customer_hook(converter: cattrs.Converter) -> Callable[[object, type[Any]], Customer]:
    structure_new = make_dict_structure_fn(Customer, converter)

    def structure(value: object, cls: type[Any]) -> Customer:
        if _LEGACY.get() and isinstance(value, Mapping) and "consents" in value:
            value = _upgraded(converter, value)
        return structure_new(value, cls)  # type: ignore[arg-type]

    return structure


def _upgraded(converter: cattrs.Converter, value: Mapping[str, Any]) -> dict[str, Any]:
    """A version 1 customer's ``consents`` as the ledger of version 2."""
    body = dict(value)
    if "consent_events" in body:
        raise ValidationError("consents", "cannot be read together with consent_events")
    try:
        consents = converter.structure(body.pop("consents"), tuple[Consent, ...])
    except ValidationError as exc:
        raise exc.prefixed("consents") from None
    except Exception as exc:
        raise ValidationError(_problems(exc, "consents") or [("consents", "is invalid")]) from None
    # The old state kept one moment, when it was recorded: that is when it
    # took effect as far as anyone can tell.
    events = [
        ConsentEvent(
            channel=c.channel,
            purpose=c.purpose,
            status=c.status,
            effective_at=c.recorded_at,
            recorded_at=c.recorded_at,
            contact_point=c.contact_point,
            source=c.source,
            legal_basis=c.legal_basis,
            expires_at=c.expires_at,
        )
        for c in consents
    ]
    body["consent_events"] = converter.unstructure(events, list[ConsentEvent])
    return body


@contextmanager
def _reading(version: int) -> Iterator[None]:
    token = _LEGACY.set(version == 1)
    try:
        yield
    finally:
        _LEGACY.reset(token)


def _structure_tags(value: object, _: type[Any]) -> frozenset[str]:
    if not isinstance(value, list | tuple):
        raise ValidationError("", "must be a list of tags")
    return normalize_tags(value, "")


def _unknown_fields(count: int) -> str:
    # The keys themselves are never repeated: a key can be personal data (a
    # pasted address, or a surname, which looks just like a field name).
    return "has an unknown field" if count == 1 else f"has {count} unknown fields"


def _problems(exc: BaseException, path: str = "") -> list[tuple[str, str]]:
    if isinstance(exc, ValidationError):
        return [(join_path(path, p), m) for p, m in exc.problems]
    if isinstance(exc, ForbiddenExtraKeysError):
        return [(path, _unknown_fields(len(exc.extra_fields)))]
    if isinstance(exc, IterableValidationError):
        found: list[tuple[str, str]] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            # A mapping's key is data: its entry is named by the mapping's path alone.
            found.extend(
                _problems(sub, f"{path}[{note.index}]" if isinstance(note.index, int) else path)
            )
        for sub in without:
            found.extend(_problems(sub, path))
        return found
    if isinstance(exc, ClassValidationError):
        found = []
        class_notes, class_without = exc.group_exceptions()
        for sub, attr_note in class_notes:
            found.extend(_problems(sub, join_path(path, attr_note.name)))
        for sub in class_without:
            found.extend(_problems(sub, path))
        return found
    if isinstance(exc, KeyError):
        return [(path, "is required")]
    if isinstance(exc, AttributeError | TypeError):
        return [(path, "has the wrong type")]
    return [(path, "is invalid")]


@cache
def _default_converter() -> cattrs.Converter:
    return make_converter()


def to_dict(obj: object, *, converter: cattrs.Converter | None = None) -> dict[str, Any]:
    """Turn a crmcore model into JSON-compatible primitives, with ``schema_version``."""
    data = (converter or _default_converter()).unstructure(obj)
    if not isinstance(data, dict):
        raise TypeError(f"{type(obj).__name__} does not serialise to an object")
    return {SCHEMA_KEY: SCHEMA_VERSION, **data}


def from_dict(cls: type[T], data: object, *, converter: cattrs.Converter | None = None) -> T:
    """Build a ``cls`` from :func:`to_dict` output; any problem raises one ValidationError.

    Documents of layout version 1 are read too (see the module's docstring).
    """
    if not isinstance(data, Mapping):
        raise ValidationError("", f"a {cls.__name__} must be an object")
    version = data.get(SCHEMA_KEY)
    # Compared only as a JSON number: Decimal("sNaN") == 1 raises, and a
    # caller's object may define == as it likes.
    if type(version) not in (int, float) or version not in READABLE_VERSIONS:
        raise ValidationError(SCHEMA_KEY, f"must be {SCHEMA_VERSION} (or 1, still read)")
    body = {k: v for k, v in data.items() if k != SCHEMA_KEY}
    try:
        with _reading(int(version)):
            return (converter or _default_converter()).structure(body, cls)
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(_problems(exc) or [("", "is invalid")]) from None


def to_json(obj: object, *, converter: cattrs.Converter | None = None) -> str:
    """Serialise a model to compact JSON (keys in a stable order)."""
    return json.dumps(to_dict(obj, converter=converter), ensure_ascii=False, separators=(",", ":"))


def from_json(cls: type[T], text: str | bytes, *, converter: cattrs.Converter | None = None) -> T:
    """Parse :func:`to_json` output back into a ``cls``."""
    if not isinstance(text, str | bytes | bytearray):
        raise ValidationError("", "must be JSON text")
    if len(text) > MAX_JSON_LENGTH:
        raise ValidationError("", "the document is too large")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationError("", "is not valid JSON") from None
    return from_dict(cls, data, converter=converter)
