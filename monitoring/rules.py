"""The Prometheus recording rules and alerts, as data. Every series is aggregated by `namespace` (the
Kubernetes namespace the ServiceMonitors give each target), so one Prometheus can watch several releases.

Each alert has a severity, a summary, a description and a runbook: a section of the README whose anchor is
the alert's name in lower case (`runbook_url`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RUNBOOK_BASE = "README.md"  # the chart's PrometheusRule can point this at where the README is served


@dataclass(frozen=True)
class Record:
    record: str
    expr: str


@dataclass(frozen=True)
class Alert:
    alert: str
    expr: str
    for_: str
    severity: str  # critical: pages someone; warning: a ticket
    summary: str
    description: str

    @property
    def anchor(self) -> str:
        return self.alert.lower()


def _quantile(q: float, buckets: str, by: str = "namespace") -> str:
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({buckets}[5m])))"


RECORDS = [
    Record(
        "namespace_outcome:flashsale_purchases:rate1m",
        "sum by (namespace, outcome) (rate(flashsale_purchases_total[1m]))",
    ),
    Record(
        "namespace:flashsale_purchases_accepted:rate1m",
        'sum by (namespace) (rate(flashsale_purchases_total{outcome="accepted"}[1m]))',
    ),
    Record(
        "namespace_route_code:flashsale_http_requests:rate1m",
        "sum by (namespace, route, code) (rate(flashsale_http_requests_total[1m]))",
    ),
    Record(
        "namespace:flashsale_purchase_5xx:ratio_rate5m",
        # 0, not nothing, while no purchase has failed yet (a series of 5xx exists only after the first).
        '(\n  sum by (namespace) (rate(flashsale_http_requests_total{route="purchase",code=~"5.."}[5m]))\n'
        '  or 0 * sum by (namespace) (rate(flashsale_http_requests_total{route="purchase"}[5m]))\n)\n'
        '/\nsum by (namespace) (rate(flashsale_http_requests_total{route="purchase"}[5m]))',
    ),
    Record(
        "namespace_route:flashsale_http_request_duration_seconds:p99_5m",
        _quantile(0.99, "flashsale_http_request_duration_seconds_bucket", "namespace, route"),
    ),
    Record(
        "namespace_route:flashsale_http_request_duration_seconds:p50_5m",
        _quantile(0.5, "flashsale_http_request_duration_seconds_bucket", "namespace, route"),
    ),
    Record(
        "namespace:flashsale_order_pipeline_lag_seconds:p99_5m",
        _quantile(0.99, "flashsale_order_pipeline_lag_seconds_bucket"),
    ),
    Record("namespace:flashsale_timeout_lag_seconds:p99_5m", _quantile(0.99, "flashsale_timeout_lag_seconds_bucket")),
    Record(
        "namespace:flashsale_orders_created:rate1m", "sum by (namespace) (rate(flashsale_orders_created_total[1m]))"
    ),
    Record(
        "namespace:flashsale_orders_paid:rate1m",
        'sum by (namespace) (rate(flashsale_payments_total{outcome="paid"}[1m]))',
    ),
    Record(
        "namespace_reason:flashsale_orders_cancelled:rate1m",
        "sum by (namespace, reason) (rate(flashsale_orders_cancelled_total[1m]))",
    ),
    # Several timeout workers may sample the same queue: one reading per queue.
    Record(
        "namespace_queue:flashsale_queue_messages:max",
        "max by (namespace, queue) (sum without (state) (flashsale_queue_messages))",
    ),
    Record("namespace_queue:flashsale_queue_consumers:max", "max by (namespace, queue) (flashsale_queue_consumers)"),
    Record(
        "namespace:flashsale_handoff_orders:sum",
        "sum by (namespace) (max by (namespace, sale_id) (flashsale_handoff_orders))",
    ),
]

ALERTS = [
    Alert(
        "FlashsaleInvariantBroken",
        # Only once the pipeline is drained: while orders flow, the cache is ahead of the database by design.
        "min by (namespace, sale_id, invariant)\n"
        '  (flashsale_invariant_ok{invariant!~"pipeline_drained|no_dead_letters"}) == 0\n'
        "and on (namespace, sale_id)\n"
        'min by (namespace, sale_id) (flashsale_invariant_ok{invariant="pipeline_drained"}) == 1',
        "2m",
        "critical",
        "Sale {{ $labels.sale_id }}: invariant {{ $labels.invariant }} is broken",
        "The periodic audit of sale {{ $labels.sale_id }} in {{ $labels.namespace }} found {{ $labels.invariant }} "
        "failing while the pipeline is drained, in every audit for 2 minutes. Stock, orders or payments disagree.",
    ),
    Alert(
        "FlashsaleOrderQueueLag",
        "namespace:flashsale_order_pipeline_lag_seconds:p99_5m > 10\n"
        'or\n(namespace_queue:flashsale_queue_messages:max{queue="orders"} > 0)\n'
        "  unless on (namespace) (sum by (namespace) (rate(flashsale_orders_written_total[5m])) > 0)\n"
        "or\n(namespace:flashsale_handoff_orders:sum > 0)\n"
        "  unless on (namespace) (sum by (namespace) (rate(flashsale_relay_orders_total[5m])) > 0)",
        "5m",
        "warning",
        "Accepted orders are slow to reach the database in {{ $labels.namespace }}",
        "Orders take more than 10 s (p99) from their 202 to their row, or orders wait in the hand-off or the "
        "order queue while none moves on. Shoppers see `pending` orders they cannot pay yet.",
    ),
    Alert(
        "FlashsaleDeadLetters",
        'namespace_queue:flashsale_queue_messages:max{queue="orders_dlq"} > 0',
        "1m",
        "warning",
        "{{ $value }} message(s) in the dead-letter queue of {{ $labels.namespace }}",
        "Orders or payment timeouts were refused by the workers (unreadable, a conflicting id, or past the "
        "queue's delivery limit). They are not written until someone looks and replays them.",
    ),
    Alert(
        "FlashsaleTimeoutLag",
        "max by (namespace) (flashsale_timeout_overdue_seconds) > 2\n"
        "or\nnamespace:flashsale_timeout_lag_seconds:p99_5m > 2",
        "1m",
        "warning",
        "Unpaid orders are cancelled more than 2 s after they expire in {{ $labels.namespace }}",
        "An unpaid order stays `created` more than 2 s past its expires_at (the contract's bound), so its units "
        "come back to stock late.",
    ),
    Alert(
        "FlashsalePurchaseErrors",
        "namespace:flashsale_purchase_5xx:ratio_rate5m > 0.01",
        "5m",
        "critical",
        "{{ $value | humanizePercentage }} of purchases fail with 5xx in {{ $labels.namespace }}",
        "More than 1% of purchase requests answered 5xx over 5 minutes: a store is down, a sale lost its "
        "cache (not_ready), or the hand-off backlog is over its cap.",
    ),
    Alert(
        "FlashsalePurchaseLatencyHigh",
        'namespace_route:flashsale_http_request_duration_seconds:p99_5m{route="purchase"} > 0.5',
        "5m",
        "warning",
        "Purchase p99 latency is {{ $value | humanizeDuration }} in {{ $labels.namespace }}",
        "The slowest 1% of purchases took more than 500 ms over 5 minutes; the API is saturated or Redis is slow.",
    ),
    Alert(
        "FlashsaleNoConsumers",
        '(namespace_queue:flashsale_queue_messages:max{queue=~"orders|timeouts"} > 0)\n'
        "and on (namespace, queue)\n"
        "(namespace_queue:flashsale_queue_consumers:max == 0)",
        "2m",
        "critical",
        "Messages wait in {{ $labels.queue }} of {{ $labels.namespace }} and nothing consumes them",
        "The {{ $labels.queue }} queue holds messages and has had no consumer for 2 minutes: no order writer "
        "(orders) or timeout worker (timeouts) is connected.",
    ),
    Alert(
        "FlashsaleOperatorDown",
        'max by (namespace) (up{component="operator"}) == 0\nor\nabsent(up{component="operator"})',
        "5m",
        "critical",
        "The flashsale operator is down",
        "Prometheus has not scraped a live operator for 5 minutes: FlashSale resources are not reconciled (no "
        "phase changes, no preheat, no scaling of the order writers).",
    ),
    Alert(
        "FlashsaleOperatorReconcileErrors",
        'sum by (namespace) (rate(flashsale_operator_reconciles_total{result="error"}[5m])) > 0',
        "10m",
        "warning",
        "The flashsale operator keeps failing to reconcile in {{ $labels.namespace }}",
        "Reconciles have ended in errors for 10 minutes; the FlashSale resources' conditions say why.",
    ),
    Alert(
        "FlashsaleTargetDown",
        'up{component=~"api|orders|relay|timeouts"} == 0',
        "5m",
        "warning",
        "{{ $labels.component }} pod {{ $labels.pod }} cannot be scraped",
        "Prometheus could not scrape {{ $labels.instance }} ({{ $labels.component }}) for 5 minutes: the process "
        "is down, hung or unreachable.",
    ),
]


def rule_groups() -> dict[str, Any]:
    """The rules in Prometheus' rule-file layout (also the `spec` of a PrometheusRule)."""
    return {
        "groups": [
            {"name": "flashsale.rules", "rules": [{"record": r.record, "expr": r.expr} for r in RECORDS]},
            {
                "name": "flashsale.alerts",
                "rules": [
                    {
                        "alert": a.alert,
                        "expr": a.expr,
                        "for": a.for_,
                        "labels": {"severity": a.severity},
                        "annotations": {
                            "summary": a.summary,
                            "description": a.description,
                            "runbook_url": f"{RUNBOOK_BASE}#{a.anchor}",
                        },
                    }
                    for a in ALERTS
                ],
            },
        ]
    }
