"""How full each connection pool of the process is, sampled every few seconds into `flashsale_pool_*`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from app.infrastructure.db import Database

log = logging.getLogger(__name__)
EVERY_SECONDS = 5.0


def redis_pool_stats(redis: Redis) -> tuple[int, int, int] | None:
    """(in use, idle, most allowed) of the client's pool. redis-py has no public counts: read its two sets,
    and report nothing rather than fail if a release renames them."""
    pool = redis.connection_pool
    try:
        in_use = len(list(pool._get_in_use_connections()))
        idle = len(list(pool._get_free_connections()))
    except AttributeError:
        return None
    return in_use, idle, int(pool.max_connections)


def sample_pools(redis: Redis, db: Database) -> None:
    from app.infrastructure.metrics import POOL_CONNECTIONS, POOL_MAX

    for name, stats in (("redis", redis_pool_stats(redis)), ("mysql", db.pool_stats())):
        if stats is None:
            continue
        in_use, idle, most = stats
        POOL_CONNECTIONS.labels(name, "in_use").set(in_use)
        POOL_CONNECTIONS.labels(name, "idle").set(idle)
        POOL_MAX.labels(name).set(most)


@contextlib.asynccontextmanager
async def pools_sampled(redis: Redis, db: Database, every: float = EVERY_SECONDS) -> AsyncIterator[None]:
    """Sample the pools in the background for as long as the block runs."""

    async def loop() -> None:
        while True:
            try:
                sample_pools(redis, db)
            except Exception as exc:  # a reading is never worth a process
                log.warning("pool metrics not sampled: %s", exc)
            await asyncio.sleep(every)

    task = asyncio.create_task(loop(), name="PoolMetrics")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
