"""The operator's Prometheus metrics, in a registry of their own (the API's and workers' are in
app/infrastructure/metrics.py), served on FLASHSALE_OPERATOR_METRICS_PORT at /metrics."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from flashsale_operator.phase import Phase

REGISTRY = CollectorRegistry()

RECONCILES = Counter(
    "flashsale_operator_reconciles_total",
    "Reconciliations of FlashSales (handler runs and clock ticks) by result: ok or error",
    ["result"],
    registry=REGISTRY,
)
SALE_PHASE = Gauge(
    "flashsale_operator_sale_phase",
    "1 for the FlashSale's current phase, 0 for the others",
    ["namespace", "name", "phase"],
    registry=REGISTRY,
)
DESIRED_REPLICAS = Gauge(
    "flashsale_operator_desired_replicas",
    "Order consumer replicas the operator asks for on behalf of the FlashSale",
    ["namespace", "name"],
    registry=REGISTRY,
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
    if port:
        start_http_server(port, registry=REGISTRY)
