"""The operations dashboard: the processes (up, CPU, memory, restarts), their connection pools, the errors
(5xx, warnings and errors logged, dead letters) and the operator's reconcile loop. CPU, memory and restarts
come from the kubelet (cAdvisor) and kube-state-metrics, which every Kubernetes Prometheus set-up scrapes."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from monitoring.panels import NS, RATE, board, datasource_variable, graph, namespace_variable, query

CONTAINERS = f'{NS}, container=~"api|orders|relay|timeouts|operator"'


def build() -> dash.Dashboard:
    return (
        board("flashsale-operations", "flashsale / operations", "flashsale's processes, pools, errors and operator.")
        .with_variable(datasource_variable())
        .with_variable(namespace_variable('up{component=~".+"}'))
        .with_row(dash.Row("Processes"))
        .with_panel(
            graph(
                "Targets up",
                "Scraped processes that answer, by component.",
                "short",
                query(f'sum by (component) (up{{{NS}, component=~".+"}})', "{{component}}"),
                width=8,
            )
        )
        .with_panel(
            graph(
                "CPU",
                "Cores used, per container.",
                "short",
                query(
                    f"sum by (container, pod) (rate(container_cpu_usage_seconds_total{{{CONTAINERS}}}[{RATE}]))",
                    "{{pod}}",
                ),
                width=8,
            )
        )
        .with_panel(
            graph(
                "Memory",
                "Working set, per container.",
                "bytes",
                query(f"sum by (container, pod) (container_memory_working_set_bytes{{{CONTAINERS}}})", "{{pod}}"),
                width=8,
            )
        )
        .with_panel(
            graph(
                "Restarts",
                "Container restarts over the last hour.",
                "short",
                query(f"sum by (container) (increase(kube_pod_container_status_restarts_total{{{CONTAINERS}}}[1h]))"),
                width=8,
            )
        )
        .with_panel(
            graph(
                "Requests in flight",
                "HTTP requests the API processes are answering now, per pod.",
                "short",
                query(f"sum by (pod) (flashsale_http_requests_in_flight{{{NS}}})", "{{pod}}"),
                width=8,
            )
        )
        .with_panel(
            graph(
                "Requests by route",
                "HTTP requests per second, by route.",
                "reqps",
                query(f"sum by (route) (rate(flashsale_http_requests_total{{{NS}}}[{RATE}]))", "{{route}}"),
                width=8,
            )
        )
        .with_row(dash.Row("Pools"))
        .with_panel(
            graph(
                "Connections in use",
                "Share of each pool's connections in use, per component (1 = a process waits for a connection).",
                "percentunit",
                query(
                    f'sum by (component, pool) (flashsale_pool_connections{{{NS}, state="in_use"}})'
                    f" / sum by (component, pool) (flashsale_pool_max_connections{{{NS}}})",
                    "{{component}} {{pool}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Connections open",
                "Connections each component holds, by pool and state.",
                "short",
                query(
                    f"sum by (component, pool, state) (flashsale_pool_connections{{{NS}}})",
                    "{{component}} {{pool}} {{state}}",
                ),
            )
        )
        .with_row(dash.Row("Errors"))
        .with_panel(
            graph(
                "5xx by route",
                "Failed HTTP requests per second, by route and status.",
                "reqps",
                query(
                    f'sum by (route, code) (rate(flashsale_http_requests_total{{{NS}, code=~"5.."}}[{RATE}]))',
                    "{{route}} {{code}}",
                ),
                width=8,
            )
        )
        .with_panel(
            graph(
                "Warnings and errors logged",
                "Log lines at warning and above per second, by component, level and logger.",
                "short",
                query(
                    f"sum by (component, level, logger) (rate(flashsale_log_messages_total{{{NS}}}[{RATE}]))",
                    "{{component}} {{level}} {{logger}}",
                ),
                width=8,
            )
        )
        .with_panel(
            graph(
                "Dead letters",
                "Messages the workers dead-lettered per second, by reason, and messages waiting in the DLQ.",
                "short",
                query(f"sum by (reason) (rate(flashsale_dead_lettered_total{{{NS}}}[{RATE}]))", "{{reason}}"),
                query(f'max(sum without (state) (flashsale_queue_messages{{{NS}, queue="orders_dlq"}}))', "in DLQ"),
                width=8,
            )
        )
        .with_row(dash.Row("Reconcile loop"))
        .with_panel(
            graph(
                "Reconciles",
                "Operator reconciles per second, by result.",
                "ops",
                query(f"sum by (result) (rate(flashsale_operator_reconciles_total{{{NS}}}[{RATE}]))", "{{result}}"),
                width=8,
            )
        )
        .with_panel(
            graph(
                "Sales by phase",
                "FlashSale resources in each phase.",
                "short",
                query(f"sum by (phase) (flashsale_operator_sale_phase{{{NS}}})", "{{phase}}"),
                width=8,
            )
        )
        .with_panel(
            graph(
                "Desired consumer replicas",
                "Order writers the operator asks for, per FlashSale.",
                "short",
                query(f"max by (name) (flashsale_operator_desired_replicas{{{NS}}})", "{{name}}"),
                width=8,
            )
        )
    )
