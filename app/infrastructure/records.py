"""The reservation record: what lua/reserve.lua writes (res hash, hand-off stream) and the order queue
carries. Short keys keep the hot path's bytes small: o order, s sale, u user, q quantity, a amount, c created
(ms), x expires (ms), e cache epoch, k idempotency key."""

from __future__ import annotations

import json
from typing import Any

from app.domain.models import Reservation


def reservation_from_dict(r: dict[str, Any]) -> Reservation:
    return Reservation(
        order_id=int(r["o"]),
        sale_id=int(r["s"]),
        user_id=str(r["u"]),
        quantity=int(r["q"]),
        amount_cents=int(r["a"]),
        created_ms=int(r["c"]),
        expires_ms=int(r["x"]),
        epoch=int(r["e"]),
        idempotency_key=r.get("k") or None,
    )


def reservation_from_json(raw: str | bytes) -> Reservation:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a reservation record is a JSON object")
    return reservation_from_dict(data)


def reservation_to_dict(r: Reservation) -> dict[str, Any]:
    return {
        "o": str(r.order_id),
        "s": str(r.sale_id),
        "u": r.user_id,
        "q": r.quantity,
        "a": r.amount_cents,
        "c": r.created_ms,
        "x": r.expires_ms,
        "e": str(r.epoch),
        "k": r.idempotency_key or "",
    }


def parse_orders(body: bytes) -> list[Reservation]:
    """An order message holds one record (a JSON object) or several (a JSON array of them)."""
    data = json.loads(body)
    if isinstance(data, dict):
        return [reservation_from_dict(data)]
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) for item in data):
        raise ValueError("an order message is a record or a non-empty array of records")
    return [reservation_from_dict(item) for item in data]
