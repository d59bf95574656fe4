"""The OpenAPI 3.1 document of the public contract, built from data so it stays one page."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

ID = {"type": "string", "pattern": "^[0-9]{1,19}$"}
TIME = {"type": "string", "format": "date-time"}
MONEY = {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
    "Credentials": {
        "type": "object",
        "additionalProperties": False,
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "minLength": 3, "maxLength": 64, "pattern": "^[A-Za-z0-9_.-]+$"},
            "password": {"type": "string", "minLength": 8, "maxLength": 128},
        },
    },
    "User": {"type": "object", "properties": {"id": {"type": "string"}, "username": {"type": "string"}}},
    "Token": {
        "type": "object",
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"const": "bearer"},
            "expires_in": {"type": "integer"},
        },
    },
    "NewCommodity": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "price_cents"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": ["string", "null"], "maxLength": 4000},
            "price_cents": MONEY,
            "image_url": {"type": ["string", "null"], "format": "uri", "maxLength": 2048},
        },
    },
    "Commodity": {
        "type": "object",
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "price_cents": MONEY,
            "image_url": {"type": ["string", "null"]},
            "created_at": TIME,
        },
    },
    "NewSale": {
        "type": "object",
        "additionalProperties": False,
        "required": ["commodity_id", "name", "price_cents", "stock", "starts_at", "ends_at"],
        "properties": {
            "commodity_id": ID,
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "price_cents": MONEY,
            "stock": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
            "starts_at": TIME,
            "ends_at": TIME,
            # null, like an absent optional field, means the default (as the validation reads it)
            "per_user_limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 1000, "default": 1},
            "payment_timeout_seconds": {"type": ["integer", "null"], "minimum": 1, "maximum": 86400, "default": 900},
        },
    },
    "SaleChange": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "paused": {"type": ["boolean", "null"]},
            "stock": {"type": ["integer", "null"], "minimum": 1, "maximum": 10_000_000},
        },
    },
    "Sale": {
        "type": "object",
        "properties": {
            "id": ID,
            "commodity_id": ID,
            "name": {"type": "string"},
            "price_cents": MONEY,
            "stock": {"type": "integer"},
            "stock_left": {"type": "integer"},
            "starts_at": TIME,
            "ends_at": TIME,
            "per_user_limit": {"type": "integer"},
            "payment_timeout_seconds": {"type": "integer"},
            "status": {"enum": ["scheduled", "active", "sold_out", "ended"]},
            "preheated": {"type": "boolean"},
            "paused": {"type": "boolean"},
            "server_time": TIME,
        },
    },
    "Purchase": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"quantity": {"type": ["integer", "null"], "minimum": 1, "maximum": 100, "default": 1}},
    },
    "Accepted": {
        "type": "object",
        "properties": {"order_id": ID, "status": {"enum": ["pending", "created"]}},
    },
    "Order": {
        "type": "object",
        "properties": {
            "id": ID,
            "sale_id": ID,
            "user_id": {"type": "string"},
            "quantity": {"type": "integer"},
            "amount_cents": MONEY,
            "status": {"enum": ["pending", "created", "paying", "paid", "cancelled"]},
            "created_at": TIME,
            "paid_at": {"type": ["string", "null"], "format": "date-time"},
            "expires_at": TIME,
            "cancel_reason": {"enum": [None, "timeout", "user"]},
        },
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


def _op(
    summary: str,
    ok: int,
    body: Any,
    *,
    auth: bool,
    request: str | None = None,
    errors: str = "",
    body_required: bool = True,
) -> dict:
    responses: dict[str, Any] = {str(ok): {"description": "success", "content": {"application/json": {"schema": body}}}}
    for code in errors.split():
        responses[code] = {"description": "error", "content": {"application/json": {"schema": _ref("Error")}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if auth:
        op["security"] = [{"bearer": []}]
    if request:
        # Only a purchase may have an empty body (it buys one unit); elsewhere an absent body is 422.
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": _ref(request)}}}
    return op


PAGE_PARAMS = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    },
    # Opaque to clients, but the API gives out (and accepts) decimal ids only.
    {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}},
]
ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": ID}]


@functools.cache
def document() -> dict[str, Any]:
    v1 = "/api/v1"
    paths: dict[str, Any] = {
        f"{v1}/users": {
            "post": _op("Register", 201, _ref("User"), auth=False, request="Credentials", errors="409 413 422 429")
        },
        f"{v1}/auth/token": {
            "post": _op("Issue a token", 200, _ref("Token"), auth=False, request="Credentials", errors="401 422 429")
        },
        f"{v1}/commodities": {
            "get": {
                **_op("List commodities", 200, _page("Commodity"), auth=False, errors="422"),
                "parameters": PAGE_PARAMS,
            },
            "post": _op(
                "Create a commodity (admin)",
                201,
                _ref("Commodity"),
                auth=True,
                request="NewCommodity",
                errors="401 403 413 422",
            ),
        },
        f"{v1}/commodities/{{id}}": {
            "get": {
                **_op("A commodity", 200, _ref("Commodity"), auth=False, errors="404"),
                "parameters": ID_PARAM,
            }
        },
        f"{v1}/sales": {
            "get": {
                **_op("List sales", 200, _page("Sale"), auth=False, errors="422"),
                "parameters": PAGE_PARAMS,
            },
            "post": _op(
                "Create a sale (admin)",
                201,
                _ref("Sale"),
                auth=True,
                request="NewSale",
                errors="401 403 413 422",
            ),
        },
        f"{v1}/sales/{{id}}": {
            "get": {**_op("A sale", 200, _ref("Sale"), auth=False, errors="404"), "parameters": ID_PARAM},
            "patch": {
                **_op(
                    "Pause, resume or change stock (admin)",
                    200,
                    _ref("Sale"),
                    auth=True,
                    request="SaleChange",
                    errors="401 403 404 409 413 422",
                ),
                "parameters": ID_PARAM,
            },
        },
        f"{v1}/sales/{{id}}/preheat": {
            "post": {
                **_op(
                    "Load the sale into the cache (admin)",
                    200,
                    _ref("Sale"),
                    auth=True,
                    errors="401 403 404 503",
                ),
                "parameters": ID_PARAM,
            }
        },
        f"{v1}/sales/{{id}}/purchase": {
            "post": {
                **_op(
                    "Buy: reserve stock, answer 202",
                    202,
                    _ref("Accepted"),
                    auth=True,
                    request="Purchase",
                    errors="401 404 409 413 422 429 503",
                    body_required=False,
                ),
                "parameters": [
                    *ID_PARAM,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                    },
                ],
            }
        },
        f"{v1}/orders": {
            "get": {
                **_op("Your orders, pending ones included", 200, _page("Order"), auth=True, errors="401 422"),
                "parameters": [*PAGE_PARAMS, {"name": "sale_id", "in": "query", "schema": ID}],
            }
        },
        f"{v1}/orders/{{id}}": {
            "get": {
                **_op("An order (owner or admin)", 200, _ref("Order"), auth=True, errors="401 404"),
                "parameters": ID_PARAM,
            }
        },
        f"{v1}/orders/{{id}}/pay": {
            "post": {
                **_op("Pay (owner)", 200, _ref("Order"), auth=True, errors="401 402 404 409"),
                "parameters": ID_PARAM,
            }
        },
        f"{v1}/orders/{{id}}/cancel": {
            "post": {
                **_op("Cancel (owner)", 200, _ref("Order"), auth=True, errors="401 404 409"),
                "parameters": ID_PARAM,
            }
        },
        "/healthz": {"get": _op("Liveness", 200, {"type": "object"}, auth=False)},
        "/readyz": {
            "get": _op("Readiness: each dependency's state", 200, {"type": "object"}, auth=False, errors="503")
        },
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
        "/openapi.json": {"get": _op("This document", 200, {"type": "object"}, auth=False)},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "flashsale", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


async def openapi(_request: Request) -> JSONResponse:
    return JSONResponse(document())
