"""Orders handed to the broker and not yet written, counted per sale (the exact drain check after a lost cache).

The relay records each order before it publishes it; the order writer deletes the record in the transaction
that writes the order row (`sql_orders.settle_in_flight`). From before its publish until its row is committed an
order is counted here, wherever it is: in the order queue (shared by every sale), held by a writer, or in the
dead-letter queue. The count needs no queue statistics, so it is exact at once and never mixes sales."""

from __future__ import annotations

from operator import index

from app.infrastructure.db import Database

# ON DUPLICATE KEY: a republished order (a relay restarted before its acknowledgement) is recorded once. The
# rows are integers only, written as text directly (operator.index refuses anything else): the driver's escaping of two
# values a row was a third of the relay's CPU.
RECORD = "INSERT INTO orders_in_flight (order_id, sale_id) VALUES {} ON DUPLICATE KEY UPDATE sale_id = VALUES(sale_id)"

ROWS_PER_STATEMENT = 5000  # ~25 bytes a row: ~125 KB a statement


class InFlight:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def handed_off(self, orders: list[tuple[int, int]]) -> None:
        """Record (order id, sale id) pairs about to be published."""
        if not orders:
            return
        rows = [f"({index(order_id)},{index(sale_id)})" for order_id, sale_id in orders]
        async with self._db.transaction() as cur:
            # A round can hold a batch of every watched stream: statements of ROWS_PER_STATEMENT rows stay far
            # below the server's max_allowed_packet, however many sales have a backlog.
            for i in range(0, len(rows), ROWS_PER_STATEMENT):
                await cur.execute(RECORD.format(",".join(rows[i : i + ROWS_PER_STATEMENT])))

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
