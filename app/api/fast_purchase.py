"""POST /api/v1/sales/{id}/purchase in plain ASGI: the hot path, without Starlette's routing, Request, middleware
stack and exception machinery around it (about half of a purchase's CPU time went there).

It answers exactly as the Starlette route would (app/api/app.py keeps that route for anything else that reaches
it): the middleware's work is done here with the middleware's own functions (the body cap's 413 for a declared
length; metrics under the same route label; the log line of a failed request), the answer is
app/api/routes_purchase.py's `take`, and errors go through the same handlers (app/api/errors.py) that Starlette
would pick, an unexpected one through `internal_error` and then up to the server, as Starlette's server-error
middleware does. The response goes out in two sends, as Starlette's does."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope, Send

from app.api.errors import PayloadTooLarge, handler_for, internal_error
from app.api.middleware import BodyLimit, Metrics, declared_too_large, reject_too_large, route_label
from app.api.request_log import FailedRequests
from app.api.routes_purchase import take
from app.api.schema import MAX_BODY
from app.infrastructure.metrics import HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REQUESTS

# The middleware whose work this path does itself; app/api/app.py checks its middleware list against this.
COVERS = (Metrics, BodyLimit)


def check_middleware(middleware: list[Any]) -> None:
    """Refuses a middleware list this path does not cover: a middleware added there would silently not apply to
    purchases."""
    classes = tuple(m.cls for m in middleware)
    if classes != COVERS:
        raise RuntimeError(f"the purchase fast path covers {COVERS}, not the middleware {classes}")


async def read_capped(receive: Receive, limit: int = MAX_BODY) -> bytes:
    """The body, as Starlette reads it (a disconnect raises ClientDisconnect); past the cap, PayloadTooLarge at
    once, as BodyLimit and `read_body` answer a streamed body that grows past it."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            body = message.get("body", b"")
            seen += len(body)
            if seen > limit:
                raise PayloadTooLarge()
            if body:
                chunks.append(body)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif kind == "http.disconnect":
            raise ClientDisconnect()


class FastPurchase:
    def __init__(self, app: Starlette, route: Route) -> None:
        self.app = app
        self.route = route
        self.label = route_label(route.endpoint)
        self.failures = FailedRequests()
        self.latency = HTTP_LATENCY.labels(self.label)
        self.counts: dict[int, Any] = {}  # status -> its HTTP_REQUESTS child (a label lookup costs a lock)
        self.answered = 0  # requests this path took (the tests prove it is the one answering)

    def sale_id(self, scope: Scope) -> str | None:
        """The path's raw sale id if this request is the route's (a POST whose path matches), else None."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        match, child = self.route.matches(scope)
        if match is not Match.FULL:
            return None
        return str(child["path_params"]["id"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send, sale_id: str) -> None:
        self.answered += 1
        scope["app"] = self.app  # as Starlette sets it: handlers may reach the app through their request
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._measured(scope, receive, sending, sale_id)
        except Exception as exc:
            # What Starlette's server-error middleware does with an error no handler takes: 500, then re-raise.
            if not started:
                await _send(send, await internal_error(Request(scope, receive), exc))
            raise

    async def _measured(self, scope: Scope, receive: Receive, send: Send, sale_id: str) -> None:
        """The Metrics middleware's work around the answer."""
        begun = time.perf_counter()
        status = 500
        HTTP_IN_FLIGHT.inc()
        try:
            status = await self._answer(scope, receive, send, sale_id)
        finally:
            HTTP_IN_FLIGHT.dec()
            took = time.perf_counter() - begun
            counter = self.counts.get(status)
            if counter is None:
                counter = self.counts[status] = HTTP_REQUESTS.labels(self.label, "POST", str(status))
            counter.inc()
            self.latency.observe(took)
            if status >= 500:
                self.failures.note(self.label, "POST", status, took)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, sale_id: str) -> int:
        headers = scope["headers"]
        if declared_too_large(headers, MAX_BODY):
            await reject_too_large(send)
            return 413
        authorization = ""
        key: str | None = None
        have_authorization = False
        for name, value in headers:  # the first of each, as Starlette's Headers.get reads them
            if name == b"authorization" and not have_authorization:
                authorization, have_authorization = value.decode("latin-1"), True
            elif name == b"idempotency-key" and key is None:
                key = value.decode("latin-1")
        client = scope.get("client")
        response: Response
        try:
            response = await take(
                self.app.state.container,
                partial(read_capped, receive),
                authorization=authorization,
                idempotency_key=key,
                sale_id=sale_id,
                address=client[0] if client else None,
            )
        except Exception as exc:
            handler = handler_for(exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
            exc.__traceback__ = None
        await _send(send, response)
        return response.status_code


async def _send(send: Send, response: Response) -> None:
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})
