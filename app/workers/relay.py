"""The relay: moves accepted orders from each sale's Redis hand-off stream to the RabbitMQ order queue.

It reads with a consumer group, records the batch's orders as in flight (per sale, in the database), publishes
them with publisher confirms in flight, and only after every confirm acknowledges and deletes the stream entries.
So an order is always counted somewhere until its row is written: in the hand-off, or in flight. Entries a
crashed relay had read but not acknowledged are claimed back after a short idle time, so nothing accepted is
lost; a duplicate publish is harmless (the order writers are idempotent). A sale that has ended, whose payment
windows have closed and of which nothing is on its way, is forgotten: no longer watched, its empty stream
deleted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from app.infrastructure.amqp import Publisher, message
from app.infrastructure.in_flight import InFlight
from app.infrastructure.keys import Names
from app.infrastructure.metrics import RELAYED
from app.infrastructure.redis_client import REDIS_DOWN
from app.infrastructure.sale_cache import SaleCache

log = logging.getLogger(__name__)
GROUP = "relay"
# Orders in one AMQP message: one publish, one confirm and one delivery carry many orders.
ORDERS_PER_MESSAGE = 100
CLAIM_IDLE_MS = 15_000
# After a round that found less than a full batch, wait this long before the next: at a trickle every round
# (a read, an in-flight insert, a publish and its confirm, an acknowledgement) would carry one order; waiting
# lets the next one carry what arrived meanwhile. A backlog is read in full batches and never waits.
LINGER_SECONDS = 0.05


class Relay:
    def __init__(
        self,
        redis: Redis,
        publisher: Publisher,
        names: Names,
        batch_size: int,
        cache: SaleCache,
        *,
        in_flight: InFlight,
    ) -> None:
        self._redis = redis
        self._cache = cache
        self._publisher = publisher
        self._in_flight = in_flight
        self._names = names
        self._batch = batch_size
        self._consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._streams: dict[str, int] = {}  # stream key -> sale id
        self._stopping = asyncio.Event()
        self._reread = True  # first read our own unacknowledged entries (after a restart or a failure)

    def stop(self) -> None:
        self._stopping.set()

    def _forget_streams(self) -> None:
        self._streams.clear()
        self._reread = True

    async def _refresh_streams(self) -> None:
        members = await self._redis.smembers(self._names.handoff_sales)
        watched = {self._names.sale(int(raw)).handoff: int(raw) for raw in members}
        for key in [k for k in self._streams if k not in watched]:  # forgotten (by us or another relay)
            del self._streams[key]
        for key, sale_id in watched.items():
            if key not in self._streams:
                with contextlib.suppress(ResponseError):  # BUSYGROUP: the group exists already
                    await self._redis.xgroup_create(key, GROUP, id="0", mkstream=True)
                self._streams[key] = sale_id

    async def forget_finished(self) -> int:
        """Stop watching the sales that are done with; how many were forgotten."""
        forgotten = 0
        for key, sale_id in list(self._streams.items()):
            if await self._cache.finished(sale_id, GROUP):
                self._streams.pop(key, None)
                forgotten += 1
                log.info("relay: sale %s has ended and drained; no longer watched", sale_id)
        return forgotten

    async def _forward(self, entries: Any) -> int:
        """Publish [(stream, [(entry id, fields)])] with confirms, up to ORDERS_PER_MESSAGE records in a
        message, then acknowledge and delete the entries. Returns how many orders it moved."""
        routed, acks, moved = [], [], 0
        handed: list[tuple[int, int]] = []
        for stream, items in entries:
            records = []
            for entry_id, fields in items:
                acks.append((stream, entry_id))
                if fields and fields.get("r"):
                    records.append(fields["r"])
                    handed += _order_and_sale(fields["r"])
            for i in range(0, len(records), ORDERS_PER_MESSAGE):
                chunk = records[i : i + ORDERS_PER_MESSAGE]
                msg = message(("[" + ",".join(chunk) + "]").encode(), f"{stream}:{acks[0][1]}:{i}")
                msg.headers = {"x-orders": len(chunk)}
                routed.append((self._names.orders_queue, msg))
                moved += len(chunk)
        if routed:
            await self._in_flight.handed_off(handed)  # before the publish: never a moment uncounted
            await self._publisher.publish_all(routed)
        if acks:
            # Only now, every confirm in: one variadic XDEL and one XACK per stream (not two commands an entry).
            # XDEL first: a relay that dies between the two leaves deleted entries still pending, which its
            # re-read of id 0 returns without fields and acknowledges; the other order would leave acknowledged
            # entries in the stream that nothing reads again (the sale never drains).
            by_stream: dict[Any, list[Any]] = {}
            for stream, entry_id in acks:
                by_stream.setdefault(stream, []).append(entry_id)
            async with self._redis.pipeline(transaction=False) as pipe:
                for stream, ids in by_stream.items():
                    pipe.xdel(stream, *ids)
                    pipe.xack(stream, GROUP, *ids)
                await pipe.execute()
        RELAYED.inc(moved)
        return moved

    async def claim_abandoned(self) -> int:
        moved = 0
        for stream in list(self._streams):
            start = "0-0"
            while True:
                reply: Any = await self._redis.xautoclaim(
                    stream, GROUP, self._consumer, CLAIM_IDLE_MS, start_id=start, count=self._batch
                )
                start, items = reply[0], reply[1]
                if items:
                    moved += await self._forward([(stream, items)])
                if start in ("0-0", b"0-0") or not items:
                    break
        return moved

    async def run_once(self, block_ms: int = 1000) -> int:
        await self._refresh_streams()
        if not self._streams:
            await asyncio.sleep(block_ms / 1000)
            return 0
        reply: Any
        if self._reread:
            reply = await self._redis.xreadgroup(
                GROUP, self._consumer, dict.fromkeys(self._streams, "0"), count=self._batch
            )
            if not any(items for _stream, items in reply or []):
                self._reread = False
            return await self._forward(reply or [])
        reply = await self._redis.xreadgroup(
            GROUP, self._consumer, dict.fromkeys(self._streams, ">"), count=self._batch, block=block_ms
        )
        return await self._forward(reply or [])

    async def run(self) -> None:
        last_claim = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            try:
                if loop.time() - last_claim > CLAIM_IDLE_MS / 3000:
                    await self._refresh_streams()
                    await self.claim_abandoned()
                    await self.forget_finished()
                    last_claim = loop.time()
                moved = await self.run_once()
                if 0 < moved < self._batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), timeout=LINGER_SECONDS)
            except asyncio.CancelledError:
                raise
            except REDIS_DOWN as exc:
                log.warning("relay: Redis unreachable (%s); retrying", exc)
                self._forget_streams()
                await asyncio.sleep(1)
            except ResponseError as exc:
                # NOGROUP: the stream came back without its consumer group (Redis lost its data and the
                # sale was preheated again). Forget what we knew so every group is created anew.
                log.warning("relay: %s; recreating consumer groups", exc)
                self._forget_streams()
                await asyncio.sleep(0.2)
            except Exception as exc:  # RabbitMQ down or refusing: entries stay pending and are re-read
                log.warning("relay: %s; retrying", exc)
                self._reread = True
                await asyncio.sleep(1)


_DECODE = json.JSONDecoder().raw_decode


def _order_and_sale(record: str) -> list[tuple[int, int]]:
    """(order id, sale id) of a reservation record; none for one that cannot be read (the order writer
    dead-letters it as unreadable)."""
    try:
        try:  # the decoder itself, without json.loads' layers: a third of the relay's parsing per record
            data, end = _DECODE(record)
            if end != len(record):
                raise ValueError("more after the record")
        except (ValueError, TypeError):
            data = json.loads(record)  # json.loads' own rules decide (whitespace around it, or its error)
        return [(int(data["o"]), int(data["s"]))]
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError):  # Infinity, or nested past the limit
        return []
