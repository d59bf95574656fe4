"""Fail fast, in one line, when a store the process needs is not there."""

from __future__ import annotations

from app.config import Settings
from app.infrastructure.db import Database
from app.infrastructure.redis_client import check_redis, make_redis


async def check_stores(settings: Settings) -> None:
    redis = make_redis(settings.redis_url, 2)
    try:
        await check_redis(redis)
    finally:
        await redis.aclose()
    db = Database(settings.mysql_url, 1)
    await db.open()
    await db.close()
