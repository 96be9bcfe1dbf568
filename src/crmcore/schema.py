"""JSON Schema (Draft 2020-12) for every crmcore model, as :func:`crmcore.to_dict` writes it.

The schemas are generated from the attrs classes and the converter's rules,
so they describe exactly the payloads :mod:`crmcore.serialization` produces
and accepts: every field listed, unknown keys refused
(``additionalProperties: false``), a field without a default required, and
``schema_version`` required at the top level of a document.

>>> from crmcore import Customer
>>> from crmcore.schema import json_schema
>>> json_schema(Customer).get("title")
'Customer'

Web apps publish them in their OpenAPI document: :func:`openapi_components`
and :func:`openapi_response` (see docs/web.md for a FastAPI recipe).
"""

from __future__ import annotations

import copy
import enum
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from types import NoneType, UnionType
from typing import Any, Final

import attrs

from crmcore.cases import Case
from crmcore.consent import Consent
from crmcore.customers import Customer
from crmcore.ids import CaseId, CustomerId, InteractionId, LeadId, MergeId, OpportunityId, TaskId
from crmcore.interactions import Interaction
from crmcore.leads import Lead
from crmcore.merge_record import MergeRecord
from crmcore.opportunities import Opportunity
from crmcore.serialization import SCHEMA_KEY, SCHEMA_VERSION
from crmcore.tasks import Task
from crmcore.values import CURRENCIES, CustomFields, EmailAddress, ExternalIds, Money, PhoneNumber

__all__ = [
    "DOCUMENTS",
    "METASCHEMA",
    "add_openapi_components",
    "json_schema",
    "json_schemas",
    "openapi_components",
    "openapi_response",
]

METASCHEMA: Final = "https://json-schema.org/draft/2020-12/schema"
"""The dialect every schema declares in ``$schema``."""

DOCUMENTS: Final[tuple[type[Any], ...]] = (
    Customer,
    Lead,
    Interaction,
    MergeRecord,
    Opportunity,
    Task,
    Case,
)
"""The models an app stores and sends on their own (a document carries ``schema_version``)."""

# Public models no document holds: the state of consent is derived from a
# record's ledger (``consent_events``), not stored, but an app sends it.
_DERIVED: Final[tuple[type[Any], ...]] = (Consent,)

_ULID = "[0-9A-HJKMNP-TV-Z]{26}"
_IDS: dict[Any, str] = {
    CustomerId: "cus_",
    LeadId: "led_",
    InteractionId: "ixn_",
    MergeId: "mrg_",
    OpportunityId: "opp_",
    TaskId: "tsk_",
    CaseId: "cas_",
}
# The map keys values.py accepts (``_check_key``).
_KEY_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$"

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
    Decimal: {"type": "string", "description": "a decimal number as text"},
    timedelta: {"type": "number", "description": "a duration in seconds"},
    # The normalised address (internationalised addresses included).
    EmailAddress: {"type": "string", "format": "idn-email"},
    CustomFields: {"type": "object", "propertyNames": {"pattern": _KEY_PATTERN}},
    ExternalIds: {
        "type": "object",
        "propertyNames": {"pattern": _KEY_PATTERN},
        "additionalProperties": {"type": "string"},
    },
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_PHONE: Final[dict[str, Any]] = {
    "type": "object",
    "title": "PhoneNumber",
    "description": "A phone number in E.164 form, its extension and the text as typed.",
    "properties": {
        "e164": {"type": "string", "pattern": r"^\+[1-9][0-9]{1,14}$"},
        "extension": _nullable({"type": "string", "pattern": "^[0-9]{1,10}$"}),
        "raw": _nullable({"type": "string", "maxLength": 64}),
    },
    "required": ["e164"],
    "additionalProperties": False,
}


def _money(amount: dict[str, Any]) -> dict[str, Any]:
    # The currency is one of the active ISO 4217 codes Money accepts, not any text.
    return {
        "type": "object",
        "title": "Money",
        "description": _summary(Money),
        "properties": {
            "amount": amount,
            "currency": {"type": "string", "enum": sorted(CURRENCIES)},
        },
        "required": ["amount", "currency"],
        "additionalProperties": False,
    }


def _summary(kind: type[Any]) -> str:
    return (kind.__doc__ or kind.__name__).strip().split("\n\n")[0].replace("\n", " ")


class _Builder:
    """Collects the definitions one schema document (or one OpenAPI document) needs."""

    def __init__(self, ref: Callable[[type[Any]], str]) -> None:
        self.ref = ref
        self.defs: dict[type[Any], dict[str, Any]] = {}

    def of(self, hint: Any) -> dict[str, Any]:
        """The schema of a field typed ``hint`` (a ``$ref`` for classes and enums)."""
        if hint in _SCALARS:
            return copy.deepcopy(_SCALARS[hint])
        if hint in _IDS:
            return {"type": "string", "pattern": f"^{_IDS[hint]}{_ULID}$"}
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (UnionType, typing.Union):
            members = [a for a in args if a is not NoneType]
            if len(members) == 1:
                inner = self.of(members[0])
            else:
                inner = {"anyOf": [self.of(a) for a in members]}
            return _nullable(inner) if NoneType in args else inner
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": self.of(args[0])}
        if origin is frozenset:
            # The converter writes a set as a sorted list.
            return {"type": "array", "items": self.of(args[0]), "uniqueItems": True}
        if isinstance(hint, type) and (issubclass(hint, enum.Enum) or attrs.has(hint)):
            if hint not in self.defs:
                self.defs[hint] = {}  # placeholder first: a model may refer to itself
                self.defs[hint] = self.definition(hint)
            return {"$ref": self.ref(hint)}
        raise TypeError(f"no JSON Schema for {hint!r}")

    def definition(self, kind: type[Any]) -> dict[str, Any]:
        """The schema of ``kind`` as it appears inside a payload."""
        if issubclass(kind, enum.Enum):
            return {
                "type": "string",
                "title": kind.__name__,
                "description": _summary(kind),
                "enum": [member.value for member in kind],
            }
        if kind is PhoneNumber:
            return copy.deepcopy(_PHONE)
        if kind is Money:
            return _money(self.of(Decimal))
        hints = typing.get_type_hints(kind)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in attrs.fields(kind):
            properties[field.name] = self.of(hints[field.name])
            if field.default is attrs.NOTHING:
                required.append(field.name)
        return {
            "type": "object",
            "title": kind.__name__,
            "description": _summary(kind),
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }

    def document(self, kind: type[Any]) -> dict[str, Any]:
        """The schema of ``to_dict(instance)``: the definition with ``schema_version`` first."""
        body = self.definition(kind)
        version = {"const": SCHEMA_VERSION, "description": "the payload layout's version"}
        body["properties"] = {SCHEMA_KEY: version, **body["properties"]}
        body["required"] = [SCHEMA_KEY, *body["required"]]
        return body


def _local_ref(kind: type[Any]) -> str:
    return f"#/$defs/{kind.__name__}"


@cache
def _reachable() -> tuple[type[Any], ...]:
    builder = _Builder(_local_ref)
    for kind in DOCUMENTS:
        builder.definition(kind)
        builder.of(kind)
    for kind in _DERIVED:
        builder.of(kind)
    return tuple(builder.defs)


def json_schema(model: type[Any]) -> dict[str, Any]:
    """The JSON Schema of ``model``'s payload, one self-contained Draft 2020-12 document.

    For an entity (or any attrs model: a :class:`~crmcore.PhoneNumber`, a
    :class:`~crmcore.PostalAddress`...) it describes ``to_dict(instance)``,
    ``schema_version`` included; for an :class:`~crmcore.EmailAddress`, an
    enum, :class:`~crmcore.CustomFields` and :class:`~crmcore.ExternalIds` it
    describes the value as it appears inside a payload (``to_dict`` refuses
    them or makes no sense of them on their own). Other models it refers to
    are in ``$defs``, by class name.

    Args:
        model: a crmcore model class (one of the keys of :func:`json_schemas`).

    Raises:
        TypeError: ``model`` is not a class crmcore serialises.
    """
    if model not in _models().values():
        raise TypeError(f"{getattr(model, '__name__', model)!r} is not a crmcore model")
    builder = _Builder(_local_ref)
    if model in _SCALARS:
        body = {"title": model.__name__, "description": _summary(model), **builder.of(model)}
    elif attrs.has(model):
        body = builder.document(model)
    else:
        body = builder.definition(model)
    schema: dict[str, Any] = {"$schema": METASCHEMA, **body}
    defs = {kind.__name__: definition for kind, definition in builder.defs.items()}
    if defs:
        schema["$defs"] = dict(sorted(defs.items()))
    return schema


def json_schemas() -> dict[str, dict[str, Any]]:
    """:func:`json_schema` of every public model, by class name.

    The entities (``Customer``, ``Lead``, ``Interaction``, ``MergeRecord``,
    ``Opportunity``, ``Task``, ``Case``), the parts of them (``ContactEmail``,
    ``ConsentEvent``, ``ConsentEvidence``, ``Restriction``, ``Snapshot``,
    ``StageChange``, ``CaseEvent``...), the state of consent derived from a
    ledger (``Consent``), the
    values (``EmailAddress``, ``PhoneNumber``, ``PersonName``,
    ``PostalAddress``, ``Money``, ``CustomFields``, ``ExternalIds``) and the enums.
    """
    return {name: json_schema(kind) for name, kind in _models().items()}


@cache
def _models() -> dict[str, type[Any]]:
    kinds = (*DOCUMENTS, *_reachable(), EmailAddress, CustomFields, ExternalIds)
    return {kind.__name__: kind for kind in sorted(kinds, key=lambda k: k.__name__)}


def _component_name(kind: type[Any]) -> str:
    # A document (with schema_version) and the same model inside a merge
    # record's snapshot (without) are two shapes: they need two names.
    return f"{kind.__name__}Embedded" if kind in DOCUMENTS else kind.__name__


def openapi_components() -> dict[str, dict[str, Any]]:
    """Every model's schema for an OpenAPI 3.1 document's ``components.schemas``.

    Documents are named by class (``Customer``: what an endpoint returns,
    ``schema_version`` included); references point at
    ``#/components/schemas/...``. A document model inside another payload (a
    customer in a merge record's snapshot) is ``CustomerEmbedded``.
    """
    builder = _Builder(lambda kind: f"#/components/schemas/{_component_name(kind)}")
    components = {kind.__name__: builder.document(kind) for kind in DOCUMENTS}
    for kind in _reachable():
        if kind not in DOCUMENTS:
            builder.of(kind)
    components |= {_component_name(kind): body for kind, body in builder.defs.items()}
    return dict(sorted(components.items()))


def openapi_response(
    model: type[Any], *, description: str | None = None, many: bool = False
) -> dict[str, Any]:
    """An OpenAPI response object whose JSON body is ``model``'s document (or a page of them).

    Pass it in FastAPI's ``responses={200: openapi_response(Customer)}``; the
    ``$ref`` resolves once :func:`add_openapi_components` (or your own code)
    has put :func:`openapi_components` into the document.

    Args:
        model: one of :data:`DOCUMENTS`.
        description: the response's description (default: the model's name).
        many: the body is ``{"items": [...], "next_cursor": ...}``, a page of documents.
    """
    if model not in DOCUMENTS:
        raise TypeError(f"{getattr(model, '__name__', model)!r} is not a crmcore document")
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{model.__name__}"}
    schema = ref
    if many:
        schema = {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": ref},
                "next_cursor": _nullable({"type": "string"}),
            },
            "required": ["items", "next_cursor"],
            "additionalProperties": False,
        }
    text = description or (f"A page of {model.__name__} documents" if many else model.__name__)
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def add_openapi_components(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI document with :func:`openapi_components` in ``components.schemas``.

    Schemas the document defines already under the same names are replaced.
    """
    document = dict(openapi)
    components = dict(document.get("components") or {})
    components["schemas"] = {**(components.get("schemas") or {}), **openapi_components()}
    document["components"] = components
    return document
