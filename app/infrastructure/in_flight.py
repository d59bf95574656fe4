"""Orders handed to the broker and not yet written, counted per sale (the exact drain check after a lost cache).

The relay records each order before it publishes it; the order writer deletes the record in the transaction
that writes the order row (`sql_orders.settle_in_flight`). From before its publish until its row is committed an
order is counted here, wherever it is: in the order queue (shared by every sale), held by a writer, or in the
dead-letter queue. The count needs no queue statistics, so it is exact at once and never mixes sales."""

from __future__ import annotations

from app.infrastructure.db import Database

# ON DUPLICATE KEY: a republished order (a relay restarted before its acknowledgement) is recorded once. The
# rows are integers only, written as text directly (int() makes each a number): the driver's escaping of two
# values a row was a third of the relay's CPU.
RECORD = "INSERT INTO orders_in_flight (order_id, sale_id) VALUES {} ON DUPLICATE KEY UPDATE sale_id = VALUES(sale_id)"


class InFlight:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def handed_off(self, orders: list[tuple[int, int]]) -> None:
        """Record (order id, sale id) pairs about to be published."""
        if not orders:
            return
        rows = ",".join([f"({int(order_id)},{int(sale_id)})" for order_id, sale_id in orders])
        async with self._db.transaction() as cur:
            await cur.execute(RECORD.format(rows))

    async def count(self, sale_id: int) -> int:
        """The sale's orders in flight that have no row yet. An order with a row is written whatever its record
        says: a relay that re-records a written order and then dies before republishing it (so no writer ever
        settles the record again) never blocks the sale."""
        async with self._db.transaction() as cur:
            await cur.execute(
                "SELECT COUNT(*) FROM orders_in_flight f WHERE f.sale_id = %s "
                "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = f.order_id)",
                (sale_id,),
            )
            (count,) = await cur.fetchone()
        return int(count)
