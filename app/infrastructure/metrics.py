"""Every Prometheus metric, in one place. One prefix, base units, no user or order ids as labels.

With several server processes, `flashsale api --workers N` sets PROMETHEUS_MULTIPROC_DIR before any of
them starts, and /metrics merges what every process wrote."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "flashsale_http_requests_total",
    "HTTP requests by route, method and status code",
    ["route", "method", "code"],
)
HTTP_LATENCY = Histogram(
    "flashsale_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
RESERVATIONS = Counter(
    "flashsale_reservations_total",
    "Purchase attempts by outcome (accepted, replay, or the error code)",
    ["outcome"],
)
SOLD_OUT_SHORTCUTS = Counter(
    "flashsale_sold_out_shortcuts_total",
    "Purchases answered sold out from the in-process flag, no round trip",
)
RELAYED = Counter("flashsale_relay_messages_total", "Orders moved from the Redis hand-off to RabbitMQ")
ORDERS_WRITTEN = Counter("flashsale_orders_written_total", "Orders written to the database by the workers")
ORDER_BATCH = Histogram(
    "flashsale_order_batch_size", "Orders per database transaction", buckets=(1, 5, 10, 25, 50, 100, 250, 500)
)
ORDER_LAG = Histogram(
    "flashsale_order_pipeline_lag_seconds",
    "From the reservation to the order's commit in the database",
    buckets=(*LATENCY_BUCKETS, 30.0, 60.0),
)
DEAD_LETTERED = Counter("flashsale_dead_lettered_total", "Messages sent to the dead-letter queue", ["reason"])
CANCELLATIONS = Counter("flashsale_orders_cancelled_total", "Orders cancelled, by reason", ["reason"])
PAYMENTS = Counter("flashsale_payments_total", "Payment attempts by outcome", ["outcome"])
TIMEOUT_LAG = Histogram(
    "flashsale_timeout_lag_seconds",
    "How long after expires_at an unpaid order was cancelled",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
STOCK_RETURNS = Counter("flashsale_stock_returns_total", "Stock returns applied to the cache, by result", ["result"])
INVARIANT_OK = Gauge(
    "flashsale_invariant_ok",
    "1 when the invariant held at the last audit, 0 when it failed",
    ["sale_id", "invariant"],
    multiprocess_mode="mostrecent",
)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
