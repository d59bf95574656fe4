"""Scheduling payment timeouts: messages carrying each order's `expires_at`, parked in the delay bucket that
fits what remains. Pipeline lag never moves a deadline: an early arrival is parked again.

Timeouts that fall in the same bucket travel together, up to TIMEOUTS_PER_MESSAGE in one message (the
orders of one written batch expire within moments of each other)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass

import aio_pika

from app.infrastructure.amqp import Publisher, bucket_for, message
from app.infrastructure.keys import Names

TIMEOUTS_PER_MESSAGE = 200


@dataclass(frozen=True)
class DueTimeout:
    order_id: int
    expires_ms: int


def parse_timeouts(body: bytes) -> list[DueTimeout]:
    """A timeout message holds one {"o", "x"} object or a non-empty array of them."""
    data = json.loads(body)
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        raise ValueError("a timeout message is an object or a non-empty array of objects")
    return [DueTimeout(order_id=int(item["o"]), expires_ms=int(item["x"])) for item in items]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class TimeoutScheduler:
    def __init__(self, publisher: Publisher, names: Names) -> None:
        self._publisher = publisher
        self._names = names

    def routed(self, timeouts: list[DueTimeout], now: int) -> list[tuple[str, aio_pika.Message]]:
        by_bucket: dict[int, list[DueTimeout]] = defaultdict(list)
        for due in timeouts:
            by_bucket[bucket_for(due.expires_ms - now)].append(due)
        routed = []
        for bucket, group in by_bucket.items():
            for i in range(0, len(group), TIMEOUTS_PER_MESSAGE):
                chunk = group[i : i + TIMEOUTS_PER_MESSAGE]
                body = [{"o": str(d.order_id), "x": d.expires_ms} for d in chunk]
                routed.append((self._names.delay_queue(bucket), message(body, f"timeout-{chunk[0].order_id}")))
        return routed

    async def schedule(self, timeouts: list[DueTimeout]) -> None:
        if timeouts:
            await self._publisher.publish_all(self.routed(timeouts, now_ms()))
