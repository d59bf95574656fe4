"""The order writers: consume the order queue in batches, write each batch in one transaction, schedule
each order's payment timeout (confirmed), and only then acknowledge.

A database outage holds the batch (unacknowledged) and retries it until the database is back, so nothing
is lost and nothing is dead-lettered for it. An unreadable message, or an id that exists with another
payload, is dead-lettered at once; an order that fails to write is returned to the queue, and the queue's
delivery limit dead-letters it after a bounded number of tries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from app.application.order_writer import OrderWriter, Outcome, Written
from app.application.orders import reservation_from_json
from app.domain.errors import Unavailable
from app.domain.models import Reservation
from app.infrastructure.keys import Names
from app.infrastructure.metrics import DEAD_LETTERED, ORDER_BATCH, ORDER_LAG, ORDERS_WRITTEN
from app.infrastructure.timeouts import DueTimeout, TimeoutScheduler

log = logging.getLogger(__name__)
BATCH_WAIT_SECONDS = 0.01


class OrderConsumer:
    def __init__(
        self,
        channel: AbstractChannel,
        writer: OrderWriter,
        timeouts: TimeoutScheduler,
        names: Names,
        *,
        batch_size: int,
        prefetch: int,
    ) -> None:
        self._channel = channel
        self._writer = writer
        self._timeouts = timeouts
        self._names = names
        self._batch_size = batch_size
        self._prefetch = prefetch
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
        try:
            first = await asyncio.wait_for(self._inbox.get(), timeout=0.5)
        except TimeoutError:
            return []
        batch = [first]
        deadline = time.monotonic() + BATCH_WAIT_SECONDS
        while len(batch) < self._batch_size:
            if self._inbox.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(remaining, 0.002))
                continue
            batch.append(self._inbox.get_nowait())
        return batch

    async def handle(self, messages: list[AbstractIncomingMessage]) -> None:
        parsed: list[tuple[AbstractIncomingMessage, Reservation]] = []
        for msg in messages:
            try:
                parsed.append((msg, reservation_from_json(msg.body.decode())))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                DEAD_LETTERED.labels("unreadable").inc()
                log.error("order message %s is unreadable; dead-lettered", msg.message_id)
                await msg.reject(requeue=False)
        if not parsed:
            return
        results = await self._write_until_done([r for _, r in parsed])
        if results is None:  # stopping with the database down: hand the batch back to the queue
            log.warning("stopping with the database down; %d orders returned to the queue", len(parsed))
            for msg, _r in parsed:
                with contextlib.suppress(Exception):
                    await msg.nack(requeue=True)
            return
        # Each result carries the very reservation object it answers for: the same order id can arrive
        # twice in one batch (a redelivery), and each of its messages must be settled exactly once.
        by_reservation = {id(r): msg for msg, r in parsed}
        written: list[AbstractIncomingMessage] = []
        due: list[DueTimeout] = []
        now = time.time()
        for result in results:
            msg = by_reservation[id(result.reservation)]
            if result.outcome is Outcome.WRITTEN:
                written.append(msg)
                due.append(DueTimeout(result.reservation.order_id, result.reservation.expires_ms))
                if not result.detail:
                    ORDER_LAG.observe(max(0.0, now - result.reservation.created_ms / 1000))
            elif result.outcome is Outcome.CONFLICT:
                DEAD_LETTERED.labels("conflict").inc()
                log.error("order %s: %s; dead-lettered", result.reservation.order_id, result.detail)
                await msg.reject(requeue=False)
            else:
                log.warning("order %s not written (%s); returned to the queue", msg.message_id, result.detail)
                await msg.nack(requeue=True)
        if not written:
            return
        try:
            await self._timeouts.schedule(due)
        except Exception as exc:  # the orders are written; a redelivery schedules the timeouts again
            log.warning("timeouts not confirmed (%s); the batch will be redelivered", exc)
            for msg in written:
                with contextlib.suppress(Exception):
                    await msg.nack(requeue=True)
            return
        for msg in written:
            await msg.ack()
        ORDERS_WRITTEN.inc(len(written))
        ORDER_BATCH.observe(len(written))

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
