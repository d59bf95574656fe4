"""Render the chart's monitoring templates with the real helm. The chart itself (Chart.yaml, values.yaml and
_helpers.tpl) belongs to the chart task; until it is in this branch, a stand-in with the agreed names and
values keys (the lead's INTERFACES) wraps the monitoring templates and files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT

CHART = ROOT / "charts" / "flashsale"

STANDIN_CHART = """apiVersion: v2
name: flashsale
version: 0.1.0
appVersion: "0.1.0"
"""
STANDIN_VALUES = """operator:
  enabled: true
monitoring:
  serviceMonitor: {enabled: false, interval: 15s, labels: {}}
  prometheusRule: {enabled: false, labels: {}}
  dashboards: {enabled: false, labels: {grafana_dashboard: "1"}, namespace: ""}
"""
STANDIN_HELPERS = """{{- define "flashsale.fullname" -}}
{{- printf "%s-flashsale" .Release.Name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- define "flashsale.labels" -}}
app.kubernetes.io/name: flashsale
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
{{- define "flashsale.selectorLabels" -}}
app.kubernetes.io/name: flashsale
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
"""


def real_chart() -> bool:
    return (CHART / "Chart.yaml").exists() and (CHART / "templates" / "_helpers.tpl").exists()


def helm() -> str:
    found = subprocess.run(["bash", str(ROOT / "scripts" / "chart-tools")], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return str(Path(found.stdout.strip()) / "helm")


def chart_dir(tmp: Path) -> Path:
    """The chart to render: the real one, or the stand-in around this branch's monitoring parts."""
    if real_chart():
        return CHART
    target = tmp / "flashsale"
    if target.exists():
        return target
    (target / "templates").mkdir(parents=True)
    (target / "Chart.yaml").write_text(STANDIN_CHART)
    (target / "values.yaml").write_text(STANDIN_VALUES)
    (target / "templates" / "_helpers.tpl").write_text(STANDIN_HELPERS)
    shutil.copytree(CHART / "templates" / "monitoring", target / "templates" / "monitoring")
    shutil.copytree(CHART / "files", target / "files")
    return target


def render(tmp: Path, *sets: str, namespace: str = "shop") -> list[dict[str, Any]]:
    """`helm template` with these `--set`s; the rendered objects."""
    args = [helm(), "template", "rel", str(chart_dir(tmp)), "--namespace", namespace]
    for value in sets:
        args += ["--set", value]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def monitoring_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kinds = {"ServiceMonitor", "PrometheusRule"}
    return [
        o
        for o in objects
        if o["kind"] in kinds or (o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-dashboard"))
    ]
