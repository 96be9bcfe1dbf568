"""JSON Schema: every model's schema is valid Draft 2020-12 and matches what to_dict writes."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

import crmcore
import crmcore.merge_record
from crmcore import (
    Case,
    Customer,
    EmailAddress,
    Interaction,
    Lead,
    Opportunity,
    Task,
    ValidationError,
    from_dict,
    make_converter,
    to_dict,
)
from crmcore.merge import MergeRecord
from crmcore.schema import (
    DOCUMENTS,
    METASCHEMA,
    add_openapi_components,
    json_schema,
    json_schemas,
    openapi_components,
    openapi_response,
)

SCHEMAS = json_schemas()
MODELS: dict[str, Any] = {
    name: getattr(crmcore, name, None) or getattr(crmcore.merge_record, name) for name in SCHEMAS
}
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _utc_datetime(text: object) -> bool:
    # jsonschema checks date-time only with an optional package; crmcore writes
    # ISO 8601 with an offset, which is what RFC 3339 asks.
    return not isinstance(text, str) or datetime.fromisoformat(text).tzinfo is not None


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMATS)


def _is_document(name: str) -> bool:
    return "schema_version" in SCHEMAS[name].get("properties", {})


def _payload(name: str, value: object) -> object:
    """What a payload holds for ``value``: its document, or its embedded form."""
    if _is_document(name):
        return to_dict(value)
    return make_converter().unstructure(value)


def test_every_public_model_has_a_schema() -> None:
    expected = {
        "Customer",
        "Lead",
        "Interaction",
        "MergeRecord",
        "EmailAddress",
        "PhoneNumber",
        "PostalAddress",
        "PersonName",
        "Money",
        "CustomFields",
        "ExternalIds",
        "ContactEmail",
        "ContactPhone",
        "Consent",
        "Participant",
        "Channel",
        "Direction",
        "LifecycleStage",
        "LeadStatus",
        "Opportunity",
        "StageChange",
        "ContactRole",
        "DealStatus",
        "Task",
        "TaskKind",
        "TaskStatus",
        "Priority",
        "Case",
        "CaseEvent",
        "CaseStatus",
    }
    assert expected <= set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    schema = SCHEMAS[name]
    assert schema["$schema"] == METASCHEMA
    Draft202012Validator.check_schema(schema)
    assert schema["title"] == name


def test_openapi_components_are_valid_and_every_reference_resolves() -> None:
    components = openapi_components()
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema in components.values():
        Draft202012Validator.check_schema(schema)
        walk(schema)
    assert refs
    prefix = "#/components/schemas/"
    assert all(ref.startswith(prefix) and ref[len(prefix) :] in components for ref in refs)
    # A customer document (with schema_version) and a customer inside a
    # snapshot (without) are two shapes under two names.
    assert "schema_version" in components["Customer"]["required"]
    assert "schema_version" not in components["CustomerEmbedded"]["properties"]


def _document_models() -> st.SearchStrategy[tuple[str, object]]:
    return st.sampled_from(sorted(MODELS)).flatmap(
        lambda name: (
            st.sampled_from(list(MODELS[name]))
            if issubclass(MODELS[name], enum.Enum)
            else st.from_type(MODELS[name])
        ).map(lambda value: (name, value))
    )


@given(_document_models())
def test_every_drawn_model_validates_against_its_schema(drawn: tuple[str, object]) -> None:
    name, value = drawn
    payload = _payload(name, value)
    _validator(SCHEMAS[name]).validate(payload)
    # Every object model is a document of its own; the values without
    # structure (an address, a map, an enum) are not.
    assert _is_document(name) is (attrs.has(type(value)) and name != "EmailAddress")
    if _is_document(name):
        assert isinstance(payload, dict)
        # Exactly the fields to_dict writes: no property the schema forgot,
        # none it invented.
        assert set(payload) == set(SCHEMAS[name]["properties"])


@given(st.one_of(*(st.from_type(kind) for kind in DOCUMENTS)))
def test_a_field_is_required_by_the_schema_only_when_from_dict_needs_it(
    record: Customer | Lead | Interaction | MergeRecord | Opportunity | Task | Case,
) -> None:
    data = to_dict(record)
    validator = _validator(json_schema(type(record)))
    required = set(json_schema(type(record))["required"])
    for key in data:
        partial = {k: v for k, v in data.items() if k != key}
        try:
            from_dict(type(record), partial)
        except ValidationError:
            accepted = False
        else:
            accepted = True
        # The schema checks the shape; rules across fields (a lead needs a
        # name, a company, an email or a phone) are the models' own, so
        # from_dict may refuse what the schema allows, never the reverse.
        assert validator.is_valid(partial) is (key not in required), key
        if key in required:
            assert not accepted, key


@given(st.from_type(Customer))
def test_what_from_dict_refuses_the_schema_refuses(customer: Customer) -> None:
    data = to_dict(customer)
    validator = _validator(json_schema(Customer))
    broken: list[dict[str, Any]] = [
        {**data, "unknown": 1},
        {**data, "schema_version": 3},
        {**data, "kind": "robot"},
        {**data, "version": "1"},
        {**data, "id": "led_" + data["id"][4:]},
        {**data, "tags": "vip"},
        {**data, "emails": [{"address": "ada@example.com", "label": "office"}]},
        {**data, "phones": [{"number": {"e164": "0701234567", "extension": None, "raw": None}}]},
    ]
    for payload in broken:
        with pytest.raises(ValidationError):
            from_dict(Customer, payload)
        with pytest.raises(SchemaError):
            validator.validate(payload)


@given(st.from_type(EmailAddress))
def test_an_address_is_its_normalised_text(email: EmailAddress) -> None:
    _validator(SCHEMAS["EmailAddress"]).validate(str(email))


def test_json_schema_refuses_what_crmcore_does_not_serialise() -> None:
    with pytest.raises(TypeError):
        json_schema(dict)
    with pytest.raises(TypeError):
        openapi_response(EmailAddress)


def test_openapi_response_refers_to_the_components_it_is_published_with() -> None:
    document = add_openapi_components({"openapi": "3.1.0", "components": {"schemas": {"X": {}}}})
    assert document["components"]["schemas"]["X"] == {}
    one = openapi_response(Customer)["content"]["application/json"]["schema"]
    assert one == {"$ref": "#/components/schemas/Customer"}
    page = openapi_response(Lead, many=True)["content"]["application/json"]["schema"]
    assert page["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Lead"}
    assert "Customer" in document["components"]["schemas"]


def test_a_currency_outside_iso_4217_is_refused_by_the_schema_too() -> None:
    validator = _validator(SCHEMAS["Money"])
    validator.validate(to_dict(crmcore.Money.of("12.50", "EUR")))
    for currency in ("XYZ", "eur", "HRK"):
        with pytest.raises(ValidationError):
            from_dict(
                crmcore.Lead,
                {
                    **to_dict(Lead.create(name="Ada")),
                    "estimated_value": {"amount": "1", "currency": currency},
                },
            )
        with pytest.raises(SchemaError):
            validator.validate({"schema_version": 1, "amount": "1", "currency": currency})
