"""Scheduling payment timeouts: a message carrying the order's `expires_at`, parked in the delay bucket
that fits what remains. Pipeline lag never moves a deadline: an early arrival is parked again."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import aio_pika

from app.infrastructure.amqp import Publisher, bucket_for, message
from app.infrastructure.keys import Names


@dataclass(frozen=True)
class DueTimeout:
    order_id: int
    expires_ms: int


def parse_timeout(body: bytes) -> DueTimeout:
    data = json.loads(body)
    return DueTimeout(order_id=int(data["o"]), expires_ms=int(data["x"]))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class TimeoutScheduler:
    def __init__(self, publisher: Publisher, names: Names) -> None:
        self._publisher = publisher
        self._names = names

    def routed(self, due: DueTimeout, now: int) -> tuple[str, aio_pika.Message]:
        queue = self._names.delay_queue(bucket_for(due.expires_ms - now))
        return queue, message({"o": str(due.order_id), "x": due.expires_ms}, f"timeout-{due.order_id}")

    async def schedule(self, timeouts: list[DueTimeout]) -> None:
        now = now_ms()
        await self._publisher.publish_all(self.routed(t, now) for t in timeouts)
