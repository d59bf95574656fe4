"""Order ids: a Snowflake generator whose node number is leased in Redis after the server forks.

The lease's key has a TTL renewed by compare-and-set. No node is ever minted on by two processes at once:
- A holder mints only within TRUST_SECONDS of a renewal that found its lease still in place (renewals run
  three times in that span); past it, minting stops (503) until a renewal succeeds or a new node is leased.
  Redis is needed for every purchase anyway, so this costs nothing while Redis answers.
- If Redis lost its data in a restart, every old holder stopped minting TRUST_SECONDS after its last renewal,
  before Redis was down, so a node leased from a Redis up for less than that is used only once it has been.
- A released node stays taken for a lease's length (far past any clock step the generator waits out), so a
  process whose clock lags cannot take it over and mint the ids its last holder minted.
Not covered: a key lost without a restart (FLUSHALL, a failover to a replica without it), where an old
holder may mint for up to one renewal interval; reserve.lua and the order writer refuse a colliding id."""

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
TRUST_SECONDS = 3.0  # how long a renewal (or the acquisition) lets a holder mint; less if the lease is shorter
STOP_WAIT_SECONDS = 5.0


class NodeLease:
    def __init__(self, redis: Redis, scripts: Scripts, names: Names, lease_seconds: int) -> None:
        self._redis = redis
        self._scripts = scripts
        self._names = names
        self._lease_ms = lease_seconds * 1000
        self._token = secrets.token_hex(8)
        self.node: int | None = None
        self._trust = min(TRUST_SECONDS, lease_seconds - 1.0)
        self._valid_until = 0.0
        self._usable_from = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.last_ms = 0  # the last millisecond an id was minted in (kept with the node when released)

    @property
    def valid(self) -> bool:
        now = time.monotonic()
        return self.node is not None and self._usable_from <= now < self._valid_until

    async def _redis_uptime(self) -> float:
        info = await self._redis.info("server")
        return float(info.get("uptime_in_seconds", 0))  # whole seconds, rounded down: errs on the safe side

    async def acquire(self) -> int:
        candidates = list(range(MAX_NODE + 1))
        random.shuffle(candidates)
        for node in candidates:
            started = time.monotonic()
            if await self._redis.set(self._names.node_lease(node), self._token, nx=True, px=self._lease_ms):
                # A Redis that has just started may have lost the lease of a process that was minting on this
                # node; that process stops TRUST after its last renewal, before this Redis started.
                wait = max(0.0, self._trust - await self._redis_uptime())
                self.node = node
                self._usable_from = time.monotonic() + wait
                # Count validity from before the request, so a slow reply never overstates it.
                self._valid_until = started + self._trust  # renewals carry it past the wait
                if wait:
                    log.info("order-id node %s usable in %.1f s (Redis has just started)", node, wait)
                return node
        raise Unavailable("no free order-id node: all 1024 are leased")

    async def renew(self) -> bool:
        if self.node is None:
            return False
        started = time.monotonic()
        ok = await self._scripts.lease(keys=[self._names.node_lease(self.node)], args=[self._token, self._lease_ms])
        if ok:
            self._valid_until = started + self._trust
        return bool(ok)

    async def run(self) -> None:
        """Renew three times a TRUST_SECONDS; if the node was lost, lease a new one."""
        pause = self._trust / 3
        while not self._stopping:
            await asyncio.sleep(pause)
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
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            # Bounded: a cancel that lands in a Redis call's own timeout can come back as a TimeoutError, which
            # the loop survives; the flag then ends it at its next turn.
            await asyncio.wait({self._task}, timeout=STOP_WAIT_SECONDS)
        if self.node is not None:
            with contextlib.suppress(Exception):
                await self._scripts.lease(
                    keys=[self._names.node_lease(self.node)], args=[self._token, 0, self._lease_ms, self.last_ms]
                )


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
                self._lease.last_ms = self._state.last_ms
                return value
            await asyncio.sleep(wait)
            if not self._lease.valid:  # the wait (up to 1 s of a clock step) may outlast the lease's trust
                raise Unavailable("order ids cannot be minted: the node lease is not held")
