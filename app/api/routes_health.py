"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from app.api.bodies import Reply
from app.api.shapes import Health, Readiness
from app.bootstrap import Container
from app.infrastructure.metrics import render


async def healthz(_request: Request) -> Response:
    return Reply(Health(status="ok"))


async def _redis_ok(c: Container) -> bool:
    try:
        return bool(await asyncio.wait_for(c.redis.ping(), timeout=2))
    except Exception:
        return False


async def readyz(request: Request) -> Response:
    """Ready when every store the purchase path needs answers, and order ids can be minted."""
    c: Container = request.app.state.container
    redis_ok, db_ok = await asyncio.gather(_redis_ok(c), c.db.ping())
    checks = {"redis": "up" if redis_ok else "down", "mysql": "up" if db_ok else "down"}
    if c.lease is not None:
        checks["order_ids"] = "up" if c.lease.valid else "down"
    needed = ["redis", "order_ids"] if c.settings.stock_strategy == "redis" else ["redis", "mysql", "order_ids"]
    ready = all(checks.get(name, "up") == "up" for name in needed)
    return Reply(
        Readiness(status="ready" if ready else "not_ready", dependencies=checks),  # type: ignore[arg-type]
        status_code=200 if ready else 503,
    )


async def metrics(_request: Request) -> Response:
    body, content_type = render()
    return Response(body, media_type=content_type)
