"""The payment-timeout worker: cancels orders still unpaid at `expires_at` and returns their stock.

A timeout that arrives early is parked again in the bucket that fits. A periodic sweep catches what a lost
message would miss: created orders past their deadline, stock returns not yet applied to the cache, orders
left in `paying` by a crash (resolved by asking the payment provider), and a charge that landed on an order
cancelled meanwhile (refunded once). It also sets each live sale's cached stock and pause from the database,
repairing a change that failed half-way."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from app.application.catalogue import Catalogue
from app.application.orders import Orders
from app.application.stock_return import StockReturns
from app.infrastructure import sql_orders
from app.infrastructure.db import Database, is_transient
from app.infrastructure.keys import Names
from app.infrastructure.metrics import DEAD_LETTERED, TIMEOUT_LAG
from app.infrastructure.timeouts import DueTimeout, TimeoutScheduler, now_ms, parse_timeouts

log = logging.getLogger(__name__)
SWEEP_GRACE_SECONDS = 0.5


class TimeoutWorker:
    def __init__(
        self,
        channel: AbstractChannel,
        db: Database,
        returns: StockReturns,
        orders: Orders,
        scheduler: TimeoutScheduler,
        names: Names,
        *,
        catalogue: Catalogue,
        sweep_seconds: float,
        prefetch: int = 200,
    ) -> None:
        self._catalogue = catalogue
        self._channel = channel
        self._db = db
        self._returns = returns
        self._orders = orders
        self._scheduler = scheduler
        self._names = names
        self._sweep_seconds = sweep_seconds
        self._prefetch = prefetch
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self._channel.set_qos(prefetch_count=self._prefetch)
        queue = await self._channel.get_queue(self._names.timeouts_queue)

        async def on_message(msg: AbstractIncomingMessage) -> None:
            task = asyncio.create_task(self._guarded(msg))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

        tag = await queue.consume(on_message)
        try:
            while not self._stopping.is_set():
                await self.sweep()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._sweep_seconds)
        finally:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _guarded(self, msg: AbstractIncomingMessage) -> None:
        try:
            await self.handle(msg)
        except Exception as exc:  # e.g. RabbitMQ refused the re-park: let the broker deliver it again
            log.warning("timeout message %s returned to the queue: %s", msg.message_id, exc)
            with contextlib.suppress(Exception):
                await msg.nack(requeue=True)

    async def handle(self, msg: AbstractIncomingMessage) -> None:
        try:
            timeouts = parse_timeouts(msg.body)
        except (ValueError, KeyError, TypeError):
            DEAD_LETTERED.labels("unreadable").inc()
            await msg.reject(requeue=False)
            return
        now = now_ms()
        early = [t for t in timeouts if t.expires_ms > now]
        if early:
            # Early (a short bucket, or pipeline lag): park them again; never move a deadline.
            await self._scheduler.schedule(early)
        for due in timeouts:
            if due.expires_ms <= now and not await self._cancel(due):
                await msg.nack(requeue=True)  # stopping with the database down: hand the message back
                return
        await msg.ack()

    async def _cancel(self, due: DueTimeout) -> bool:
        """Cancel if still unpaid, waiting out a database outage or a passing refusal (read-only, a lock wait,
        a deadlock: never worth a redelivery, whose limit would dead-letter the timeout); False if told to stop
        meanwhile."""
        delay = 0.2
        while True:
            try:
                won = await self._returns.cancel(due.order_id, "timeout")
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if self._stopping.is_set():
                    return False
                log.warning("timeout of order %s waits for the database: %s", due.order_id, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                delay = min(delay * 2, 5.0)
        if won is not None:
            TIMEOUT_LAG.observe(max(0.0, (now_ms() - due.expires_ms) / 1000))
        return True

    async def sweep(self) -> None:
        """Never raises: a failed sweep is tried again at the next tick."""
        try:
            async with self._db.transaction() as cur:
                expired = await sql_orders.expired_created(cur, SWEEP_GRACE_SECONDS, 500)
            for order_id in expired:
                if await self._returns.cancel(order_id, "timeout") is not None:
                    log.info("sweep cancelled order %s (its timeout message was late or lost)", order_id)
            await self._returns.apply_pending()
            await self._orders.resolve_paying()
            await self._orders.refund_cancelled_charges()
            await self._catalogue.sync_live_caches()
        except Exception as exc:
            log.warning("timeout sweep failed: %s", exc)
