"""Run a chosen set of workers in one process and stop them gracefully on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from prometheus_client import start_http_server

from app.application.audit import audit_loaded_sales
from app.application.order_writer import OrderWriter
from app.bootstrap import Container, open_container, open_messaging
from app.config import Settings
from app.domain.models import PipelineState
from app.infrastructure.pipeline import pipeline_state
from app.infrastructure.queue_depth import QueueDepth
from app.workers.orders import OrderConsumer
from app.workers.relay import Relay
from app.workers.timeouts import TimeoutWorker

log = logging.getLogger(__name__)
AUDIT_EVERY_SECONDS = 30.0
STOP_GRACE_SECONDS = 20.0  # within Kubernetes' default 30 s termination grace period


async def run_workers(settings: Settings, kind: str) -> None:
    async with open_container(settings) as c, open_messaging(settings) as m:
        runners: list[OrderConsumer | TimeoutWorker | Relay] = []
        if kind in ("relay", "all") and settings.stock_strategy == "redis":
            runners.append(Relay(c.redis, m.publisher, c.names, settings.relay_batch_size, c.cache))
        if kind in ("orders", "all"):
            channel = await m.connection.channel(publisher_confirms=True, on_return_raises=True)
            runners.append(
                OrderConsumer(
                    channel,
                    OrderWriter(c.db),
                    m.scheduler,
                    m.publisher,
                    c.names,
                    c.cache,
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
        serve_metrics(settings.worker_metrics_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(r.run(), name=type(r).__name__) for r in runners]
        if kind in ("timeouts", "all"):
            tasks.append(asyncio.create_task(export_audits(c, settings), name="Audit"))
        log.info("workers running: %s", ", ".join(t.get_name() for t in tasks) or "none")
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter and task.exception() is not None:
                log.error("worker %s failed: %s", task.get_name(), task.exception())
        log.info("stopping: finishing in-flight work")
        for r in runners:
            r.stop()
        for task in tasks:
            if task.get_name() == "Audit":
                task.cancel()
        _finished, stuck = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS) if tasks else (set(), set())
        if stuck:
            # A store that hangs (rather than refuses) can hold a task forever. Leave as a crash would: what is
            # not acknowledged goes back to its queue when the connections drop, and every step is idempotent.
            names = ", ".join(t.get_name() for t in stuck)
            log.error("stopping: %s still busy after %.0f s; exiting without them", names, STOP_GRACE_SECONDS)
            logging.shutdown()
            os._exit(1)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        waiter.cancel()
        crashed = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
        if crashed:
            raise SystemExit(f"a worker failed: {crashed[0]!r}")


async def export_audits(c: Container, settings: Settings) -> None:
    """Audit the loaded sales now and then, so the invariants are a metric too."""
    depth = QueueDepth(settings.rabbitmq_api_url)

    async def state_of(sale_id: int) -> PipelineState:
        return await pipeline_state(c.cache, depth, c.names, sale_id, None)

    while True:
        try:
            await audit_loaded_sales(c.db, c.cache, state_of)
        except Exception as exc:  # an audit that cannot run now runs at the next tick
            log.warning("periodic audit failed: %s", exc)
        await asyncio.sleep(AUDIT_EVERY_SECONDS)


def serve_metrics(port: int) -> None:
    """Serve this process's metrics for Prometheus; a port already taken is a warning, not a failure."""
    if port == 0:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("worker metrics not served: port %s: %s", port, exc)
