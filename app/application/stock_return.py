"""Cancelling an order and returning its stock, exactly once.

Whoever wins the conditional `created -> cancelled` transition returns the units: to the sale's row in the
same transaction, and to the cache through an outbox row that an idempotent script applies once per order
(a preheat marks every order already cancelled as returned, so a reloaded cache never counts one twice).
A crash between the two stores loses nothing: the sweep applies outbox rows left behind."""

from __future__ import annotations

import logging

from app.infrastructure import sql_orders
from app.infrastructure.db import Database
from app.infrastructure.metrics import CANCELLATIONS, STOCK_RETURNS
from app.infrastructure.redis_client import REDIS_DOWN
from app.infrastructure.sale_cache import SaleCache
from app.infrastructure.sql_orders import StockReturn

log = logging.getLogger(__name__)


class StockReturns:
    def __init__(self, db: Database, cache: SaleCache) -> None:
        self._db = db
        self._cache = cache

    async def cancel(self, order_id: int, reason: str, *, user_id: str | None = None) -> StockReturn | None:
        """Returns the stock return when this call won the cancellation, None when it did not."""
        async with self._db.transaction() as cur:
            ret = await sql_orders.cancel(cur, order_id, reason, user_id=user_id)
        if ret is None:
            return None
        CANCELLATIONS.labels(reason).inc()
        await self.apply(ret)
        return ret

    async def apply(self, ret: StockReturn) -> bool:
        try:
            result = await self._cache.release(
                ret.sale_id,
                order_id=ret.order_id,
                user_id=ret.user_id,
                quantity=ret.quantity,
            )
        except REDIS_DOWN as exc:
            log.warning("stock return of order %s left for the sweep: %s", ret.order_id, exc)
            return False
        async with self._db.transaction() as cur:
            await sql_orders.mark_returned(cur, ret.order_id)
        STOCK_RETURNS.labels(result).inc()
        # The guard entry in `returned` stays (until the sale's keys expire): the sweep may have read this return
        # as pending before it was marked, and its late release must still find the guard, or the unit comes
        # back twice (the load test saw it when the guard was dropped here).
        return True

    async def apply_pending(self, limit: int = 500) -> int:
        async with self._db.transaction() as cur:
            pending = await sql_orders.pending_returns(cur, limit)
        done = 0
        for ret in pending:
            done += int(await self.apply(ret))
        return done
