"""Order ids: a Snowflake generator whose node number is leased in Redis after the server forks.

The lease has a TTL renewed by compare-and-set; if renewal fails for longer than the lease, another
process may hold the node, so minting stops (503) until the lease is won back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time

from redis.asyncio import Redis

from app.domain.errors import Unavailable
from app.domain.snowflake import MAX_NODE, ClockWentBack, SnowflakeState
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts

log = logging.getLogger(__name__)


class NodeLease:
    def __init__(self, redis: Redis, scripts: Scripts, names: Names, lease_seconds: int) -> None:
        self._redis = redis
        self._scripts = scripts
        self._names = names
        self._lease_ms = lease_seconds * 1000
        self._token = secrets.token_hex(8)
        self.node: int | None = None
        self._valid_until = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def valid(self) -> bool:
        return self.node is not None and time.monotonic() < self._valid_until

    async def acquire(self) -> int:
        candidates = list(range(MAX_NODE + 1))
        random.shuffle(candidates)
        for node in candidates:
            started = time.monotonic()
            if await self._redis.set(self._names.node_lease(node), self._token, nx=True, px=self._lease_ms):
                self.node = node
                # Count validity from before the request, so a slow reply never overstates it.
                self._valid_until = started + self._lease_ms / 1000 - 1
                return node
        raise Unavailable("no free order-id node: all 1024 are leased")

    async def renew(self) -> bool:
        if self.node is None:
            return False
        started = time.monotonic()
        ok = await self._scripts.lease(keys=[self._names.node_lease(self.node)], args=[self._token, self._lease_ms])
        if ok:
            self._valid_until = started + self._lease_ms / 1000 - 1
        return bool(ok)

    async def run(self) -> None:
        """Renew every third of the lease; if the node was lost, lease a new one."""
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                if not await self.renew():
                    log.warning("order-id node %s lost; leasing another", self.node)
                    self.node = None
                    await self.acquire()
            except Exception as exc:  # keep trying; minting stops by itself when the lease runs out
                log.warning("order-id lease renewal failed: %s", exc)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="node-lease")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.node is not None:
            with contextlib.suppress(Exception):
                await self._scripts.lease(keys=[self._names.node_lease(self.node)], args=[self._token, 0])


class IdGenerator:
    def __init__(self, lease: NodeLease, clock_ms: object = None) -> None:
        self._lease = lease
        self._state: SnowflakeState | None = None
        self._clock = clock_ms or (lambda: time.time_ns() // 1_000_000)

    async def next_id(self) -> int:
        if not self._lease.valid or self._lease.node is None:
            raise Unavailable("order ids cannot be minted: the node lease is not held")
        if self._state is None or self._state.node != self._lease.node:
            last = self._state.last_ms if self._state else 0
            self._state = SnowflakeState(node=self._lease.node, last_ms=last)
        while True:
            try:
                value, wait = self._state.next(self._clock())  # type: ignore[operator]
            except ClockWentBack as exc:
                raise Unavailable(f"order ids cannot be minted: {exc}") from exc
            if value is not None:
                return value
            await asyncio.sleep(wait)
