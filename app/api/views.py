"""Entities as the contract's JSON: ids as strings, times in UTC with Z and milliseconds."""

from __future__ import annotations

from typing import Any

from app.application.catalogue import SaleView
from app.domain.models import Commodity, Order
from app.domain.timefmt import format_time


def commodity_json(c: Commodity) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "name": c.name,
        "description": c.description,
        "price_cents": c.price_cents,
        "image_url": c.image_url,
        "created_at": format_time(c.created_at),
    }


def sale_json(v: SaleView) -> dict[str, Any]:
    s = v.sale
    return {
        "id": str(s.id),
        "commodity_id": str(s.commodity_id),
        "name": s.name,
        "price_cents": s.price_cents,
        "stock": s.stock,
        "stock_left": v.stock_left,
        "starts_at": format_time(s.starts_at),
        "ends_at": format_time(s.ends_at),
        "per_user_limit": s.per_user_limit,
        "payment_timeout_seconds": s.payment_timeout_seconds,
        "status": v.status.value,
        "preheated": v.preheated,
        "paused": s.paused,
        "server_time": format_time(v.server_time),
    }


def order_json(o: Order) -> dict[str, Any]:
    return {
        "id": str(o.id),
        "sale_id": str(o.sale_id),
        "user_id": o.user_id,
        "quantity": o.quantity,
        "amount_cents": o.amount_cents,
        "status": o.status.value,
        "created_at": format_time(o.created_at),
        "paid_at": format_time(o.paid_at),
        "expires_at": format_time(o.expires_at),
        "cancel_reason": o.cancel_reason,
    }


def page_json(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """Newest first; a full page hands out the last id as the cursor for the next."""
    next_cursor = items[-1]["id"] if len(items) == limit else None
    return {"items": items, "next_cursor": next_cursor}
