"""One mapping from errors to the contract's bodies: {"error": code, "message": text}, and `field` on a 422."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.api.bodies import Reply
from app.api.shapes import Error
from app.domain.errors import DomainError, InvalidRequest, ServiceUnavailable

log = logging.getLogger(__name__)


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"

    def __init__(self) -> None:
        super().__init__("the body is larger than 16 KiB")


def error_response(
    status: int, code: str, message: str, retry_after: float | None = None, field: str | None = None
) -> Response:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else None
    return Reply(Error(code, message, field), status_code=status, headers=headers)


async def domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    field = exc.field if isinstance(exc, InvalidRequest) else None
    return error_response(exc.status, exc.code, exc.message, exc.retry_after, field)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(404, "not_found", "no such resource")
    if exc.status_code == 405:
        reply = error_response(405, "method_not_allowed", "this method is not allowed here")
        reply.headers["Allow"] = ", ".join(allowed_methods(_request))
        return reply
    return error_response(exc.status_code, "invalid_request", str(exc.detail))


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (RFC 9110: a 405 lists them in `Allow`). The router's own
    list names one route's methods only, and a path here may have a route per method."""
    path = request.url.path
    return sorted(
        {
            m
            for r in request.app.routes
            if isinstance(r, Route) and r.methods and r.path_regex.match(path)
            for m in r.methods
        }
    )


async def unavailable(_request: Request, exc: Exception) -> Response:
    return error_response(503, "unavailable", f"a store this request needs is down: {exc}", retry_after=1)


async def internal_error(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side")


Handler = Callable[[Request, Exception], Awaitable[Response]]
HANDLERS: dict[Any, Handler] = {
    DomainError: domain_error,
    HTTPException: http_error,
    ServiceUnavailable: unavailable,
    RedisConnectionError: unavailable,
    RedisTimeoutError: unavailable,
    500: internal_error,
    Exception: internal_error,
}


def handler_for(exc: Exception) -> Handler | None:
    """The handler Starlette's exception middleware picks for `exc` (the nearest class in its MRO); None for one
    only the server-error middleware catches (an unexpected error: `internal_error`, then re-raised)."""
    for cls in type(exc).__mro__:
        if cls is not Exception and cls in HANDLERS:
            return HANDLERS[cls]
    return None
