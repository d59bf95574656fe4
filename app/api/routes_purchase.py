"""POST /sales/{id}/purchase: the hot path. Checks in the contract's order: 413 (middleware), 401, 422, 404..."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from app.api.auth import principal
from app.api.bodies import Reply, decode
from app.api.schema import path_id, read_body
from app.api.shapes import IDEMPOTENCY_KEY_PATTERN, Accepted, Purchase
from app.application.purchase import PurchaseRequest
from app.domain.errors import DomainError, InvalidRequest, Unavailable
from app.infrastructure.metrics import PURCHASES

IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


async def purchase(request: Request) -> Response:
    try:
        raw = await read_body(request)
        who = principal(request)
        body = decode(raw, Purchase, empty_ok=True)
        key = request.headers.get("idempotency-key")
        if key is not None and not IDEMPOTENCY_KEY.match(key):
            raise InvalidRequest("Idempotency-Key must be 1-64 characters of [A-Za-z0-9_-]", field="Idempotency-Key")
        sale_id = path_id(request)
        strategy = request.app.state.container.purchase
        if strategy is None:
            raise Unavailable("this process does not take purchases")
        accepted, outcome = await strategy.purchase(
            PurchaseRequest(
                sale_id=sale_id,
                user_id=who.user_id,
                quantity=1 if body.quantity is None else body.quantity,
                idempotency_key=key,
                address=request.client.host if request.client else None,
            )
        )
    except DomainError as exc:
        PURCHASES.labels(exc.code).inc()
        raise
    PURCHASES.labels(outcome).inc()
    return Reply(Accepted(order_id=str(accepted.order_id), status=accepted.status), status_code=202)
