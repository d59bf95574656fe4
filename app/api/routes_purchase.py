"""POST /sales/{id}/purchase: the hot path. Checks in the contract's order: 413 (middleware), 401, 422, 404...

`take` is the answer itself, from the request's parts; the Starlette route below and the pure-ASGI fast path
(app/api/fast_purchase.py, which serves this route in the running API) both call it, so they answer alike."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Literal, cast

from starlette.requests import Request
from starlette.responses import Response

from app.api.auth import bearer
from app.api.bodies import Reply, decode
from app.api.schema import parse_id, read_body
from app.api.shapes import IDEMPOTENCY_KEY_PATTERN, Accepted, Purchase
from app.application.purchase import PurchaseRequest
from app.domain.errors import DomainError, InvalidRequest, Unavailable
from app.infrastructure.metrics import PURCHASES

if TYPE_CHECKING:
    from app.bootstrap import Container

IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
OrderStatus = Literal["pending", "created"]  # a 202's (Accepted.status)


async def purchase(request: Request) -> Response:
    return await take(
        request.app.state.container,
        partial(read_body, request),
        authorization=request.headers.get("authorization", ""),
        idempotency_key=request.headers.get("idempotency-key"),
        sale_id=request.path_params.get("id", ""),
        address=request.client.host if request.client else None,
    )


async def take(
    container: Container,
    read: Callable[[], Awaitable[bytes]],
    *,
    authorization: str,
    idempotency_key: str | None,
    sale_id: object,
    address: str | None,
) -> Response:
    """The purchase's answer; a DomainError (or a store's error) if it fails. `read` gives the body, or raises
    PayloadTooLarge past the cap."""
    try:
        raw = await read()
        who = bearer(authorization, container.tokens)
        body = decode(raw, Purchase, empty_ok=True)
        key = idempotency_key
        if key is not None and not IDEMPOTENCY_KEY.match(key):
            raise InvalidRequest("Idempotency-Key must be 1-64 characters of [A-Za-z0-9_-]", field="Idempotency-Key")
        sale = parse_id(sale_id)
        strategy = container.purchase
        if strategy is None:
            raise Unavailable("this process does not take purchases")
        accepted, outcome = await strategy.purchase(
            PurchaseRequest(
                sale_id=sale,
                user_id=who.user_id,
                quantity=1 if body.quantity is None else body.quantity,
                idempotency_key=key,
                address=address,
            )
        )
    except DomainError as exc:
        PURCHASES.labels(exc.code).inc()
        raise
    PURCHASES.labels(outcome).inc()
    return Reply(Accepted(order_id=str(accepted.order_id), status=cast(OrderStatus, accepted.status)), status_code=202)
