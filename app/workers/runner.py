"""Run a chosen set of workers in one process and stop them gracefully on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from app.application.order_writer import OrderWriter
from app.bootstrap import open_container, open_messaging
from app.config import Settings
from app.workers.orders import OrderConsumer
from app.workers.relay import Relay
from app.workers.timeouts import TimeoutWorker

log = logging.getLogger(__name__)


async def run_workers(settings: Settings, kind: str) -> None:
    async with open_container(settings) as c, open_messaging(settings) as m:
        runners: list[OrderConsumer | TimeoutWorker | Relay] = []
        if kind in ("relay", "all") and settings.stock_strategy == "redis":
            runners.append(Relay(c.redis, m.publisher, c.names, settings.relay_batch_size))
        if kind in ("orders", "all"):
            channel = await m.connection.channel(publisher_confirms=True, on_return_raises=True)
            runners.append(
                OrderConsumer(
                    channel,
                    OrderWriter(c.db),
                    m.scheduler,
                    c.names,
                    batch_size=settings.order_batch_size,
                    prefetch=settings.order_prefetch,
                )
            )
        if kind in ("timeouts", "all"):
            channel = await m.connection.channel(publisher_confirms=True, on_return_raises=True)
            runners.append(
                TimeoutWorker(
                    channel,
                    c.db,
                    c.returns,
                    c.orders,
                    m.scheduler,
                    c.names,
                    sweep_seconds=settings.timeout_sweep_seconds,
                )
            )
        if not runners:
            log.info("nothing to run for %r with strategy %r; idling until stopped", kind, settings.stock_strategy)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(r.run(), name=type(r).__name__) for r in runners]
        log.info("workers running: %s", ", ".join(t.get_name() for t in tasks) or "none")
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter and task.exception() is not None:
                log.error("worker %s failed: %s", task.get_name(), task.exception())
        log.info("stopping: finishing in-flight work")
        for r in runners:
            r.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        waiter.cancel()
