"""What is still on its way from a reservation to the database: the hand-off, the order queue, the DLQ."""

from __future__ import annotations

from aio_pika.abc import AbstractChannel

from app.domain.models import PipelineState
from app.infrastructure.keys import Names
from app.infrastructure.queue_depth import QueueDepth
from app.infrastructure.sale_cache import SaleCache


async def pipeline_state(
    cache: SaleCache, depth: QueueDepth, names: Names, sale_id: int, channel: AbstractChannel | None
) -> PipelineState:
    handoff = int(await cache.redis.xlen(names.sale(sale_id).handoff))
    queued = await depth.depth(names.orders_queue, channel)
    dead = await depth.depth(names.orders_dlq, channel)
    return PipelineState(handoff, queued.messages, dead.messages, queued.exact and dead.exact)
