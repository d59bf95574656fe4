"""The entities of a sale: commodity, sale, order, and the rules that derive their state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    CREATED = "created"
    PAYING = "paying"
    PAID = "paid"
    CANCELLED = "cancelled"


class SaleStatus(StrEnum):
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    SOLD_OUT = "sold_out"
    ENDED = "ended"


@dataclass(frozen=True)
class User:
    id: str
    username: str
    role: str
    password_hash: str = ""


@dataclass(frozen=True)
class Commodity:
    id: int
    name: str
    description: str | None
    price_cents: int
    image_url: str | None
    created_at: datetime


@dataclass(frozen=True)
class Sale:
    id: int
    commodity_id: int
    name: str
    price_cents: int
    stock: int
    stock_left: int  # the database's truth: stock minus units in orders not cancelled
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int
    payment_timeout_seconds: int
    paused: bool
    cache_epoch: int
    created_at: datetime

    def status_at(self, now: datetime, stock_left: int) -> SaleStatus:
        if now >= self.ends_at:
            return SaleStatus.ENDED
        if now < self.starts_at:
            return SaleStatus.SCHEDULED
        if stock_left <= 0:
            return SaleStatus.SOLD_OUT
        return SaleStatus.ACTIVE


@dataclass(frozen=True)
class Order:
    id: int
    sale_id: int
    user_id: str
    quantity: int
    amount_cents: int
    status: OrderStatus
    created_at: datetime
    paid_at: datetime | None
    expires_at: datetime | None
    cancel_reason: str | None


@dataclass(frozen=True)
class PipelineState:
    """What is still on its way from the reservations of a sale to its order rows."""

    handoff: int  # accepted orders still in the sale's Redis hand-off
    queued: int  # messages in the order queue, all sales (-1: unknown)
    dead_letters: int  # messages in the dead-letter queue, all sales (-1: unknown)
    exact: bool  # False when unacknowledged messages could not be counted
    unwritten: int = -1  # the sale's orders handed to the broker and not written, dead letters included (-1: unknown)

    @property
    def drained(self) -> bool:
        """Nothing of this sale is on its way: its own count, whatever other sales keep in the shared queue."""
        return self.handoff == 0 and self.unwritten == 0


@dataclass(frozen=True)
class Backlog:
    """What of one sale is not in the database yet: the drain check of a preheat after a lost cache."""

    handoff: int  # accepted, still in the sale's Redis hand-off
    unwritten: int  # handed to the broker, not written: queued, held by a writer, or dead-lettered

    @property
    def drained(self) -> bool:
        return self.handoff == 0 and self.unwritten == 0


@dataclass(frozen=True)
class Reservation:
    """An accepted purchase as the reservation recorded it, before the order pipeline writes it."""

    order_id: int
    sale_id: int
    user_id: str
    quantity: int
    amount_cents: int
    created_ms: int
    expires_ms: int
    epoch: int
    idempotency_key: str | None

    def as_order(self) -> Order:
        from app.domain.timefmt import from_ms

        return Order(
            id=self.order_id,
            sale_id=self.sale_id,
            user_id=self.user_id,
            quantity=self.quantity,
            amount_cents=self.amount_cents,
            status=OrderStatus.PENDING,
            created_at=from_ms(self.created_ms),
            paid_at=None,
            expires_at=from_ms(self.expires_ms),
            cancel_reason=None,
        )


@dataclass(frozen=True)
class StockReturn:
    """The units a cancelled order gives back, owed to the cache until the return is marked applied."""

    order_id: int
    sale_id: int
    user_id: str
    quantity: int
    cache_epoch: int
