"""Pure ASGI middleware: the body-size cap (checked before anything else) and request metrics and failure logs."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.request_log import FailedRequests
from app.api.schema import MAX_BODY
from app.infrastructure.metrics import HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REQUESTS

_TOO_LARGE = json.dumps({"error": "payload_too_large", "message": "the body is larger than 16 KiB"}).encode()


class BodyLimit:
    """Refuse a declared Content-Length over the cap at once; cut off a streamed body that grows past it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_too_large(scope["headers"], self.limit):
            await reject_too_large(send)
            return
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # The endpoint sees a body one byte over the cap and answers 413 itself.
                    message = {"type": "http.request", "body": b"x" * (self.limit + 1), "more_body": False}
            return message

        await self.app(scope, capped, send)


def declared_too_large(headers: Sequence[tuple[bytes, bytes]], limit: int) -> bool:
    """A Content-Length over the cap, or one that is not a number, in any of the request's headers."""
    return any(name == b"content-length" and (not value.isdigit() or int(value) > limit) for name, value in headers)


async def reject_too_large(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_TOO_LARGE)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _TOO_LARGE})


class Metrics:
    """Counts requests by route (the endpoint's name, never the raw path: a bounded set), method and status;
    times them; logs the failed ones (5xx). Sits outside the body cap, so its 413s count under their route too."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.routes = routes
        self.failures = FailedRequests()

    def route_of(self, scope: Scope) -> str:
        endpoint: Any = scope.get("endpoint")
        if endpoint is None:  # answered before routing (the body cap): find the route it was meant for
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    endpoint = child.get("endpoint")
                    break
        return route_label(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, record)
        finally:
            HTTP_IN_FLIGHT.dec()
            took = time.perf_counter() - started
            route = self.route_of(scope)
            HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()
            HTTP_LATENCY.labels(route).observe(took)
            if status >= 500:
                self.failures.note(route, scope["method"], status, took)


def route_label(endpoint: Any) -> str:
    """A route's label in the metrics: its endpoint's name. A mounted app (the storefront's assets) names its
    label itself: one label for all its files."""
    return str(getattr(endpoint, "route_label", None) or getattr(endpoint, "__name__", "unmatched"))
