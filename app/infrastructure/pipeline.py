"""What is still on its way from a reservation to the database: the hand-off, the order queue, the DLQ, and the
sale's own orders in flight."""

from __future__ import annotations

from aio_pika.abc import AbstractChannel

from app.domain.models import PipelineState
from app.infrastructure.in_flight import InFlight
from app.infrastructure.keys import Names
from app.infrastructure.queue_depth import QueueDepth
from app.infrastructure.sale_cache import SaleCache


async def pipeline_state(
    cache: SaleCache,
    depth: QueueDepth,
    names: Names,
    sale_id: int,
    channel: AbstractChannel | None,
    *,
    in_flight: InFlight | None = None,
) -> PipelineState:
    """Without `in_flight`, the sale's unwritten count is unknown (-1), and the state never reads drained."""
    # The hand-off first: an entry leaves it only after its order is recorded in flight.
    handoff = int(await cache.redis.xlen(names.sale(sale_id).handoff))
    unwritten = -1 if in_flight is None else await in_flight.count(sale_id)
    queued = await depth.depth(names.orders_queue, channel)
    # Nobody consumes the dead-letter queue: with a channel, its ready count is all of it, without the management
    # API's few seconds of lag (a purge or a replay shows at once).
    dead = await (depth.ready(names.orders_dlq, channel) if channel else depth.depth(names.orders_dlq))
    return PipelineState(handoff, queued.messages, dead.messages, queued.exact and dead.exact, unwritten)
