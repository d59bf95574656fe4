"""The API as data: routes, middleware, error handlers and the lifespan that opens the clients."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.api import fast_purchase
from app.api import routes_purchase as purchase
from app.api.errors import HANDLERS
from app.api.fast_purchase import FastPurchase
from app.api.middleware import BodyLimit, Metrics
from app.api.operations import OPERATIONS
from app.api.storefront import STOREFRONT
from app.bootstrap import open_container
from app.config import Settings
from app.infrastructure.logs import setup_logging
from app.infrastructure.metrics import forget_process

# The collector's thresholds while serving. With the defaults (700, 10, 10) the requests in flight (each lives a
# few ms) were promoted to the old generation, and its full collections (most likely walking the verified-token
# cache) set the in-stock p99: 35 ms, against 13-20 ms with these (docs/benchmarks/README.md). A young collection
# now waits for 50,000 more live objects than the last one left: a few MiB of cyclic garbage at most; the RSS did
# not move (93 MiB).
GC_THRESHOLDS = (50_000, 50, 100)

# The route table's order: the hot path first (the router tries routes in order).
ROUTES = [Route(op.path, op.endpoint, methods=[op.method]) for op in OPERATIONS]
PURCHASE_ROUTE = next(r for r in ROUTES if r.endpoint is purchase.purchase)

# NOTE: POST /sales/{id}/purchase never passes through this list: the fast path (app/api/fast_purchase.py) takes
# it before Starlette and does these middlewares' work itself. A middleware added here must be applied there too.
MIDDLEWARE = [Middleware(Metrics, routes=ROUTES), Middleware(BodyLimit)]


class Api:
    """The Starlette app, with the purchase route's POSTs sent straight to the fast path. Everything else (other
    routes, the lifespan, attributes such as `state` and `routes`) is the Starlette app's."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.purchase = FastPurchase(app, PURCHASE_ROUTE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sale_id = self.purchase.sale_id(scope)
        if sale_id is None:
            await self.app(scope, receive, send)
        else:
            await self.purchase(scope, receive, send, sale_id)


def create_app(settings: Settings | None = None) -> Api:
    fast_purchase.check_middleware(MIDDLEWARE)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        cfg = settings or Settings.from_env()
        thresholds = gc.get_threshold()
        setup_logging(cfg.log_format)  # in each server process: `--workers N` starts them afresh
        try:
            async with open_container(cfg, mint_ids=True) as container:
                app.state.container = container
                # What start-up made lives as long as the process: the collector need not walk it again and again.
                gc.collect()
                gc.freeze()
                gc.set_threshold(*GC_THRESHOLDS)
                yield
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            forget_process()

    return Api(
        Starlette(
            routes=[*ROUTES, *STOREFRONT],
            middleware=MIDDLEWARE,
            exception_handlers=HANDLERS,
            lifespan=lifespan,
        )
    )
