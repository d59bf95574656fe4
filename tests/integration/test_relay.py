"""The relay against the real Redis: it moves hand-off entries and recovers when Redis lost the streams
(and their consumer groups) under it. The publisher is a recording stand-in: RabbitMQ's side is covered by
the pipeline tests."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterable

import aio_pika
from redis.asyncio import Redis

from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts
from app.infrastructure.sale_cache import SaleCache
from app.workers.relay import Relay


class RecordingInFlight:
    def __init__(self) -> None:
        self.orders: list[tuple[int, int]] = []

    async def handed_off(self, orders: list[tuple[int, int]]) -> None:
        self.orders += orders


class RecordingPublisher:
    def __init__(self) -> None:
        self.orders: list[str] = []

    async def publish_all(self, routed: Iterable[tuple[str, aio_pika.Message]]) -> None:
        for _queue, msg in routed:
            self.orders += [item["o"] for item in json.loads(msg.body)]


async def _wait(check: object, within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_relay_recovers_after_redis_lost_its_streams(redis: Redis) -> None:
    names = Names(f"tr{secrets.token_hex(4)}")
    stream = names.sale(7).handoff
    publisher = RecordingPublisher()
    in_flight = RecordingInFlight()
    cache = SaleCache(redis, Scripts.register(redis), names)
    relay = Relay(redis, publisher, names, 100, cache, in_flight=in_flight)  # type: ignore[arg-type]
    task = asyncio.create_task(relay.run())
    try:
        await redis.sadd(names.handoff_sales, "7")
        await redis.xadd(stream, {"r": json.dumps({"o": "1", "s": "7"})})
        await _wait(lambda: publisher.orders == ["1"])
        assert in_flight.orders == [(1, 7)]  # recorded as in flight before it was published
        # Redis loses everything; the sale is preheated again and takes a new order.
        await redis.delete(stream, names.handoff_sales)
        await redis.sadd(names.handoff_sales, "7")
        await redis.xadd(stream, {"r": json.dumps({"o": "2", "s": "7"})})
        await _wait(lambda: publisher.orders == ["1", "2"])
        assert await redis.xlen(stream) == 0
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=5)
        keys = [k async for k in redis.scan_iter(match=f"{names.namespace}:*")]
        if keys:
            await redis.delete(*keys)


class RefusingPublisher:
    async def publish_all(self, routed: Iterable[tuple[str, aio_pika.Message]]) -> None:
        raise RuntimeError("the broker refused")


async def test_a_batch_of_two_streams_is_acknowledged_and_deleted_only_after_its_confirms(redis: Redis) -> None:
    names = Names(f"tr{secrets.token_hex(4)}")
    streams = {sale: names.sale(sale).handoff for sale in (7, 8)}
    cache = SaleCache(redis, Scripts.register(redis), names)
    try:
        await redis.sadd(names.handoff_sales, "7", "8")
        for n in range(1, 7):
            sale = 7 if n % 2 else 8
            await redis.xadd(streams[sale], {"r": json.dumps({"o": str(n), "s": str(sale)})})
        refused = Relay(redis, RefusingPublisher(), names, 100, cache, in_flight=RecordingInFlight())  # type: ignore[arg-type]
        try:
            await refused.run_once(block_ms=10)  # first its own unacknowledged entries: none
            await refused.run_once(block_ms=10)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the refused publish was not raised")
        for stream in streams.values():  # not confirmed: every entry still there, read and pending
            assert await redis.xlen(stream) == 3
            assert (await redis.xpending(stream, "relay"))["pending"] == 3

        publisher = RecordingPublisher()
        relay = Relay(redis, publisher, names, 100, cache, in_flight=RecordingInFlight())  # type: ignore[arg-type]
        moved = await relay.run_once(block_ms=10)  # the same consumer: it re-reads its unacknowledged entries
        assert moved == 6
        assert sorted(publisher.orders, key=int) == [str(n) for n in range(1, 7)]
        for stream in streams.values():
            assert await redis.xlen(stream) == 0
            assert (await redis.xpending(stream, "relay"))["pending"] == 0
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{names.namespace}:*")]
        if keys:
            await redis.delete(*keys)


async def test_a_relay_that_died_between_delete_and_acknowledge_heals_on_its_reread(redis: Redis) -> None:
    """The relay deletes a round's entries before acknowledging them: a crash between the two leaves deleted
    entries pending, which the re-read returns without fields and acknowledges, so the hand-off drains."""
    names = Names(f"tr{secrets.token_hex(4)}")
    stream = names.sale(7).handoff
    cache = SaleCache(redis, Scripts.register(redis), names)
    try:
        await redis.sadd(names.handoff_sales, "7")
        ids = [await redis.xadd(stream, {"r": json.dumps({"o": str(n), "s": "7"})}) for n in (1, 2, 3)]
        publisher = RecordingPublisher()
        relay = Relay(redis, publisher, names, 100, cache, in_flight=RecordingInFlight())  # type: ignore[arg-type]
        await relay.run_once(block_ms=10)  # creates the group; its own unacknowledged entries: none
        # The crash: the round's entries were read, published and deleted, never acknowledged.
        await redis.xreadgroup("relay", relay._consumer, {stream: ">"}, count=100)
        await redis.xdel(stream, *ids)
        assert (await redis.xpending(stream, "relay"))["pending"] == 3
        assert await redis.xlen(stream) == 0
        restarted = Relay(redis, publisher, names, 100, cache, in_flight=RecordingInFlight())  # type: ignore[arg-type]
        restarted._consumer = relay._consumer  # the same pod restarted
        await restarted.run_once(block_ms=10)
        assert (await redis.xpending(stream, "relay"))["pending"] == 0
        assert publisher.orders == []  # nothing to publish again: the entries' records were gone
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{names.namespace}:*")]
        if keys:
            await redis.delete(*keys)
