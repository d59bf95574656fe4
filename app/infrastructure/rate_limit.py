"""A fixed one-second window per key in Redis, for logins and the `db` strategy's purchases.
(The `redis` strategy checks its limits inside the reservation script, in the contract's order.)"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from app.infrastructure.keys import Names


class RateLimiter:
    def __init__(self, redis: Redis, names: Names) -> None:
        self._redis = redis
        self._names = names

    async def allow(self, kind: str, who: str, limit: int) -> bool:
        if limit <= 0:
            return True
        key = self._names.login_rate(kind, who, int(time.time()))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2)
            count, _ = await pipe.execute()
        return int(count) <= limit
