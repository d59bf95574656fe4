"""The chart's monitoring templates, rendered by the real helm: off by default; when on, ServiceMonitors
that find every component's metrics port, the PrometheusRule carrying exactly the generated rules, and the
dashboards as ConfigMaps with the Grafana sidecar's label."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from monitoring.generate import DASHBOARDS, RULES
from tests.monitoring.chart import monitoring_objects, real_chart, render
from tests.support import ROOT

ALL_ON = (
    "monitoring.serviceMonitor.enabled=true",
    "monitoring.prometheusRule.enabled=true",
    "monitoring.dashboards.enabled=true",
)
COMPONENTS = {"api": "http", "orders": "metrics", "relay": "metrics", "timeouts": "metrics", "operator": "metrics"}


def test_nothing_is_rendered_by_default(tmp_path: Path) -> None:
    assert monitoring_objects(render(tmp_path)) == []


def test_service_monitors_scrape_every_component(tmp_path: Path) -> None:
    objects = render(
        tmp_path, *ALL_ON, "monitoring.serviceMonitor.interval=10s", "monitoring.serviceMonitor.labels.release=kps"
    )
    monitors = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceMonitor"}
    assert set(monitors) == {f"rel-flashsale-{c}" for c in COMPONENTS}
    for component, port in COMPONENTS.items():
        monitor = monitors[f"rel-flashsale-{component}"]
        assert monitor["metadata"]["labels"]["release"] == "kps"
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == component
        assert selector["app.kubernetes.io/instance"] == "rel"
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == port and endpoint["path"] == "/metrics" and endpoint["interval"] == "10s"
        assert endpoint["honorLabels"] is (component == "operator")
        assert endpoint["relabelings"] == [{"action": "replace", "targetLabel": "component", "replacement": component}]
        if real_chart():  # the chart's own Services: each monitor finds one, with the port it names
            services = [
                o
                for o in objects
                if o["kind"] == "Service" and selector.items() <= o["metadata"].get("labels", {}).items()
            ]
            assert len(services) == 1, (component, [s["metadata"]["name"] for s in services])
            assert port in {p["name"] for p in services[0]["spec"]["ports"]}


def test_the_operator_monitor_goes_with_the_operator(tmp_path: Path) -> None:
    objects = render(tmp_path, *ALL_ON, "operator.enabled=false")
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceMonitor"}
    assert "rel-flashsale-operator" not in names and "rel-flashsale-api" in names


def test_the_prometheus_rule_carries_the_generated_rules(tmp_path: Path) -> None:
    objects = render(tmp_path, *ALL_ON, "monitoring.prometheusRule.labels.release=kps")
    (rule,) = [o for o in objects if o["kind"] == "PrometheusRule"]
    assert rule["metadata"]["name"] == "rel-flashsale"
    assert rule["metadata"]["labels"]["release"] == "kps"
    assert rule["spec"] == yaml.safe_load((ROOT / RULES).read_text())
    urls = [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert urls and all(u.startswith("README.md#flashsale") for u in urls)


def test_dashboards_are_config_maps_for_the_grafana_sidecar(tmp_path: Path) -> None:
    objects = render(tmp_path, *ALL_ON, "monitoring.dashboards.namespace=grafana")
    maps = {
        o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap" and "dashboard" in o["metadata"]["name"]
    }
    assert set(maps) == {"rel-flashsale-sale-dashboard", "rel-flashsale-operations-dashboard"}
    for path in DASHBOARDS:
        name = Path(path).name
        (cm,) = [m for m in maps.values() if name in m["data"]]
        assert cm["metadata"]["namespace"] == "grafana"
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(cm["data"][name]) == json.loads((ROOT / path).read_text())
    default_ns = render(tmp_path, *ALL_ON)
    assert {
        o["metadata"]["namespace"]
        for o in default_ns
        if o["kind"] == "ConfigMap" and "dashboard" in o["metadata"]["name"]
    } == {"shop"}
