"""Every object the chart renders is valid: built-in kinds under `kubernetes-validate --strict` for a current
Kubernetes release, custom resources (ScaledObject, ServiceMonitor, PrometheusRule, ...) against their CRD's
schema, in every shape the values can give it. The samples and the development stores are checked the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import DEV_VALUES, PRODUCTION_VALUES, ROOT, Helm
from tests.chart.schemas import problems

CASES: dict[str, tuple[list[Path], list[str]]] = {
    "default": ([], []),
    "production": ([PRODUCTION_VALUES], []),
    "dev": ([DEV_VALUES], []),
    "hpa": ([], ["autoscaling.enabled=true"]),
    "keda": ([], ["autoscaling.enabled=true", "autoscaling.keda.enabled=true"]),
    "monitoring": (
        [],
        [
            "monitoring.serviceMonitor.enabled=true",
            "monitoring.prometheusRule.enabled=true",
            "monitoring.dashboards.enabled=true",
        ],
    ),
    "locked-down": (
        [],
        [
            "operator.clusterWide=true",
            "operator.webhook.enabled=true",
            "networkPolicy.enabled=true",
            "networkPolicy.apiFrom[0].namespaceSelector.matchLabels.role=edge",
            "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.role=monitoring",
            "networkPolicy.egress[0].to[0].ipBlock.cidr=10.0.0.0/8",
            "image.digest=sha256:" + "0" * 64,
            "secrets.existingSecret=shop-secrets",
            "api.ingress.enabled=true",
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_rendered_object_is_valid(helm: Helm, case: str) -> None:
    files, sets = CASES[case]
    objects = helm.template(*files, sets=sets)
    assert len(objects) > 15
    found = [line for obj in objects for line in problems(obj)]
    assert not found, "\n".join(found)


def test_custom_resources_are_checked_against_their_crds(helm: Helm) -> None:
    """The cases above really reach the CRD schemas: a ScaledObject with a misspelt field is refused."""
    (scaled,) = [o for o in helm.template(*CASES["keda"][0], sets=CASES["keda"][1]) if o["kind"] == "ScaledObject"]
    assert problems(scaled) == []
    scaled["spec"]["minReplicaCont"] = 1
    assert any("minReplicaCont" in line for line in problems(scaled))
    trigger = scaled["spec"]["triggers"][0]
    del scaled["spec"]["minReplicaCont"], trigger["type"]
    assert any("type" in line for line in problems(scaled))


def test_production_renders_the_autoscaler_and_the_monitoring_it_promises(helm: Helm) -> None:
    kinds = {o["kind"] for o in helm.template(PRODUCTION_VALUES)}
    assert {"ScaledObject", "NetworkPolicy", "Ingress", "PodDisruptionBudget"} <= kinds
    assert "HorizontalPodAutoscaler" not in kinds  # KEDA makes its own
    assert "Secret" not in kinds  # existingSecret: the chart generates nothing
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds


def _manifests(folder: str) -> list[dict[str, Any]]:
    files = sorted((ROOT / "k8s" / folder).glob("*.yaml"))
    assert files, f"no manifests in k8s/{folder}"
    return [doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("folder", ["samples", "dev"])
def test_plain_manifests_are_valid(folder: str) -> None:
    found = [line for obj in _manifests(folder) for line in problems(obj)]
    assert not found, "\n".join(found)


def test_every_service_monitor_finds_a_service_with_its_port(helm: Helm) -> None:
    """The monitoring templates select the chart's Services by their component labels and port names."""
    objects = helm.template(PRODUCTION_VALUES, sets=["operator.webhook.enabled=true"])
    services = [o for o in objects if o["kind"] == "Service"]
    monitors = [o for o in objects if o["kind"] == "ServiceMonitor"]
    assert {m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] for m in monitors} == {
        "api", "orders", "relay", "timeouts", "operator"
    }  # fmt: skip
    for monitor in monitors:
        wanted = monitor["spec"]["selector"]["matchLabels"].items()
        ports = {p["name"] for s in services if wanted <= s["metadata"]["labels"].items() for p in s["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in ports, f"{monitor['metadata']['name']}: no Service port {endpoint['port']}"
