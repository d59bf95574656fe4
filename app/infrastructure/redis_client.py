"""One Redis client per process, with a blocking pool (a non-blocking pool raises past its size under load)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.domain.errors import ServiceUnavailable

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


def make_redis(url: str, pool_size: int) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=5,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        decode_responses=True,
    )
    return Redis(connection_pool=pool)


async def check_redis(redis: Redis) -> None:
    try:
        await redis.ping()
    except REDIS_DOWN as exc:
        raise ServiceUnavailable("Redis", "FLASHSALE_REDIS_URL", str(exc)) from exc
