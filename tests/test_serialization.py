"""Dicts and JSON: lossless round trips, strict reading with paths, never values."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given

from crmcore import (
    Channel,
    Customer,
    Direction,
    Interaction,
    Lead,
    Money,
    PersonName,
    PostalAddress,
    ValidationError,
    from_dict,
    from_json,
    make_converter,
    to_dict,
    to_json,
)
from crmcore.serialization import SCHEMA_VERSION
from crmcore.testing.strategies import customers, interactions, leads


def _assert_same(a: object, b: object) -> None:
    """Equal, and equal in everything equality skips (raw phone text, match keys)."""
    assert a == b
    assert to_dict(a) == to_dict(b)


@given(customers(merged=True))
def test_customer_round_trips(customer: Customer) -> None:
    _assert_same(from_dict(Customer, to_dict(customer)), customer)
    _assert_same(from_json(Customer, to_json(customer)), customer)


@given(leads(merged=True))
def test_lead_round_trips(lead: Lead) -> None:
    _assert_same(from_dict(Lead, to_dict(lead)), lead)
    _assert_same(from_json(Lead, to_json(lead)), lead)


@given(interactions())
def test_interaction_round_trips(interaction: Interaction) -> None:
    _assert_same(from_dict(Interaction, to_dict(interaction)), interaction)
    _assert_same(from_json(Interaction, to_json(interaction).encode()), interaction)


@given(customers(merged=True))
def test_payloads_are_plain_json(customer: Customer) -> None:
    data = to_dict(customer)
    assert data["schema_version"] == SCHEMA_VERSION
    assert json.loads(json.dumps(data)) == data
    assert data["created_at"].endswith("+00:00")


def test_values_round_trip_through_the_converter() -> None:
    converter = make_converter()
    name = PersonName(given="Ada", family="Lovelace", family_first=False)
    assert converter.structure(converter.unstructure(name), PersonName) == name
    money = Money.of("12.50", "EUR")
    assert converter.unstructure(money) == {"amount": "12.50", "currency": "EUR"}
    assert converter.structure({"amount": "12.50", "currency": "EUR"}, Money) == money
    address = PostalAddress(lines=("1 Main St",), locality="Springfield", country="US")
    assert converter.structure(converter.unstructure(address), PostalAddress) == address


def test_phone_payload_keeps_e164_extension_and_raw() -> None:
    customer = Customer.create(name="Ada Lovelace", phones=["08-123 456 78 ext. 9"], region="SE")
    phone = to_dict(customer)["phones"][0]
    assert phone == {
        "number": {"e164": "+46812345678", "extension": "9", "raw": "08-123 456 78 ext. 9"},
        "label": "other",
    }
    assert from_dict(Customer, to_dict(customer)).phones[0].number.raw == "08-123 456 78 ext. 9"


def test_other_offsets_are_read_as_utc() -> None:
    customer = Customer.create(name="Ada")
    data = to_dict(customer)
    data["created_at"] = "2024-05-01T12:00:00+02:00"
    assert from_dict(Customer, data).created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_interaction_occurred_at_is_kept_in_utc() -> None:
    when = datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    ixn = Interaction.log(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=when,
        customer_id=Customer.create(name="Ada").id,
    )
    back = from_json(Interaction, to_json(ixn))
    assert back.occurred_at == when
    assert back.occurred_at.tzinfo is UTC


# --------------------------------------------------------------------------- strict reading


@pytest.fixture
def payload() -> dict[str, Any]:
    customer = Customer.create(
        name="Ada Lovelace",
        emails=["ada@example.com", "ada@work.example.com"],
        phones=["+46 8 123 456 78"],
        tags=["vip"],
    )
    return to_dict(customer)


def _problems(data: object, cls: type[Any] = Customer) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        from_dict(cls, data)
    return dict(info.value.problems)


def test_unknown_keys_are_rejected_with_the_path_of_their_object(
    payload: dict[str, Any],
) -> None:
    payload["nickname"] = "Ada"
    payload["emails"][1]["verified"] = True
    payload["name"]["title"] = "Countess"
    payload["name"]["honorific"] = "Lady"
    payload["phones"][0]["number"]["country"] = "SE"
    assert _problems(payload) == {
        "": "has an unknown field",
        "emails[1]": "has an unknown field",
        "name": "has 2 unknown fields",
        "phones[0].number": "has an unknown field",
    }


@pytest.mark.parametrize("key", ["Lovelace", "ada@example.com", "0701234567", "Ada Lovelace"])
def test_unknown_keys_are_never_echoed(payload: dict[str, Any], key: str) -> None:
    # A key that looks like a field name can still be personal data (a surname).
    payload[key] = 1
    payload["name"][key] = 1
    payload["phones"][0]["number"][key] = 1
    with pytest.raises(ValidationError) as info:
        from_dict(Customer, payload)
    assert dict(info.value.problems) == {
        "": "has an unknown field",
        "name": "has an unknown field",
        "phones[0].number": "has an unknown field",
    }
    assert key not in str(info.value)
    with pytest.raises(ValidationError) as from_text:
        from_json(Customer, json.dumps(payload))
    assert str(from_text.value) == str(info.value)


@pytest.mark.parametrize("key", ["Lovelace", "ada.lovelace", "0701234567"])
def test_keys_of_free_form_maps_never_reach_a_message(payload: dict[str, Any], key: str) -> None:
    payload["custom_fields"] = {"ok": 1, key: float("nan"), "deep": {key: [1, float("inf")]}}
    payload["identifiers"] = {"vat": "SE1", key: 5}
    with pytest.raises(ValidationError) as info:
        from_dict(Customer, payload)
    assert set(info.value.paths) == {
        "custom_fields.#2",
        "custom_fields.#3.#1[1]",
        "identifiers.#2",
    }
    assert key not in str(info.value)


def test_wrong_types_are_rejected_never_coerced(payload: dict[str, Any]) -> None:
    payload["kind"] = None
    payload["owner"] = 42
    payload["version"] = True
    payload["notes"] = ["a list"]
    payload["emails"][0]["address"] = None
    payload["tags"] = "vip"
    problems = _problems(payload)
    assert set(problems) == {
        "kind",
        "owner",
        "version",
        "notes",
        "emails[0].address",
        "tags",
    }


def test_custom_fields_and_identifiers_problems_are_named_once(payload: dict[str, Any]) -> None:
    payload["custom_fields"] = {"bad key": 1, "ratio": float("nan"), "ok": [1, {"deep": None}]}
    payload["identifiers"] = 5
    # Map entries are named by position (1-based): their keys may be personal data.
    assert set(_problems(payload)) == {"custom_fields", "custom_fields.#2", "identifiers"}
    payload["custom_fields"] = "not a mapping"
    payload["identifiers"] = {"vat": 5}
    assert set(_problems(payload)) == {"custom_fields", "identifiers.#1"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("owner", None),  # optional: None is fine and stays None
        ("stage_reason", None),
    ],
)
def test_none_stays_none(payload: dict[str, Any], field: str, value: object) -> None:
    payload[field] = value
    assert getattr(from_dict(Customer, payload), field) is None


@pytest.mark.parametrize("field", ["kind", "stage", "id"])
def test_none_never_becomes_the_text_none(payload: dict[str, Any], field: str) -> None:
    payload[field] = None
    assert field in _problems(payload)


def test_person_name_parts_are_not_coerced(payload: dict[str, Any]) -> None:
    payload["name"]["family"] = None
    payload["name"]["given"] = 5
    assert _problems(payload) == {"name.given": "must be text"}


@pytest.mark.parametrize(
    "stamp",
    ["2024-05-01T12:00:00", "2024-05-01", "yesterday", 1714564800, None],
)
def test_naive_or_malformed_datetimes_are_rejected(payload: dict[str, Any], stamp: object) -> None:
    payload["created_at"] = stamp
    assert list(_problems(payload)) == ["created_at"]


def test_naive_occurred_at_is_rejected() -> None:
    ixn = Interaction.log(
        channel="email",
        direction="inbound",
        occurred_at=datetime(2024, 5, 1, tzinfo=UTC),
        customer_id=Customer.create(name="Ada").id,
    )
    data = to_dict(ixn)
    data["occurred_at"] = "2024-05-01T12:00:00"
    assert list(_problems(data, Interaction)) == ["occurred_at"]


def test_every_bad_field_is_listed_at_once(payload: dict[str, Any]) -> None:
    payload["emails"][1]["address"] = "not an email"
    payload["phones"][0]["number"]["e164"] = "0812345678"
    payload["stage"] = "champion"
    payload["birth_date"] = "1815-13-10"
    problems = _problems(payload)
    assert set(problems) == {"emails[1].address", "phones[0].number.e164", "stage", "birth_date"}
    assert "not an email" not in str(problems)


@pytest.mark.parametrize("version", [None, 0, 3, "2", True])
def test_schema_version_is_checked(payload: dict[str, Any], version: object) -> None:
    payload["schema_version"] = version
    assert list(_problems(payload)) == ["schema_version"]


def test_missing_required_fields(payload: dict[str, Any]) -> None:
    del payload["id"]
    del payload["kind"]
    assert set(_problems(payload)) >= {"id", "kind"}


@pytest.mark.parametrize("data", [None, [], "customer", 42])
def test_non_objects_are_rejected(data: object) -> None:
    assert _problems(data)


@pytest.mark.parametrize("text", ["", "{", "[1,", "null", '"x"', "\x00", "{" * 100_000])
def test_from_json_rejects_bad_documents(text: str) -> None:
    with pytest.raises(ValidationError):
        from_json(Customer, text)


@pytest.mark.parametrize("junk", [None, 42, {"schema_version": 1}, ["{}"]])
def test_from_json_refuses_what_is_not_text(junk: object) -> None:
    with pytest.raises(ValidationError):
        from_json(Customer, junk)  # type: ignore[arg-type]


def test_from_json_caps_the_document_size() -> None:
    with pytest.raises(ValidationError):
        from_json(Customer, " " * 10_000_001)


def test_payload_dicts_are_not_mutated(payload: dict[str, Any]) -> None:
    before = copy.deepcopy(payload)
    from_dict(Customer, payload)
    assert payload == before


def test_text_is_not_read_as_a_list(payload: dict[str, Any]) -> None:
    payload["emails"] = "ada@example.com"
    payload["consent_events"] = "0" * 10_000
    payload["addresses"] = {"lines": ["x"]}
    assert _problems(payload) == {
        "emails": "must be a list",
        "consent_events": "must be a list",
        "addresses": "must be a list",
    }
