"""The FastAPI recipe of docs/web.md, driven through its test client against a SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

from crmcore import Customer, SQLiteStore, from_dict, to_dict
from crmcore.ids import new_customer_id
from crmcore.schema import json_schema
from crmcore.testing._stand_ins import store_referenced
from crmcore.testing.strategies import customers
from tests.examples import load_example

fastapi_app = load_example("fastapi_app.py")
CUSTOMER_SCHEMA = Draft202012Validator(json_schema(Customer))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "crm.db") as opened:
        yield opened


@pytest.fixture
def client(store: SQLiteStore) -> Iterator[TestClient]:
    with TestClient(fastapi_app.create_app(store)) as test_client:
        yield test_client


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/customers", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def test_create_then_get_returns_the_stored_document(
    client: TestClient, store: SQLiteStore
) -> None:
    created = _create(
        client,
        name="Åsa Lindqvist",
        emails=[" Asa@Example.SE "],
        phones=["070-123 45 67"],
        region="SE",
    )
    CUSTOMER_SCHEMA.validate(created)
    assert created["emails"][0]["address"] == "Asa@example.se"
    assert created["phones"][0]["number"]["e164"] == "+46701234567"
    assert created["version"] == 1
    stored = store.customers.get(created["id"])
    assert from_dict(Customer, created) == stored
    response = client.get(f"/customers/{created['id']}")
    assert response.status_code == 200
    assert response.json() == to_dict(stored)


def test_an_unknown_id_is_404_and_a_malformed_one_422(client: TestClient) -> None:
    unknown = client.get("/customers/cus_01JD3Z8Y7X6W5V4T3S2R1Q0P9N")
    assert unknown.status_code == 404
    malformed = client.get("/customers/not-an-id")
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == "customer_id"
    assert "not-an-id" not in malformed.text


def test_bad_input_is_422_naming_the_fields_never_the_values(
    client: TestClient, store: SQLiteStore
) -> None:
    response = client.post(
        "/customers", json={"name": "Ada", "emails": ["ada@example.com", "no-at-sign.example"]}
    )
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["detail"]] == ["emails[1]"]
    assert "no-at-sign" not in response.text
    assert client.post("/customers", json=["Ada"]).status_code == 422
    assert client.post("/customers", json={"name": "Ada", "nick": "x"}).status_code == 422
    not_json = client.post("/customers", content=b"{secret", headers={"content-type": "x"})
    assert not_json.status_code == 422
    assert "secret" not in not_json.text
    bad_limit = client.get("/customers", params={"limit": "lots-of-secrets"})
    assert bad_limit.status_code == 422
    assert "lots-of-secrets" not in bad_limit.text
    assert store.customers.count() == 0  # nothing half-written


def test_a_stale_update_is_409_and_changes_nothing(client: TestClient, store: SQLiteStore) -> None:
    created = _create(client, name="Budi Santoso", phones=["0812-3456-7890"], region="ID")
    renamed = {**created, "name": {**created["name"], "given": "Budiman"}}
    first = client.put(f"/customers/{created['id']}", json=renamed)
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2
    stale = {**created, "notes": "written from an old copy"}
    second = client.put(f"/customers/{created['id']}", json=stale)
    assert second.status_code == 409
    assert second.json()["version"] == 2
    stored = store.customers.get(created["id"])
    assert stored.notes is None
    assert stored.display_name == "Budiman Santoso"
    wrong = client.put(f"/customers/{created['id']}", json={**renamed, "version": "2"})
    assert wrong.status_code == 422
    assert [d["loc"] for d in wrong.json()["detail"]] == ["version"]
    other = _create(client, name="Dewi Santoso")
    moved = client.put(f"/customers/{other['id']}", json=first.json())
    assert moved.status_code == 422


def test_listing_follows_the_cursors_through_every_customer(client: TestClient) -> None:
    ids = {_create(client, name=f"Customer {n}")["id"] for n in range(7)}
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = client.get("/customers", params=params)
        assert response.status_code == 200
        body = response.json()
        for item in body["items"]:
            CUSTOMER_SCHEMA.validate(item)
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == seen
    assert set(seen) == ids
    assert len(seen) == len(ids)
    tampered = client.get("/customers", params={"cursor": "garbage"})
    assert tampered.status_code == 422


def test_the_openapi_document_holds_crmcore_schemas(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    standalone = {k: v for k, v in json_schema(Customer).items() if k not in {"$schema", "$defs"}}
    expected = json.dumps(standalone).replace("#/$defs/", "#/components/schemas/")
    assert json.dumps(schemas["Customer"]) == expected
    assert "PhoneNumber" in schemas
    assert "NewCustomer" in schemas
    get = document["paths"]["/customers/{customer_id}"]["get"]
    body = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Customer"}
    put = document["paths"]["/customers/{customer_id}"]["put"]
    request = put["requestBody"]["content"]["application/json"]["schema"]
    assert request == {"$ref": "#/components/schemas/Customer"}
    listed = document["paths"]["/customers"]["get"]["responses"]["200"]
    items = listed["content"]["application/json"]["schema"]["properties"]["items"]
    assert items["items"] == {"$ref": "#/components/schemas/Customer"}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customer=customers())
def test_any_stored_customer_is_served_as_its_document(
    client: TestClient, store: SQLiteStore, customer: Customer
) -> None:
    # One store serves every example: a fresh id keeps them apart.
    fresh = attrs.evolve(customer, id=new_customer_id())
    store_referenced(store, [fresh])  # its organisation
    stored = store.customers.add(fresh)
    response = client.get(f"/customers/{stored.id}")
    assert response.status_code == 200
    CUSTOMER_SCHEMA.validate(response.json())
    assert from_dict(Customer, response.json()) == stored
    # And back in: the document a client read is what a PUT takes.
    again = client.put(f"/customers/{stored.id}", json=response.json())
    assert again.status_code == 200, again.text
    assert again.json()["version"] == stored.version + 1
