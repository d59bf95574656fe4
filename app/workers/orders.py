"""The order writers: consume the order queue in batches, write each batch in one transaction, schedule
each order's payment timeout (confirmed), drop the cache's record of each order written (the database holds
it now), and only then acknowledge.

A database outage holds the batch (unacknowledged) and retries it until the database is back, so nothing
is lost and nothing is dead-lettered for it. An unreadable message, or an id that exists with another
payload, is dead-lettered at once; an order that fails to write is queued again alone, carrying how many times
it failed, and dead-lettered after `max_attempts` failures. Only failed writes count: a writer killed while it
holds messages (a crash loop) hands them back to the broker uncounted, so a crash never dead-letters an order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from app.application.order_writer import OrderWriter, Outcome, Written
from app.domain.errors import Unavailable
from app.domain.models import Reservation
from app.infrastructure.amqp import ATTEMPTS_HEADER, Publisher, message, settle
from app.infrastructure.keys import Names
from app.infrastructure.metrics import DEAD_LETTERED, ORDER_BATCH, ORDER_LAG, ORDERS_CREATED, ORDERS_WRITTEN
from app.infrastructure.records import parse_orders, reservation_to_dict
from app.infrastructure.redis_client import REDIS_DOWN
from app.infrastructure.sale_cache import SaleCache
from app.infrastructure.timeouts import DueTimeout, TimeoutScheduler

log = logging.getLogger(__name__)
BATCH_WAIT_SECONDS = 0.01


def _order_count(msg: AbstractIncomingMessage) -> int:
    """Orders in a message, from the relay's header (1 when absent: a single order)."""
    count = (msg.headers or {}).get("x-orders", 1)
    return count if isinstance(count, int) and count > 0 else 1


def order_message(r: Reservation, *, reason: str = "", detail: str = "", attempts: int = 0) -> aio_pika.Message:
    """One order alone, as the reservation script recorded it (plus why, when it is dead-lettered, and how many
    times it failed to be written)."""
    msg = message(reservation_to_dict(r), str(r.order_id))
    if attempts:
        msg.headers[ATTEMPTS_HEADER] = attempts
    if reason:
        msg.headers |= {"x-flashsale-reason": reason, "x-flashsale-detail": detail[:200]}
    return msg


def failed_attempts(msg: AbstractIncomingMessage) -> int:
    """How many times the orders of this message failed to be written before (0 for the relay's messages)."""
    count = (msg.headers or {}).get(ATTEMPTS_HEADER, 0)
    return count if isinstance(count, int) and count > 0 else 0


class OrderConsumer:
    def __init__(
        self,
        channel: AbstractChannel,
        writer: OrderWriter,
        timeouts: TimeoutScheduler,
        publisher: Publisher,
        names: Names,
        cache: SaleCache,
        *,
        batch_size: int,
        prefetch: int,
        max_attempts: int = 5,
    ) -> None:
        self._channel = channel
        self._cache = cache
        self._writer = writer
        self._timeouts = timeouts
        self._publisher = publisher
        self._names = names
        self._batch_size = batch_size
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self._channel.set_qos(prefetch_count=self._prefetch)
        queue = await self._channel.get_queue(self._names.orders_queue)
        tag = await queue.consume(self._inbox.put)
        try:
            while not self._stopping.is_set():
                batch = await self._next_batch()
                if batch:
                    await self.handle(batch)
        finally:
            # Stop taking new messages, then finish what is already here (SIGTERM drains in-flight work).
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
            leftover = []
            while not self._inbox.empty():
                leftover.append(self._inbox.get_nowait())
            if leftover:
                await self.handle(leftover)

    async def _next_batch(self) -> list[AbstractIncomingMessage]:
        """Messages until they hold about `batch_size` orders, or a short wait has passed."""
        try:
            first = await asyncio.wait_for(self._inbox.get(), timeout=0.5)
        except TimeoutError:
            return []
        batch = [first]
        orders = _order_count(first)
        deadline = time.monotonic() + BATCH_WAIT_SECONDS
        while orders < self._batch_size:
            if self._inbox.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(remaining, 0.002))
                continue
            msg = self._inbox.get_nowait()
            batch.append(msg)
            orders += _order_count(msg)
        return batch

    async def handle(self, messages: list[AbstractIncomingMessage]) -> None:
        """Write the orders of these messages in one go, then settle each message exactly once."""
        parsed: list[tuple[AbstractIncomingMessage, list[Reservation]]] = []
        for msg in messages:
            try:
                parsed.append((msg, parse_orders(msg.body)))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError, OverflowError, RecursionError):
                DEAD_LETTERED.labels("unreadable").inc()
                log.error("order message %s is unreadable; dead-lettered", msg.message_id)
                await settle(msg, "dead-letter")
        if not parsed:
            return
        results = await self._write_until_done([r for _, batch in parsed for r in batch])
        if results is None:  # stopping with the database down: hand the batch back to the queue
            log.warning("stopping with the database down; %d messages returned to the queue", len(parsed))
            for msg, _batch in parsed:
                with contextlib.suppress(Exception):
                    await settle(msg, "requeue")
            return
        # Each result carries the very reservation object it answers for: the same order id can arrive
        # twice (a redelivery), and each reservation is settled exactly once.
        outcome = {id(w.reservation): w for w in results}
        due: list[DueTimeout] = []
        written: list[tuple[int, int, str]] = []  # (sale, order, user) in the database now
        extra: list[tuple[str, aio_pika.Message]] = []  # orders queued again alone, or dead-lettered
        now, created = time.time(), 0
        for msg, batch in parsed:
            for r in batch:
                result = outcome[id(r)]
                if result.outcome is Outcome.WRITTEN:
                    due.append(DueTimeout(r.order_id, r.expires_ms))
                    written.append((r.sale_id, r.order_id, r.user_id))
                    if not result.detail:  # a new row, not a redelivery of one written before
                        ORDER_LAG.observe(max(0.0, now - r.created_ms / 1000))
                        created += 1
                elif result.outcome is Outcome.CONFLICT:
                    DEAD_LETTERED.labels("conflict").inc()
                    log.error("order %s: %s; dead-lettered", r.order_id, result.detail)
                    extra.append((self._names.orders_dlq, order_message(r, reason="conflict", detail=result.detail)))
                else:
                    # Queued again alone with its failures counted, until the last attempt dead-letters it.
                    attempts = failed_attempts(msg) + 1
                    if attempts >= self._max_attempts:
                        DEAD_LETTERED.labels("failed").inc()
                        log.error("order %s not written (%s) in %d attempts; dead-lettered", r.order_id,
                                  result.detail, attempts)  # fmt: skip
                        failed = order_message(r, reason="failed", detail=result.detail, attempts=attempts)
                        extra.append((self._names.orders_dlq, failed))
                    else:
                        log.warning("order %s not written (%s); retried alone", r.order_id, result.detail)
                        extra.append((self._names.orders_queue, order_message(r, attempts=attempts)))
        ORDERS_CREATED.inc(created)  # the rows are committed, whatever happens next
        try:
            await self._timeouts.schedule(due)
            if extra:
                await self._publisher.publish_all(extra)
        except Exception as exc:  # the orders are written; a redelivery schedules the timeouts again
            log.warning("timeouts not confirmed (%s); the messages will be redelivered", exc)
            for msg, _batch in parsed:
                with contextlib.suppress(Exception):
                    await settle(msg, "requeue")
            return
        try:
            await self._cache.forget_written(written)
        except REDIS_DOWN as exc:  # harmless leftovers: reads find the rows first, a reload starts afresh
            log.warning("records of %d written orders stay in the cache: %s", len(written), exc)
        for msg, _batch in parsed:
            # After a broker reconnect these messages belong to a channel that is gone: settle() ignores that
            # (the broker requeued them; their redelivery is written idempotently and acknowledged then).
            await settle(msg, "ack")
        ORDERS_WRITTEN.inc(len(due))
        ORDER_BATCH.observe(len(due))

    async def _write_until_done(self, batch: list[Reservation]) -> list[Written] | None:
        """The batch's outcomes; None when the worker is told to stop while the database is down."""
        delay = 0.2
        while True:
            try:
                return await self._writer.write(batch)
            except Unavailable as exc:
                if self._stopping.is_set():
                    return None
                log.warning("database unavailable (%s); holding %d orders and retrying", exc, len(batch))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                delay = min(delay * 2, 5.0)
