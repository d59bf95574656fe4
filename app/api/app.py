"""The API as data: routes, middleware, error handlers and the lifespan that opens the clients."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from app.api.errors import HANDLERS
from app.api.middleware import BodyLimit, Metrics
from app.api.operations import OPERATIONS
from app.api.storefront import STOREFRONT
from app.bootstrap import open_container
from app.config import Settings
from app.infrastructure.logs import setup_logging
from app.infrastructure.metrics import forget_process

# The route table's order: the hot path first (the router tries routes in order).
ROUTES = [Route(op.path, op.endpoint, methods=[op.method]) for op in OPERATIONS]


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
