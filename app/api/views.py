"""Entities as the contract's response Structs (app/api/shapes.py): ids as strings, times in UTC with Z and
milliseconds."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from app.api import shapes
from app.application.catalogue import SaleView
from app.domain.models import Commodity, Order
from app.domain.timefmt import format_time

P = TypeVar("P", shapes.CommodityPage, shapes.SalePage, shapes.OrderPage)


def _time(value: datetime) -> str:
    return format_time(value) or ""


def commodity_view(c: Commodity) -> shapes.Commodity:
    return shapes.Commodity(
        id=str(c.id),
        name=c.name,
        description=c.description,
        price_cents=c.price_cents,
        image_url=c.image_url,
        created_at=_time(c.created_at),
    )


def sale_view(v: SaleView) -> shapes.Sale:
    s = v.sale
    return shapes.Sale(
        id=str(s.id),
        commodity_id=str(s.commodity_id),
        name=s.name,
        price_cents=s.price_cents,
        stock=s.stock,
        stock_left=v.stock_left,
        starts_at=_time(s.starts_at),
        ends_at=_time(s.ends_at),
        per_user_limit=s.per_user_limit,
        payment_timeout_seconds=s.payment_timeout_seconds,
        status=v.status.value,
        preheated=v.preheated,
        paused=s.paused,
        server_time=_time(v.server_time),
    )


def order_view(o: Order) -> shapes.Order:
    return shapes.Order(
        id=str(o.id),
        sale_id=str(o.sale_id),
        user_id=o.user_id,
        quantity=o.quantity,
        amount_cents=o.amount_cents,
        status=o.status.value,
        created_at=_time(o.created_at),
        paid_at=format_time(o.paid_at),
        expires_at=format_time(o.expires_at),
        cancel_reason=o.cancel_reason,  # type: ignore[arg-type]
    )


def page(kind: type[P], items: list, limit: int) -> P:
    """Newest first; a full page hands out the last id as the cursor for the next."""
    return kind(items=items, next_cursor=items[-1].id if len(items) == limit else None)
