"""Readings for the dashboards and alerts that no event counts: each loaded sale's stock and hand-off
backlog, the depth and consumers of the order, dead-letter and timeout queues, and how overdue the oldest
unpaid order is. Runs in the process that runs the timeout worker, beside the audit, every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.bootstrap import Container
from app.infrastructure import sql_orders
from app.infrastructure.metrics import SAMPLED, SaleStats
from app.infrastructure.queue_depth import QueueStats

log = logging.getLogger(__name__)
EVERY_SECONDS = 5.0


async def sample_once(c: Container) -> None:
    """One round. A store that cannot be read leaves its metrics out this round, never at a stale value."""
    sales: dict[int, SaleStats] = {}
    try:
        found = await c.cache.sale_stats(await c.cache.known_sales())
        sales = {sale_id: SaleStats(*values) for sale_id, values in found.items()}
    except Exception as exc:
        log.warning("sale metrics not sampled: %s", exc)
    queues: dict[str, QueueStats] = {}
    for label, queue in (
        ("orders", c.names.orders_queue),
        ("orders_dlq", c.names.orders_dlq),
        ("timeouts", c.names.timeouts_queue),
    ):
        stats = await c.depth.stats(queue)
        if stats is not None:
            queues[label] = stats
    overdue: float | None = None
    try:
        async with c.db.transaction() as cur:
            overdue = await sql_orders.oldest_overdue_seconds(cur)
    except Exception as exc:
        log.warning("timeout lag not sampled: %s", exc)
    SAMPLED.update(sales=sales, queues=queues, timeout_overdue_seconds=overdue)


async def keep_sampling(c: Container, stop: asyncio.Event, every: float = EVERY_SECONDS) -> None:
    """Until `stop` is set. It ends between rounds, never by cancellation: a cancel that lands in httpx's
    connect can be swallowed by anyio and leave the task hanging (seen here, anyio 4.16)."""
    while not stop.is_set():
        await sample_once(c)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
