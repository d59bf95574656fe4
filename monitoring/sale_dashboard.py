"""The sale dashboard: what shoppers get (requests by outcome, accepted per second, latency), what is left
(stock per sale), and how accepted orders travel to the database and on (hand-off and queues, orders
created, paid and cancelled, the consumers, the payment timeouts)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models.dashboard import VariableRefresh, VariableSort

from monitoring.panels import (
    DATASOURCE,
    NS,
    RATE,
    board,
    datasource_variable,
    graph,
    namespace_variable,
    number,
    quantile,
    query,
)

SALE = f'{NS}, sale_id=~"$sale"'
PURCHASE = f'{NS}, route="purchase"'


def sale_variable() -> dash.QueryVariable:
    return (
        dash.QueryVariable("sale")
        .label("Sale")
        .datasource(DATASOURCE)
        .query(f"label_values(flashsale_sale_stock_left{{{NS}}}, sale_id)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.NUMERICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def build() -> dash.Dashboard:
    accepted = f'sum(rate(flashsale_purchases_total{{{NS}, outcome="accepted"}}[{RATE}]))'
    return (
        board("flashsale-sale", "flashsale / sale", "A flash sale as shoppers see it and as its orders flow.")
        .with_variable(datasource_variable())
        .with_variable(namespace_variable("flashsale_http_requests_total"))
        .with_variable(sale_variable())
        .with_row(dash.Row("Purchases"))
        .with_panel(number("Accepted per second", "Purchases answered 202, all sales.", "reqps", accepted))
        .with_panel(
            number(
                "Stock left",
                "Units left in the cache, the sales chosen above.",
                "none",
                f"sum(max by (sale_id) (flashsale_sale_stock_left{{{SALE}}}))",
            )
        )
        .with_panel(
            number(
                "Sold",
                "Share of the chosen sales' units taken.",
                "percentunit",
                f"1 - sum(max by (sale_id) (flashsale_sale_stock_left{{{SALE}}}))"
                f" / sum(max by (sale_id) (flashsale_sale_stock{{{SALE}}}))",
            )
        )
        .with_panel(
            number(
                "Purchase p99",
                "The slowest 1% of purchases over the last 5 minutes.",
                "s",
                quantile(0.99, "flashsale_http_request_duration_seconds_bucket", PURCHASE, "5m"),
            )
        )
        .with_panel(
            graph(
                "Requests by outcome",
                "Purchase requests by outcome: accepted, replay, or the error code (sold_out, rate_limited, ...).",
                "reqps",
                query(f"sum by (outcome) (rate(flashsale_purchases_total{{{NS}}}[{RATE}]))", "{{outcome}}"),
                query(
                    f'sum(rate(flashsale_http_requests_total{{{PURCHASE}, code="413"}}[{RATE}]))', "payload_too_large"
                ),
            )
        )
        .with_panel(
            graph(
                "Accepted per second",
                "Purchases answered 202, and those answered from the in-process sold-out flag.",
                "reqps",
                query(accepted, "accepted"),
                query(f"sum(rate(flashsale_sold_out_shortcuts_total{{{NS}}}[{RATE}]))", "sold out (no round trip)"),
            )
        )
        .with_panel(
            graph(
                "Purchase latency",
                "p50 and p99 of the purchase endpoint, all API processes.",
                "s",
                *(
                    query(quantile(q, "flashsale_http_request_duration_seconds_bucket", PURCHASE), name)
                    for q, name in ((0.5, "p50"), (0.99, "p99"))
                ),
            )
        )
        .with_panel(
            graph(
                "Stock left",
                "Units left in the cache, per sale.",
                "none",
                query(f"max by (sale_id) (flashsale_sale_stock_left{{{SALE}}})", "sale {{sale_id}}"),
            )
        )
        .with_row(dash.Row("Orders"))
        .with_panel(
            graph(
                "Hand-off and queue depth",
                "Accepted orders in each sale's Redis hand-off, and messages in the RabbitMQ queues "
                "(a message of the order queue holds up to 100 orders).",
                "short",
                query(f"max by (sale_id) (flashsale_handoff_orders{{{SALE}}})", "hand-off, sale {{sale_id}}"),
                query(f"max by (queue) (sum without (state) (flashsale_queue_messages{{{NS}}}))", "queue {{queue}}"),
            )
        )
        .with_panel(
            graph(
                "Orders created, paid and cancelled",
                "Per second: rows written, payments that succeeded, cancellations by reason.",
                "ops",
                query(f"sum(rate(flashsale_orders_created_total{{{NS}}}[{RATE}]))", "created"),
                query(f'sum(rate(flashsale_payments_total{{{NS}, outcome="paid"}}[{RATE}]))', "paid"),
                query(
                    f"sum by (reason) (rate(flashsale_orders_cancelled_total{{{NS}}}[{RATE}]))",
                    "cancelled ({{reason}})",
                ),
            )
        )
        .with_panel(
            graph(
                "Order pipeline lag",
                "From the 202 to the order's row in the database (p99).",
                "s",
                query(quantile(0.99, "flashsale_order_pipeline_lag_seconds_bucket", NS), "p99 lag"),
            )
        )
        .with_panel(
            graph(
                "Consumer replicas",
                "Order writers connected to the order queue, and the replicas the operator asks for.",
                "short",
                query(f'max(flashsale_queue_consumers{{{NS}, queue="orders"}})', "consuming the order queue"),
                query(f"sum(flashsale_operator_desired_replicas{{{NS}}})", "desired (operator)"),
            )
        )
        .with_panel(
            graph(
                "Timeout lag",
                "How late unpaid orders are cancelled after expires_at (p99), and how overdue the oldest "
                "unpaid order is now. The contract's bound is 2 s.",
                "s",
                query(quantile(0.99, "flashsale_timeout_lag_seconds_bucket", NS), "p99 lag"),
                query(f"max(flashsale_timeout_overdue_seconds{{{NS}}})", "oldest overdue"),
            )
        )
        .with_panel(
            graph(
                "Invariants failing",
                "Invariants the periodic audit (every 30 s) found failing, per sale. While orders flow some "
                "read failing by design (pipeline_drained, accepted_orders_written); the alert waits for a drain.",
                "short",
                query(f"count by (sale_id) (flashsale_invariant_ok{{{SALE}}} == 0)", "sale {{sale_id}}"),
            )
        )
    )
