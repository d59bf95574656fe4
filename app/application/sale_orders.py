"""How a sale's orders stand, as a whole: what is written, paid, awaiting payment, and still on its way.

The operator reports these in a FlashSale's status and waits on them before it removes a sale's cache."""

from __future__ import annotations

from dataclasses import dataclass

from app.infrastructure import sql_orders
from app.infrastructure.db import Database
from app.infrastructure.sale_cache import SaleCache


@dataclass(frozen=True)
class OrderCounts:
    written: int  # order rows in the database, whatever their status now
    paid: int
    awaiting_payment: int  # created or paying: the payment window is still open or a charge is under way


@dataclass(frozen=True)
class Outstanding:
    pending: int  # accepted (a 202) but not written to the database yet
    awaiting_payment: int

    @property
    def total(self) -> int:
        return self.pending + self.awaiting_payment


class SaleOrders:
    def __init__(self, db: Database, cache: SaleCache) -> None:
        self._db = db
        self._cache = cache

    async def counts(self, sale_id: int) -> OrderCounts:
        async with self._db.transaction() as cur:
            by_status = await sql_orders.counts_by_status(cur, sale_id)
        return OrderCounts(
            written=sum(by_status.values()),
            paid=by_status.get("paid", 0),
            awaiting_payment=by_status.get("created", 0) + by_status.get("paying", 0),
        )

    async def outstanding(self, sale_id: int) -> Outstanding:
        """Orders not settled yet. Every reservation under the cache's epoch becomes a row with that epoch,
        so those recorded in the cache but not in the database are still on their way; a sale that is not
        loaded has only its hand-off stream left to drain."""
        accepted = await self._cache.accepted(sale_id)
        async with self._db.transaction() as cur:
            by_status = await sql_orders.counts_by_status(cur, sale_id)
            written = await sql_orders.written_in_epoch(cur, sale_id, accepted[0]) if accepted else 0
        if accepted is None:
            pending = await self._cache.handoff_length(sale_id)
        else:
            pending = max(0, accepted[1] - written)
        return Outstanding(pending, by_status.get("created", 0) + by_status.get("paying", 0))
