"""Small builders shared by the dashboards: a Prometheus query, a graph, a single number, and the variables
every dashboard has (the data source and the namespace). Expressions select `namespace=~"$namespace"`."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common, prometheus, stat, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh, VariableSort

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace=~"$namespace"'
RATE = "$__rate_interval"


def quantile(q: float, buckets: str, selector: str, window: str = RATE) -> str:
    """The q-quantile of a histogram over all its series (every process and pod)."""
    return f"histogram_quantile({q}, sum by (le) (rate({buckets}{{{selector}}}[{window}])))"


def query(expr: str, legend: str = "__auto") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)


def graph(
    title: str, description: str, unit: str, *queries: prometheus.Dataquery, width: int = 12, height: int = 8
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(common.VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM))
    )
    for i, q in enumerate(queries):
        panel = panel.with_target(q.ref_id(chr(ord("A") + i)))
    return panel


def number(title: str, description: str, unit: str, expr: str, legend: str = "__auto", width: int = 6) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(4)
        .with_target(query(expr, legend).instant().ref_id("A"))
    )


def datasource_variable() -> dash.DatasourceVariable:
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus")


def namespace_variable(metric: str) -> dash.QueryVariable:
    return (
        dash.QueryVariable("namespace")
        .label("Namespace")
        .datasource(DATASOURCE)
        .query(f"label_values({metric}, namespace)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def board(uid: str, title: str, description: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["flashsale"])
        .editable()
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
    )
