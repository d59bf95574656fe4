"""Cancelling an order and returning its stock, exactly once.

Whoever wins the conditional `created -> cancelled` transition returns the units: to the sale's row in the
same transaction, and to the cache through an outbox row that an idempotent script applies once per order
(a preheat marks every order already cancelled as returned, so a reloaded cache never counts one twice).
A crash between the two stores loses nothing: the sweep applies outbox rows left behind."""

from __future__ import annotations

import logging

from app.application.ports import ReturnCache, ReturnTx, Transactions
from app.domain.models import StockReturn
from app.infrastructure.metrics import CANCELLATIONS, STOCK_RETURNS
from app.infrastructure.redis_client import REDIS_DOWN

log = logging.getLogger(__name__)


class StockReturns:
    def __init__(self, store: Transactions[ReturnTx], cache: ReturnCache) -> None:
        self._store = store
        self._cache = cache

    async def cancel(self, order_id: int, reason: str, *, user_id: str | None = None) -> StockReturn | None:
        """Returns the stock return when this call won the cancellation, None when it did not."""
        async with self._store.transaction() as tx:
            ret = await tx.cancel(order_id, reason, user_id=user_id)
        if ret is None:
            return None
        CANCELLATIONS.labels(reason).inc()
        await self.apply(ret)
        return ret

    async def apply(self, ret: StockReturn) -> bool:
        """Return the units to the cache and mark the return applied, under the return's row lock: the sweep may
        have read this return as pending just before another process applied it, and it then finds it applied
        and releases nothing (so the cache's guard entry can go once the database holds the mark)."""
        try:
            async with self._store.transaction() as tx:
                if not await tx.lock_unapplied_return(ret.order_id):
                    return True  # applied meanwhile
                result = await self._cache.release(
                    ret.sale_id,
                    order_id=ret.order_id,
                    user_id=ret.user_id,
                    quantity=ret.quantity,
                )
                await tx.mark_returned(ret.order_id)
        except REDIS_DOWN as exc:
            log.warning("stock return of order %s left for the sweep: %s", ret.order_id, exc)
            return False
        STOCK_RETURNS.labels(result).inc()
        try:  # the database now says it is applied; its guard entry in the cache can go
            await self._cache.forget_returned(ret.sale_id, ret.order_id)
        except REDIS_DOWN as exc:
            log.warning("stock return of order %s applied; its entry in the cache stays: %s", ret.order_id, exc)
        return True

    async def apply_pending(self, limit: int = 500) -> int:
        async with self._store.transaction() as tx:
            pending = await tx.pending_returns(limit)
        done = 0
        for ret in pending:
            done += int(await self.apply(ret))
        return done
