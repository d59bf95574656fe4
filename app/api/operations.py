"""The route table: each operation's path, method and endpoint, the Struct its body must be, the Struct it answers
with and every error status it can answer. The router (app/api/app.py) and the OpenAPI document
(app/api/openapi.py) are both made from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.api import openapi
from app.api import routes_accounts as accounts
from app.api import routes_catalogue as catalogue
from app.api import routes_health as health
from app.api import routes_orders as orders
from app.api import routes_purchase as purchase
from app.api import shapes as s

V1 = "/api/v1"
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    endpoint: Endpoint
    summary: str
    ok: int = 200
    response: type | None = None  # the success body's Struct; None: described by `media` alone
    request: type | None = None  # the body's Struct, if the operation reads one
    body_required: bool = True
    errors: dict[int, type] = field(default_factory=dict)  # status -> body Struct
    auth: bool = False
    params: tuple[dict[str, Any], ...] = ()
    media: str = "application/json"


def errors(*statuses: int) -> dict[int, type]:
    return dict.fromkeys(statuses, s.Error)


# Every /api/v1 operation answers 503 when a store it needs is down; every POST and PATCH 413 for a body over the
# cap (the middleware answers before the route); 401 without a valid token, 403 without the admin role.
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}}
PAGE = (
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
    # Opaque to clients, but the API gives out (and accepts) decimal ids only.
    {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}},
)
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}

OPERATIONS = (
    # The hot path first: the router tries routes in order.
    Operation("POST", f"{V1}/sales/{{id}}/purchase", purchase.purchase, "Buy: reserve stock, answer 202", 202,
              s.Accepted, s.Purchase, body_required=False, errors=errors(401, 404, 409, 413, 422, 429, 503),
              auth=True, params=(ID, IDEMPOTENCY_KEY)),
    Operation("POST", f"{V1}/users", accounts.register, "Register", 201, s.User, s.Credentials,
              errors=errors(409, 413, 422, 429, 503)),
    Operation("POST", f"{V1}/auth/token", accounts.issue_token, "Issue a token", 200, s.Token, s.Credentials,
              errors=errors(401, 413, 422, 429, 503)),
    Operation("GET", f"{V1}/commodities", catalogue.list_commodities, "List commodities", 200, s.CommodityPage,
              errors=errors(422, 503), params=PAGE),
    Operation("POST", f"{V1}/commodities", catalogue.create_commodity, "Create a commodity (admin)", 201,
              s.Commodity, s.NewCommodity, errors=errors(401, 403, 413, 422, 503), auth=True),
    Operation("GET", f"{V1}/commodities/{{id}}", catalogue.get_commodity, "A commodity", 200, s.Commodity,
              errors=errors(404, 503), params=(ID,)),
    Operation("GET", f"{V1}/sales", catalogue.list_sales, "List sales", 200, s.SalePage, errors=errors(422, 503),
              params=PAGE),
    Operation("POST", f"{V1}/sales", catalogue.create_sale, "Create a sale (admin)", 201, s.Sale, s.NewSale,
              errors=errors(401, 403, 413, 422, 503), auth=True),
    Operation("GET", f"{V1}/sales/{{id}}", catalogue.get_sale, "A sale", 200, s.Sale, errors=errors(404, 503),
              params=(ID,)),
    Operation("PATCH", f"{V1}/sales/{{id}}", catalogue.change_sale, "Pause, resume or change stock (admin)", 200,
              s.Sale, s.SaleChange, errors=errors(401, 403, 404, 409, 413, 422, 503), auth=True, params=(ID,)),
    Operation("POST", f"{V1}/sales/{{id}}/preheat", catalogue.preheat_sale, "Load the sale into the cache (admin)",
              200, s.Sale, errors=errors(401, 403, 404, 413, 503), auth=True, params=(ID,)),
    Operation("GET", f"{V1}/orders", orders.list_orders, "Your orders, pending ones included", 200, s.OrderPage,
              errors=errors(401, 422, 503), auth=True,
              params=(*PAGE, {"name": "sale_id", "in": "query", "schema": ID["schema"]})),
    Operation("GET", f"{V1}/orders/{{id}}", orders.get_order, "An order (owner or admin)", 200, s.Order,
              errors=errors(401, 404, 503), auth=True, params=(ID,)),
    Operation("POST", f"{V1}/orders/{{id}}/pay", orders.pay_order, "Pay (owner)", 200, s.Order,
              errors=errors(401, 402, 404, 409, 413, 503), auth=True, params=(ID,)),
    Operation("POST", f"{V1}/orders/{{id}}/cancel", orders.cancel_order, "Cancel (owner)", 200, s.Order,
              errors=errors(401, 404, 409, 413, 503), auth=True, params=(ID,)),
    Operation("GET", "/healthz", health.healthz, "Liveness", 200, s.Health),
    Operation("GET", "/readyz", health.readyz, "Readiness: each dependency's state", 200, s.Readiness,
              errors={503: s.Readiness}),
    Operation("GET", "/metrics", health.metrics, "Prometheus metrics", 200, media="text/plain"),
    Operation("GET", "/openapi.json", openapi.openapi, "This document", 200),
)  # fmt: skip
