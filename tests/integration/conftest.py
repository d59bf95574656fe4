"""Fixtures of the integration tests that talk to Redis directly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.infrastructure.redis_client import make_redis


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the shared Redis; the test fails here when Redis is not running."""
    client = make_redis("redis://127.0.0.1:6379/0", 8)
    await client.ping()
    yield client
    await client.aclose()
