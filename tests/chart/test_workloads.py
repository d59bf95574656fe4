"""The workloads as the chart renders them: each process's command, ports, probes and drain time; replicas left
to whoever scales; the migration as a hook before everything; and a configuration the program itself accepts,
covering every setting of the README's table."""

from __future__ import annotations

import re
from typing import Any

from app.config import Settings
from tests.chart.conftest import ROOT, Helm, by_kind, containers, pod_spec

COMPONENTS = ("api", "orders", "relay", "timeouts", "operator")
# Settings that make no sense in a cluster: development conveniences and where the image keeps its files.
NOT_FOR_A_CLUSTER = {"FLASHSALE_DEV", "FLASHSALE_STATE_DIR", "FLASHSALE_LUA_DIR"}


def _deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name.removeprefix("flashsale-"): d for name, d in by_kind(objects, "Deployment").items()}


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    (only,) = containers(obj)
    return only


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_each_process_runs_its_command_on_its_ports(rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployments = _deployments(rendered["default"])
    assert set(deployments) == set(COMPONENTS)
    expected = {
        "api": (["api", "--host", "0.0.0.0", "--port", "8000", "--workers", "1"], {"http": 8000}),
        "orders": (["worker", "orders"], {"metrics": 9100}),
        "relay": (["worker", "relay"], {"metrics": 9100}),
        "timeouts": (["worker", "timeouts"], {"metrics": 9100}),
        "operator": (["operator", "--namespace", "shop"], {"metrics": 9200, "liveness": 8080}),
    }
    for name, (args, ports) in expected.items():
        container = _container(deployments[name])
        assert container["args"] == args, name
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == ports, name
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == name
        assert deployments[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_probes_and_drain_times(rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployments = _deployments(rendered["default"])
    api = _container(deployments["api"])
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    # The endpoints drop the pod during preStop; then uvicorn finishes its requests within 20 s.
    pre_stop = int(api["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod_spec(deployments["api"])["terminationGracePeriodSeconds"] >= pre_stop + 20 + 5
    for name in ("orders", "relay", "timeouts"):
        assert pod_spec(deployments[name])["terminationGracePeriodSeconds"] >= 20 + 5, name  # workers stop in 20 s
        assert _container(deployments[name])["livenessProbe"]["httpGet"]["port"] == "metrics"
    assert _container(deployments["operator"])["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "liveness"}


def test_replicas_belong_to_whoever_scales(helm: Helm, rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployments = _deployments(rendered["default"])
    assert "replicas" not in deployments["orders"]["spec"]  # the operator or KEDA sets them; upgrades keep them
    assert deployments["api"]["spec"]["replicas"] == 2
    operator = deployments["operator"]["spec"]
    assert operator["replicas"] == 1 and operator["strategy"] == {"type": "Recreate"}
    for objects in (rendered["production"], helm.template(sets=["autoscaling.enabled=true"])):
        assert "replicas" not in _deployments(objects)["api"]["spec"]  # KEDA or the HPA owns them


def test_the_api_versions_follow_the_cluster(helm: Helm) -> None:
    """policy/v1 and autoscaling/v2 where the cluster serves them; 1.20's v1beta1 and v2beta2 otherwise. helm
    template knows every current API, so the old ones are asked for by a cluster that lacks the new (the install
    test does it on a real 1.20 server); here: the new ones by default."""
    objects = helm.template(sets=["autoscaling.enabled=true"])
    versions = {o["kind"]: o["apiVersion"] for o in objects}
    assert versions["PodDisruptionBudget"] == "policy/v1"
    assert versions["HorizontalPodAutoscaler"] == "autoscaling/v2"


def test_migration_is_a_hook_before_everything(helm: Helm, rendered: dict[str, list[dict[str, Any]]]) -> None:
    jobs = by_kind(rendered["default"], "Job")
    job = jobs["flashsale-migrate"]
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = _container(job)
    assert container["args"] == ["migrate"]
    # Its database URL comes from a hook Secret made before it (the release's own Secret does not exist yet).
    ref = _env(container)["FLASHSALE_MYSQL_URL"]["secretKeyRef"]
    hook_secret = by_kind(rendered["default"], "Secret")[ref["name"]]
    hook = hook_secret["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == annotations["helm.sh/hook"]
    assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    assert "envFrom" not in container  # the ConfigMap does not exist before install either
    # With an existing Secret, the migration reads it directly.
    job = by_kind(helm.template(sets=["secrets.existingSecret=mine"]), "Job")["flashsale-migrate"]
    assert _env(_container(job))["FLASHSALE_MYSQL_URL"]["secretKeyRef"] == {"name": "mine", "key": "mysql-url"}


def test_each_process_gets_only_the_secrets_it_uses(rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployments = _deployments(rendered["default"])
    for name, deployment in deployments.items():
        env = _env(_container(deployment))
        assert ("FLASHSALE_JWT_SECRET" in env) is (name == "api"), name  # only the API signs and checks tokens
        for var in ("FLASHSALE_REDIS_URL", "FLASHSALE_AMQP_URL", "FLASHSALE_RABBITMQ_API_URL", "FLASHSALE_MYSQL_URL"):
            assert env[var]["secretKeyRef"]["name"] == "flashsale-secrets", (name, var)


def _readme_settings() -> set[str]:
    text = (ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `(FLASHSALE_[A-Z0-9_]+)` \|", text, re.M))


def test_the_configuration_covers_the_readme_table_and_the_program_accepts_it(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for case in ("default", "production"):
        objects = rendered[case]
        config = by_kind(objects, "ConfigMap")["flashsale-config"]["data"]
        reachable = set(config)
        for deployment in _deployments(objects).values():
            reachable |= set(_env(_container(deployment)))
        missing = _readme_settings() - NOT_FOR_A_CLUSTER - reachable
        assert not missing, f"{case}: README settings the chart cannot set: {sorted(missing)}"
        # The program's own parser takes every value (types and ranges), and they mean what the values say.
        settings = Settings.from_env(dict(config), require_secret=False)
        assert settings.namespace == "fs"
        assert settings.worker_metrics_port == 9100
        assert settings.rate_limit_address == 2000
        assert settings.token_ttl_seconds == 3600


def test_services_reach_their_pods(rendered: dict[str, list[dict[str, Any]]]) -> None:
    deployments = by_kind(rendered["default"], "Deployment")
    for name, service in by_kind(rendered["default"], "Service").items():
        selector = service["spec"]["selector"]
        targets = [
            d for d in deployments.values() if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, name
        ports = {p["name"] for c in containers(targets[0]) for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports, name


def test_the_webhook_is_served_where_its_service_points(helm: Helm) -> None:
    objects = helm.template(sets=["operator.webhook.enabled=true"])
    operator = _container(_deployments(objects)["operator"])
    assert operator["args"] == ["operator", "--namespace", "shop", "--webhook", "0.0.0.0:9443"]
    service = by_kind(objects, "Service")["flashsale-operator-webhook"]
    assert _env(operator)["FLASHSALE_OPERATOR_WEBHOOK_HOST"] == "flashsale-operator-webhook.shop.svc"
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 9443, "targetPort": "webhook", "protocol": "TCP"}]
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in operator["ports"]
