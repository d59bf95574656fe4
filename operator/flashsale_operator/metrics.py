"""The operator's own Prometheus metrics (the others are in app/infrastructure/metrics.py), served with the
process's (process_*, pools, log lines) on FLASHSALE_OPERATOR_METRICS_PORT at /metrics."""

from __future__ import annotations

import contextlib
import logging

from prometheus_client import Counter, Gauge, start_http_server

from flashsale_operator.phase import Phase

log = logging.getLogger(__name__)

RECONCILES = Counter(
    "flashsale_operator_reconciles_total",
    "Reconciliations of FlashSales (handler runs and clock ticks) by result: ok or error",
    ["result"],
)
SALE_PHASE = Gauge(
    "flashsale_operator_sale_phase",
    "1 for the FlashSale's current phase, 0 for the others",
    ["namespace", "name", "phase"],
)
DESIRED_REPLICAS = Gauge(
    "flashsale_operator_desired_replicas",
    "Order consumer replicas the operator asks for on behalf of the FlashSale",
    ["namespace", "name"],
)


def show_phase(namespace: str, name: str, phase: Phase) -> None:
    for each in Phase:
        SALE_PHASE.labels(namespace, name, each.value).set(1 if each is phase else 0)


def show_replicas(namespace: str, name: str, replicas: int | None) -> None:
    if replicas is not None:
        DESIRED_REPLICAS.labels(namespace, name).set(replicas)


def forget(namespace: str, name: str) -> None:
    """A deleted FlashSale leaves no series behind."""
    for each in Phase:
        with contextlib.suppress(KeyError):
            SALE_PHASE.remove(namespace, name, each.value)
    with contextlib.suppress(KeyError):
        DESIRED_REPLICAS.remove(namespace, name)


def serve(port: int) -> None:
    """A port already taken is a warning, not a failure (as for the workers): FlashSales still get run."""
    if not port:
        return
    try:
        start_http_server(port)
    except OSError as error:
        log.warning("operator metrics not served: port %s: %s", port, error)
