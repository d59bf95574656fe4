"""The dashboards and rules as committed: what the code makes, byte for byte; every panel's query parses
under promtool; every flashsale metric they read is one the processes export; the panels the issue asks for
are there."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import app.infrastructure.metrics  # noqa: F401  (registers every metric of the API and workers)
from monitoring.generate import DASHBOARDS, RULES, artefacts
from tests.monitoring.promtool import promtool
from tests.support import ROOT

# The operator's metrics (op-core's, by the agreed interface) are not in this process's registry.
OPERATOR_METRICS = {
    "flashsale_operator_reconciles_total",
    "flashsale_operator_sale_phase",
    "flashsale_operator_desired_replicas",
}
# Grafana's variables, replaced by something PromQL accepts before parsing.
VARIABLES = {"$__rate_interval": "1m", "$namespace": ".*", "$sale": ".*"}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def boards() -> dict[str, dict[str, Any]]:
    return {Path(path).name: json.loads((ROOT / path).read_text()) for path in DASHBOARDS}


def expressions() -> list[str]:
    """Every PromQL expression the dashboards run: the panels' queries and the variables' label_values()."""
    found = []
    for board in boards().values():
        found += [t["expr"] for p in panels(board) for t in p["targets"]]
        for variable in board["templating"]["list"]:
            query = variable.get("query")
            if isinstance(query, str) and query.startswith("label_values("):
                found.append(query[len("label_values(") :].rsplit(",", 1)[0])
    return found


def test_committed_files_are_what_the_code_makes() -> None:
    for relative, content in artefacts().items():
        assert (ROOT / relative).read_text() == content, f"{relative} is stale: run `python -m monitoring`"


def test_every_dashboard_query_parses_under_promtool(tmp_path: Path) -> None:
    rules = []
    for i, expr in enumerate(expressions()):
        for name, value in VARIABLES.items():
            expr = expr.replace(name, value)
        assert "$" not in expr, f"a Grafana variable left in {expr!r}"
        rules.append({"record": f"dashboard:query_{i}:check", "expr": expr})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def exported_metrics() -> set[str]:
    names = set(OPERATOR_METRICS)
    for family in REGISTRY.collect():
        names |= {sample.name for sample in family.samples} | {family.name}
    # The sampled collector only yields what it has read; every family it can yield:
    names |= set(re.findall(r'"(flashsale_[a-z_]+)"', (ROOT / "app/infrastructure/metrics.py").read_text()))
    return names


def test_every_flashsale_metric_read_exists() -> None:
    text = (ROOT / RULES).read_text() + json.dumps(list(boards().values()))
    read = set(re.findall(r"(?<![:\w])(flashsale_[a-z_]+)", text))
    exported = exported_metrics()
    missing = {
        name for name in read if name not in exported and re.sub(r"_(bucket|count|sum)$", "", name) not in exported
    }
    assert not missing, f"read but never exported: {sorted(missing)}"


def test_the_sale_dashboard_has_what_a_sale_needs() -> None:
    titles = {p["title"] for p in panels(boards()["flashsale-sale.json"])}
    assert {
        "Requests by outcome",
        "Accepted per second",
        "Stock left",
        "Purchase latency",
        "Hand-off and queue depth",
        "Orders created, paid and cancelled",
        "Consumer replicas",
        "Timeout lag",
    } <= titles


def test_the_operations_dashboard_has_processes_pools_errors_and_the_reconcile_loop() -> None:
    rows = [p["title"] for p in boards()["flashsale-operations.json"]["panels"] if p["type"] == "row"]
    assert rows == ["Processes", "Pools", "Errors", "Reconcile loop"]


def test_panels_are_unique_and_use_the_chosen_data_source() -> None:
    for name, board in boards().items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in panels(board):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])


def test_the_readme_documents_every_metric() -> None:
    readme = (ROOT / "README.md").read_text()
    names = set(re.findall(r'"(flashsale_[a-z_]+)"', (ROOT / "app/infrastructure/metrics.py").read_text()))
    missing = sorted(n for n in names | OPERATOR_METRICS if f"| `{n}` |" not in readme)
    assert not missing, f"metrics missing from the README's table: {missing}"
