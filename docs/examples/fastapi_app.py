"""A FastAPI app that stores customers in crmcore: the recipe of docs/web.md, run by its tests.

crmcore models are attrs classes, not pydantic models, so FastAPI cannot
encode them itself (an endpoint returning a ``Customer`` answers 500). The
recipe:

- endpoints return ``to_dict(model)`` in a ``JSONResponse`` (:func:`document`);
- the OpenAPI document gets crmcore's JSON Schemas in ``components.schemas``
  (:func:`crmcore.schema.add_openapi_components`), and each endpoint names its
  body with :func:`crmcore.schema.openapi_response`;
- request bodies are read as JSON and built with ``from_dict`` (or a model's
  ``create``), so crmcore checks them, and every crmcore error has its status:
  ``ValidationError`` 422 naming the fields (never the values), ``NotFound``
  404, ``VersionConflict`` 409.

Run it with ``uvicorn`` (``create_app(SQLiteStore("crm.db"))``) or drive it
with FastAPI's ``TestClient`` as ``tests/web/test_fastapi.py`` does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from crmcore import Customer, NotFound, ValidationError, VersionConflict, from_dict, to_dict
from crmcore.ids import parse_customer_id
from crmcore.schema import add_openapi_components, openapi_response
from crmcore.storage import Store

NEW_CUSTOMER: dict[str, Any] = {
    "type": "object",
    "title": "NewCustomer",
    "description": "What a sign-up form sends: crmcore parses and normalises it.",
    "properties": {
        "name": {"type": "string"},
        "emails": {"type": "array", "items": {"type": "string"}},
        "phones": {"type": "array", "items": {"type": "string"}},
        "region": {"type": "string", "description": "for phones typed without +"},
    },
    "required": ["name"],
    "additionalProperties": False,
}
"""The body of ``POST /customers``: raw input, as a web form sends it."""


def document(model: object, status_code: int = 200) -> JSONResponse:
    """A crmcore model as the body of a response: its ``to_dict`` document."""
    return JSONResponse(to_dict(model), status_code=status_code)


def problems(error: ValidationError) -> JSONResponse:
    """422 with every problem's field path and message (crmcore's messages hold no values)."""
    detail = [{"loc": path, "msg": message} for path, message in error.problems]
    return JSONResponse({"detail": detail}, status_code=422)


async def json_body(request: Request) -> object:
    """The request's JSON, or a ValidationError (FastAPI's own would echo the input)."""
    try:
        return await request.json()
    except ValueError:
        raise ValidationError("body", "is not valid JSON") from None


JsonBody = Annotated[object, Depends(json_body)]
"""An endpoint's parameter for the request's JSON body."""


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    # The body is read by json_body, so FastAPI does not know its schema: say it.
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def create_app(store: Store) -> FastAPI:
    """The app, serving ``store`` (which the caller opens and closes)."""
    app = FastAPI(title="crmcore customers")

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, error: ValidationError) -> JSONResponse:
        return problems(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer repeats the input, which may be personal data.
        detail = [
            {"loc": ".".join(str(part) for part in e["loc"]), "msg": e["msg"]}
            for e in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": "not found"}, status_code=404)

    @app.exception_handler(VersionConflict)
    async def conflict(request: Request, error: VersionConflict) -> JSONResponse:
        detail = {"detail": "the record changed meanwhile", "version": error.actual}
        return JSONResponse(detail, status_code=409)

    @app.post(
        "/customers",
        status_code=201,
        responses={201: openapi_response(Customer, description="The stored customer")},
        openapi_extra=_body({"$ref": "#/components/schemas/NewCustomer"}),
    )
    def create_customer(body: JsonBody) -> JSONResponse:
        if not isinstance(body, dict):
            raise ValidationError("body", "must be an object")
        unknown = set(body) - set(NEW_CUSTOMER["properties"])
        if unknown:
            raise ValidationError("body", "has an unknown field")
        customer = Customer.create(
            name=body.get("name"),  # type: ignore[arg-type]  # Customer.create checks it
            emails=body.get("emails", ()),
            phones=body.get("phones", ()),
            region=body.get("region"),
        )
        return document(store.customers.add(customer), status_code=201)

    @app.get("/customers/{customer_id}", responses={200: openapi_response(Customer)})
    def get_customer(customer_id: str) -> JSONResponse:
        return document(store.customers.get(parse_customer_id(customer_id, field="customer_id")))

    @app.put(
        "/customers/{customer_id}",
        responses={200: openapi_response(Customer, description="The stored customer")},
        openapi_extra=_body({"$ref": "#/components/schemas/Customer"}),
    )
    def replace_customer(customer_id: str, body: JsonBody) -> JSONResponse:
        customer = from_dict(Customer, body)
        if customer.id != parse_customer_id(customer_id, field="customer_id"):
            raise ValidationError("id", "must be the id in the URL")
        # Compare-and-set: the body carries the version it was read at.
        return document(store.customers.update(customer))

    @app.get("/customers", responses={200: openapi_response(Customer, many=True)})
    def list_customers(
        limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None
    ) -> JSONResponse:
        page = store.customers.list(limit=limit, cursor=cursor)
        items = [to_dict(customer) for customer in page]
        return JSONResponse({"items": items, "next_cursor": page.next_cursor})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(title=app.title, version=app.version, routes=app.routes)
            generated = add_openapi_components(generated)
            generated["components"]["schemas"]["NewCustomer"] = NEW_CUSTOMER
            app.openapi_schema = generated
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
