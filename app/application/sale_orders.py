"""How a sale's orders stand, as a whole: what is written, paid, awaiting payment, and still on its way.

The operator reports these in a FlashSale's status and waits on them before it removes a sale's cache."""

from __future__ import annotations

from dataclasses import dataclass

from app.application.drain import DrainCheck
from app.infrastructure import sql_orders
from app.infrastructure.db import Database


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
    def __init__(self, db: Database, drained: DrainCheck) -> None:
        self._db = db
        self._drained = drained

    async def counts(self, sale_id: int) -> OrderCounts:
        async with self._db.transaction() as cur:
            by_status = await sql_orders.counts_by_status(cur, sale_id)
        return OrderCounts(
            written=sum(by_status.values()),
            paid=by_status.get("paid", 0),
            awaiting_payment=by_status.get("created", 0) + by_status.get("paying", 0),
        )

    async def outstanding(self, sale_id: int) -> Outstanding:
        """Orders not settled yet. Those still on their way are the sale's own drain check: its hand-off, then
        its orders handed to the broker without a row (queued, held by a writer, or dead-lettered). Both are
        exact per sale, whether the cache is loaded or not, and neither counts an order already written."""
        backlog = await self._drained(sale_id)
        async with self._db.transaction() as cur:
            by_status = await sql_orders.counts_by_status(cur, sale_id)
        awaiting = by_status.get("created", 0) + by_status.get("paying", 0)
        return Outstanding(backlog.handoff + backlog.unwritten, awaiting)
