"""The API as data: routes, middleware, error handlers and the lifespan that opens the clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from app.api import routes_accounts as accounts
from app.api import routes_catalogue as catalogue
from app.api import routes_health as health
from app.api import routes_orders as orders
from app.api import routes_purchase as purchase
from app.api.errors import HANDLERS
from app.api.middleware import BodyLimit, Metrics
from app.api.openapi import openapi
from app.api.storefront import STOREFRONT
from app.bootstrap import open_container
from app.config import Settings
from app.infrastructure.logs import setup_logging
from app.infrastructure.metrics import forget_process

V1 = "/api/v1"

ROUTES = [
    # The hot path first: the router tries routes in order.
    Route(f"{V1}/sales/{{id}}/purchase", purchase.purchase, methods=["POST"]),
    Route(f"{V1}/users", accounts.register, methods=["POST"]),
    Route(f"{V1}/auth/token", accounts.issue_token, methods=["POST"]),
    Route(f"{V1}/commodities", catalogue.list_commodities, methods=["GET"]),
    Route(f"{V1}/commodities", catalogue.create_commodity, methods=["POST"]),
    Route(f"{V1}/commodities/{{id}}", catalogue.get_commodity, methods=["GET"]),
    Route(f"{V1}/sales", catalogue.list_sales, methods=["GET"]),
    Route(f"{V1}/sales", catalogue.create_sale, methods=["POST"]),
    Route(f"{V1}/sales/{{id}}", catalogue.get_sale, methods=["GET"]),
    Route(f"{V1}/sales/{{id}}", catalogue.change_sale, methods=["PATCH"]),
    Route(f"{V1}/sales/{{id}}/preheat", catalogue.preheat_sale, methods=["POST"]),
    Route(f"{V1}/orders", orders.list_orders, methods=["GET"]),
    Route(f"{V1}/orders/{{id}}", orders.get_order, methods=["GET"]),
    Route(f"{V1}/orders/{{id}}/pay", orders.pay_order, methods=["POST"]),
    Route(f"{V1}/orders/{{id}}/cancel", orders.cancel_order, methods=["POST"]),
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/metrics", health.metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]


def create_app(settings: Settings | None = None) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        cfg = settings or Settings.from_env()
        setup_logging(cfg.log_format)  # in each server process: `--workers N` starts them afresh
        try:
            async with open_container(cfg, mint_ids=True) as container:
                app.state.container = container
                yield
        finally:
            forget_process()

    return Starlette(
        routes=[*ROUTES, *STOREFRONT],
        middleware=[Middleware(Metrics, routes=ROUTES), Middleware(BodyLimit)],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
