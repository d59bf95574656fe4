"""The in-process sold-out flag: a sold-out sale costs no Redis round trip.

A flag is set when a reservation answers sold out, or when another process announces it on the stock
channel; it is cleared when the channel says stock came back. Every flag also expires on its own after a
short time, so a lost notification heals by itself: the next request asks Redis again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)


class SoldOutFlags:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        # sale id -> (monotonic deadline of the flag, the sale's end in wall-clock ms)
        self._flags: dict[int, tuple[float, int]] = {}

    def is_sold_out(self, sale_id: int, now_ms: int) -> bool:
        """True while the flag holds and the sale has not ended (an ended sale answers 'ended' first)."""
        flag = self._flags.get(sale_id)
        if flag is None:
            return False
        if time.monotonic() >= flag[0] or now_ms >= flag[1]:
            del self._flags[sale_id]
            return False
        return True

    def mark(self, sale_id: int, end_ms: int) -> None:
        if self.ttl > 0:
            self._flags[sale_id] = (time.monotonic() + self.ttl, end_ms)

    def clear(self, sale_id: int) -> None:
        self._flags.pop(sale_id, None)

    def on_message(self, data: str) -> None:
        """Messages are 'sale:sold_out:end_ms', 'sale:restock' or 'sale:changed'."""
        parts = data.split(":")
        try:
            sale_id = int(parts[0])
            if parts[1] == "sold_out":
                self.mark(sale_id, int(parts[2]))
            else:
                self.clear(sale_id)
        except (ValueError, IndexError):
            return


class StockHearer(Protocol):
    """What hears the stock channel: the sold-out flags, or the operator waking a sale's clock."""

    def on_message(self, data: str) -> None: ...


class SoldOutListener:
    """Keeps a process's flags (or another hearer) in step with the stock channel; reconnects if Redis goes away."""

    def __init__(self, redis: Redis, channel: str, flags: StockHearer) -> None:
        self._redis = redis
        self._channel = channel
        self._flags = flags
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._channel)
                try:
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._flags.on_message(str(message["data"]))
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the flags expire by themselves meanwhile
                log.debug("stock channel lost: %s", exc)
                await asyncio.sleep(0.5)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sold-out-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
