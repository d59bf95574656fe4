"""POST /sales/{id}/purchase: the hot path. Checks in the contract's order: 413 (middleware), 401, 422, 404..."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.api.auth import principal
from app.api.schema import Field, json_body, path_id, read_body, validate
from app.application.purchase import PurchaseRequest
from app.domain.errors import DomainError, InvalidRequest, Unavailable
from app.infrastructure.metrics import PURCHASES

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
BODY = {"quantity": Field("int", required=False, lo=1, hi=100, default=1)}


async def purchase(request: Request) -> JSONResponse:
    try:
        await read_body(request)
        who = principal(request)
        data = validate(await json_body(request, empty_ok=True), BODY)
        key = request.headers.get("idempotency-key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise InvalidRequest("Idempotency-Key must be 1-64 characters of [A-Za-z0-9_-]")
        sale_id = path_id(request)
        strategy = request.app.state.container.purchase
        if strategy is None:
            raise Unavailable("this process does not take purchases")
        accepted, outcome = await strategy.purchase(
            PurchaseRequest(
                sale_id=sale_id,
                user_id=who.user_id,
                quantity=data["quantity"],
                idempotency_key=key,
                address=request.client.host if request.client else None,
            )
        )
    except DomainError as exc:
        PURCHASES.labels(exc.code).inc()
        raise
    PURCHASES.labels(outcome).inc()
    return JSONResponse({"order_id": str(accepted.order_id), "status": accepted.status}, status_code=202)
