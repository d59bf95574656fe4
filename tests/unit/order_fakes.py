"""Fakes of the ports Orders and StockReturns use: an order table that moves statuses as the SQL does, a provider."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime

from app.domain.models import Order, OrderStatus, StockReturn

S = OrderStatus


def order(order_id: int = 7, status: S = S.CREATED, user: str = "u1") -> Order:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Order(order_id, 1, user, 2, 1000, status, at, None, at, None)


class OrderRows:
    """The orders table; `expired`: ids whose payment window has closed. Each transaction is the table itself."""

    def __init__(self, *orders: Order, expired: tuple[int, ...] = ()) -> None:
        self.orders = {o.id: o for o in orders}
        self.expired = set(expired)
        self.returns: list[StockReturn] = []  # the outbox of stock returns

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[OrderRows]:
        yield self

    def move(self, oid: int, old: S, new: S, *, while_open: bool = False, reason: str | None = None) -> bool:
        o = self.orders.get(oid)
        if o is None or o.status is not old or (while_open and oid in self.expired):
            return False
        self.orders[oid] = replace(o, status=new, cancel_reason=reason or o.cancel_reason)
        return True

    async def by_id(self, oid: int) -> Order | None:
        return self.orders.get(oid)

    async def claim_for_payment(self, oid: int, user_id: str) -> bool:
        return self.orders[oid].user_id == user_id and self.move(oid, S.CREATED, S.PAYING, while_open=True)

    async def finish_payment(self, oid: int, *, paid: bool) -> bool:
        return self.move(oid, S.PAYING, S.PAID if paid else S.CREATED)

    async def pay_reopened(self, oid: int) -> bool:
        return self.move(oid, S.CREATED, S.PAID, while_open=True)

    async def cancel(self, oid: int, reason: str, *, user_id: str | None = None) -> StockReturn | None:
        """By the owner while the window is open, by `timeout` once it has closed; the winner owes a return."""
        timeout = reason == "timeout"
        allowed = (timeout or self.orders[oid].user_id == user_id) and (oid in self.expired) == timeout
        if not (allowed and self.move(oid, S.CREATED, S.CANCELLED, reason=reason)):
            return None
        o = self.orders[oid]
        self.returns.append(StockReturn(oid, o.sale_id, o.user_id, o.quantity, 1))
        return self.returns[-1]


class NothingPending:
    """The cache with every order written."""

    async def known_sales(self) -> list[int]:
        return [1]

    async def find_reservation(self, order_id: int, sale_ids: list[int]) -> str | None:
        return None


class Provider:
    """A payment provider that answers `ok`; `meanwhile` runs while the charge is under way."""

    def __init__(self, ok: bool = True, meanwhile: Callable[[], object] = lambda: None) -> None:
        self.ok, self.meanwhile = ok, meanwhile
        self.charges: list[str] = []
        self.refunds: list[str] = []

    async def charge(self, key: str, amount_cents: int) -> bool:
        self.charges.append(key)
        self.meanwhile()
        return self.ok

    async def refund(self, key: str) -> None:
        self.refunds.append(key)

    async def charged(self, key: str) -> bool | None:
        return (self.ok if key in self.charges else None) if key not in self.refunds else False
