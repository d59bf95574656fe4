"""The chart installed for real, with helm 3.17, into a real API server (Kubernetes 1.20 here: the oldest the
chart supports). `--no-hooks`: helm would wait for the migration Job, whose pod never runs without a kubelet; the
hooks are checked by the server instead (a server-side dry run). Then `helm upgrade` keeps the generated JWT key
and the order writers' replicas that the operator set."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.chart.conftest import CHART, PRODUCTION_VALUES, ROOT, Helm, apply_crds
from tests.kubernetes.conftest import Kube

CRD = ROOT / "k8s" / "crds" / "flashsale.yaml"
KEDA_CRDS = sorted((ROOT / "k8s" / "vendor" / "keda").glob("*.yaml"))
# prometheus-operator's current CRDs do not load on Kubernetes 1.20 (defaults it refuses): the monitoring objects
# are checked against them offline (test_objects.py), and left out of the production install here.
NO_MONITORING = [
    "monitoring.serviceMonitor.enabled=false",
    "monitoring.prometheusRule.enabled=false",
    "monitoring.dashboards.enabled=false",
]


class Release:
    def __init__(self, helm: Helm, kube: Kube, namespace: str, name: str = "flashsale") -> None:
        self.helm, self.kube, self.namespace, self.name = helm, kube, namespace, name

    def run(self, *args: str) -> str:
        return self.helm.run(*args, "--namespace", self.namespace, env=self.kube.env).stdout

    def install(self, *args: str) -> str:
        return self.run("install", self.name, str(CHART), "--no-hooks", *args)

    def upgrade(self, *args: str) -> str:
        return self.run("upgrade", self.name, str(CHART), "--no-hooks", *args)

    def manifest(self) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.run("get", "manifest", self.name)) if d]

    def hooks(self) -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.run("get", "hooks", self.name)) if d]

    def get(self, kind: str, name: str) -> Any:
        return json.loads(self.kube.kubectl("get", kind, name, "-n", self.namespace, "-o", "json").stdout)


@pytest.fixture
def release(helm: Helm, kube: Kube, namespace: str) -> Iterator[Release]:
    apply_crds(kube, CRD)
    installed = Release(helm, kube, namespace)
    yield installed
    # Uninstall removes the kube-scoped objects (ClusterRoles, bindings) the namespace's deletion would leave.
    helm.run("uninstall", installed.name, "--namespace", namespace, env=kube.env, check=False)


def _served(kube: Kube) -> set[str]:
    return set(kube.kubectl("api-versions").stdout.split())


def _assert_accepted(release: Release, objects: list[dict[str, Any]]) -> None:
    """Every object of the release exists in the API server, as the kind and version the chart wrote."""
    for obj in objects:
        group, _, version = obj["apiVersion"].rpartition("/")
        resource = f"{obj['kind'].lower()}.{version}.{group}" if group else obj["kind"].lower()
        args = ["get", resource, obj["metadata"]["name"], "-o", "name"]
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            args += ["-n", obj["metadata"].get("namespace", release.namespace)]
        assert release.kube.kubectl(*args).stdout.strip(), obj["metadata"]["name"]


def _dry_run_hooks(release: Release, hooks: list[dict[str, Any]]) -> None:
    """The server validates the hooks as it would create them (kubectl's validation refuses unknown fields)."""
    body = yaml.safe_dump_all(hooks)
    release.kube.kubectl("apply", "--dry-run=server", "--validate=true", "-n", release.namespace, "-f", "-", input=body)


def test_install_no_hooks_then_upgrade_keeps_the_generated_secret(release: Release) -> None:
    release.install("--set", "autoscaling.enabled=true")
    objects = release.manifest()
    assert {"Deployment", "Service", "ConfigMap", "Secret", "ServiceAccount", "ClusterRole", "RoleBinding",
            "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= {o["kind"] for o in objects}  # fmt: skip
    _assert_accepted(release, objects)

    # API versions from .Capabilities: what this server serves.
    versions = {o["kind"]: o["apiVersion"] for o in objects}
    served = _served(release.kube)
    assert versions["PodDisruptionBudget"] == ("policy/v1" if "policy/v1" in served else "policy/v1beta1")
    assert versions["HorizontalPodAutoscaler"] == (
        "autoscaling/v2" if "autoscaling/v2" in served else "autoscaling/v2beta2"
    )

    # The hooks the install skipped: the migration Job with its Secret, and the test pod with its script.
    hooks = release.hooks()
    assert {(h["kind"], h["metadata"]["name"]) for h in hooks} == {
        ("Job", "flashsale-migrate"), ("Secret", "flashsale-migrate"),
        ("Pod", "flashsale-test"), ("ConfigMap", "flashsale-test"),
    }  # fmt: skip
    _dry_run_hooks(release, hooks)

    # The controller-manager took the Deployments: the API server accepted them as workloads.
    api = release.get("deployment", "flashsale-api")
    assert api["metadata"]["generation"] >= 1
    key = release.get("secret", "flashsale-secrets")["data"]["jwt-secret"]
    assert len(base64.b64decode(key)) >= 32

    # The operator scales the order writers; an upgrade must keep what it set, and the generated key.
    release.kube.kubectl("scale", "deployment/flashsale-orders", "--replicas=3", "-n", release.namespace)
    release.upgrade("--set", "autoscaling.enabled=true", "--set", "config.rateLimitUser=5")
    assert release.get("secret", "flashsale-secrets")["data"]["jwt-secret"] == key
    assert release.get("configmap", "flashsale-config")["data"]["FLASHSALE_RATE_LIMIT_USER"] == "5"  # it upgraded
    assert release.get("deployment", "flashsale-orders")["spec"]["replicas"] == 3
    # A second upgrade still finds the same key (lookup reads what the first upgrade wrote).
    release.upgrade("--set", "autoscaling.enabled=true")
    assert release.get("secret", "flashsale-secrets")["data"]["jwt-secret"] == key


def test_install_production_values(release: Release, kube: Kube) -> None:
    apply_crds(kube, *KEDA_CRDS)
    # The Secret a platform engineer creates first (test values, not a default of the chart).
    kube.kubectl(
        "create", "secret", "generic", "flashsale-secrets", "-n", release.namespace,
        "--from-literal=jwt-secret=" + "k" * 48,
        "--from-literal=redis-url=redis://redis.test:6379/0",
        "--from-literal=amqp-url=amqp://app:pw@rabbitmq.test:5672/",
        "--from-literal=rabbitmq-api-url=http://app:pw@rabbitmq.test:15672/",
        "--from-literal=mysql-url=mysql://app:pw@mariadb.test:3306/flashsale",
    )  # fmt: skip
    sets = [item for s in NO_MONITORING for item in ("--set", s)]
    release.install("-f", str(PRODUCTION_VALUES), *sets)
    objects = release.manifest()
    kinds = {o["kind"] for o in objects}
    assert {"ScaledObject", "NetworkPolicy", "Ingress", "PodDisruptionBudget"} <= kinds
    assert "Secret" not in kinds
    _assert_accepted(release, objects)
    scaled = release.get("scaledobject.keda.sh", "flashsale-api")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "flashsale-api"
    assert scaled["spec"]["triggers"][0]["type"] == "prometheus"
    assert release.get("poddisruptionbudget", "flashsale-api")["spec"]["minAvailable"] == 2
    hooks = release.hooks()
    assert {(h["kind"], h["metadata"]["name"]) for h in hooks} >= {("Job", "flashsale-migrate")}
    assert ("Secret", "flashsale-migrate") not in {(h["kind"], h["metadata"]["name"]) for h in hooks}
    _dry_run_hooks(release, hooks)
