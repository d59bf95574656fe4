"""Every Prometheus metric, in one place (the README's "Metrics" table describes each). One prefix, base units,
`_total` on counters, no user or order id as a label.

With several server processes, `flashsale api --workers N` sets PROMETHEUS_MULTIPROC_DIR before any of them
starts, and /metrics merges what every process wrote. The workers serve one process's registry; what they
sample now and then (stock, queues, the audit) is a snapshot collector, so a sale that is gone from the cache
disappears from the metrics instead of lingering at its last value."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from app.infrastructure.queue_depth import QueueStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# --- the API ---------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "flashsale_http_requests_total",
    "HTTP requests by route (the endpoint's name), method and status code, 413s of the body cap included",
    ["route", "method", "code"],
)
HTTP_LATENCY = Histogram(
    "flashsale_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "flashsale_http_requests_in_flight",
    "HTTP requests being answered now (summed over the server's processes)",
    multiprocess_mode="livesum",
)
PURCHASES = Counter(
    "flashsale_purchases_total",
    "Purchase requests that reached the endpoint, by outcome: accepted, replay, or the error code",
    ["outcome"],
)
SOLD_OUT_SHORTCUTS = Counter(
    "flashsale_sold_out_shortcuts_total",
    "Purchases answered sold out from the in-process flag, no round trip",
)

# --- orders and payments (API and workers) ---------------------------------------------------------------
ORDERS_CREATED = Counter(
    "flashsale_orders_created_total",
    "Order rows created in the database (by the order writers, or by the API with strategy db)",
)
CANCELLATIONS = Counter("flashsale_orders_cancelled_total", "Orders cancelled, by reason", ["reason"])
PAYMENTS = Counter("flashsale_payments_total", "Payment attempts by outcome: paid, declined, refunded", ["outcome"])
STOCK_RETURNS = Counter("flashsale_stock_returns_total", "Stock returns applied to the cache, by result", ["result"])

# --- the pipeline (workers) ------------------------------------------------------------------------------
RELAYED = Counter("flashsale_relay_orders_total", "Orders moved from the Redis hand-off to RabbitMQ")
ORDERS_WRITTEN = Counter(
    "flashsale_orders_written_total",
    "Orders the order writers settled as written: new rows and redeliveries of rows written before",
)
ORDER_BATCH = Histogram(
    "flashsale_order_batch_size",
    "Orders per database transaction",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
ORDER_LAG = Histogram(
    "flashsale_order_pipeline_lag_seconds",
    "From the reservation to the order's commit in the database",
    buckets=(*LATENCY_BUCKETS, 30.0, 60.0),
)
DEAD_LETTERED = Counter(
    "flashsale_dead_lettered_total", "Messages the workers sent to the dead-letter queue, by reason", ["reason"]
)
TIMEOUT_LAG = Histogram(
    "flashsale_timeout_lag_seconds",
    "How long after expires_at an unpaid order was cancelled",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)

# --- every process ---------------------------------------------------------------------------------------
POOL_CONNECTIONS = Gauge(
    "flashsale_pool_connections",
    "Connections of the process's pools by pool (redis, mysql) and state (in_use, idle)",
    ["pool", "state"],
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "flashsale_pool_max_connections",
    "The most connections each pool may open",
    ["pool"],
    multiprocess_mode="livesum",
)
LOG_MESSAGES = Counter(
    "flashsale_log_messages_total",
    "Log lines at warning and above, by level and logger (the errors panel)",
    ["level", "logger"],
)


# --- sampled by the worker that runs the audit -----------------------------------------------------------
@dataclass(frozen=True)
class SaleStats:
    stock: int
    stock_left: int
    handoff: int


@dataclass(frozen=True)
class Samples:
    """The latest readings. Replaced whole on every round, so what was not read this time is not reported."""

    sales: dict[int, SaleStats] = field(default_factory=dict)
    queues: dict[str, QueueStats] = field(default_factory=dict)  # by logical name: orders, orders_dlq, timeouts
    timeout_overdue_seconds: float | None = None
    invariants: dict[tuple[int, str], bool] = field(default_factory=dict)


class SampledCollector(Collector):
    """Serves the latest Samples; the sampler and the audit swap in new ones (one reference, no lock)."""

    def __init__(self) -> None:
        self.samples = Samples()

    def update(
        self,
        *,
        sales: dict[int, SaleStats],
        queues: dict[str, QueueStats],
        timeout_overdue_seconds: float | None,
    ) -> None:
        self.samples = replace(
            self.samples, sales=sales, queues=queues, timeout_overdue_seconds=timeout_overdue_seconds
        )

    def set_invariants(self, results: dict[tuple[int, str], bool]) -> None:
        self.samples = replace(self.samples, invariants=results)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return list(_families(self.samples))


def _families(s: Samples) -> Iterator[GaugeMetricFamily]:
    stock = GaugeMetricFamily("flashsale_sale_stock", "Units on sale, per sale loaded in the cache", labels=["sale_id"])
    left = GaugeMetricFamily("flashsale_sale_stock_left", "Units left in the cache, per sale", labels=["sale_id"])
    handoff = GaugeMetricFamily(
        "flashsale_handoff_orders", "Accepted orders waiting in the sale's Redis hand-off", labels=["sale_id"]
    )
    for sale_id, sale in sorted(s.sales.items()):
        stock.add_metric([str(sale_id)], sale.stock)
        left.add_metric([str(sale_id)], sale.stock_left)
        handoff.add_metric([str(sale_id)], sale.handoff)
    yield from (stock, left, handoff)
    messages = GaugeMetricFamily(
        "flashsale_queue_messages", "Messages in a RabbitMQ queue by state", labels=["queue", "state"]
    )
    consumers = GaugeMetricFamily("flashsale_queue_consumers", "Consumers of a RabbitMQ queue", labels=["queue"])
    for queue, q in sorted(s.queues.items()):
        messages.add_metric([queue, "ready"], q.ready)
        messages.add_metric([queue, "unacknowledged"], q.unacknowledged)
        consumers.add_metric([queue], q.consumers)
    yield from (messages, consumers)
    if s.timeout_overdue_seconds is not None:
        yield GaugeMetricFamily(
            "flashsale_timeout_overdue_seconds",
            "How far past expires_at the oldest unpaid order still is (0 when none is overdue)",
            value=s.timeout_overdue_seconds,
        )
    invariants = GaugeMetricFamily(
        "flashsale_invariant_ok",
        "1 when the invariant held at the last audit (every 30 s), 0 when it failed",
        labels=["sale_id", "invariant"],
    )
    for (sale_id, name), ok in sorted(s.invariants.items()):
        invariants.add_metric([str(sale_id), name], int(ok))
    yield invariants


SAMPLED = SampledCollector()
REGISTRY.register(SAMPLED)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def forget_process() -> None:
    """At a server process's exit: drop its live gauges (in flight, pools) from the merged page."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())
