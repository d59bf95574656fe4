"""The id generator mints only while its node lease is trusted, after a clock step's wait as well as before it:
a wait of up to a second may outlast the lease, and an id minted then could collide with the node's next
holder."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from app.domain.errors import Unavailable
from app.domain.snowflake import EPOCH_MS
from app.infrastructure.idgen import IdGenerator

NOW = EPOCH_MS + 86_400_000 * 700


class Lease:
    """Stands in for NodeLease: a node, and a trust that a test ends."""

    def __init__(self) -> None:
        self.node: int | None = 7
        self.valid = True
        self.last_ms = 0


def test_an_id_is_refused_when_the_lease_expires_during_a_clock_step_wait() -> None:
    lease = Lease()
    clock = [NOW]
    generator = IdGenerator(cast(Any, lease), clock_ms=lambda: clock[0])

    async def scenario() -> None:
        assert await generator.next_id() > 0
        clock[0] = NOW - 50  # the clock steps back 50 ms: the generator waits it out

        async def expire_then_catch_up() -> None:
            await asyncio.sleep(0.01)
            lease.valid = False  # the lease's trust ends during the wait
            clock[0] = NOW + 1

        expiring = asyncio.create_task(expire_then_catch_up())
        with pytest.raises(Unavailable, match="lease is not held"):
            await generator.next_id()
        await expiring

    asyncio.run(scenario())
