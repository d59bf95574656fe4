"""Security by default, on the rendered objects: every container (hooks and the test pod included) runs as a
numeric non-root user with a read-only root filesystem, no privilege escalation, no capabilities and seccomp
RuntimeDefault, writing to an emptyDir at /tmp only; no rendered Secret holds a value written in the chart."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.chart.conftest import CHART, Helm, by_kind, containers, pod_spec

WORKLOADS = ("Deployment", "Job", "Pod", "StatefulSet", "DaemonSet")


def _effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    own = container.get("securityContext", {})
    return own[key] if key in own else pod.get("securityContext", {}).get(key)


@pytest.mark.parametrize("case", ["default", "production"])
def test_every_container_is_locked_down(rendered: dict[str, list[dict[str, Any]]], case: str) -> None:
    workloads = [o for o in rendered[case] if o["kind"] in WORKLOADS]
    names = {o["metadata"]["name"] for o in workloads}
    assert {"flashsale-api", "flashsale-orders", "flashsale-operator", "flashsale-migrate", "flashsale-test"} <= names
    for obj in workloads:
        pod = pod_spec(obj)
        tmp_volumes = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in containers(obj):
            where = f"{obj['kind']}/{obj['metadata']['name']} container {container['name']}"
            assert _effective(pod, container, "runAsNonRoot") is True, where
            user = _effective(pod, container, "runAsUser")
            assert isinstance(user, int) and user > 0, f"{where}: runAsUser {user!r}"
            assert isinstance(_effective(pod, container, "runAsGroup"), int), where
            assert (_effective(pod, container, "seccompProfile") or {}).get("type") == "RuntimeDefault", where
            own = container.get("securityContext", {})
            assert own.get("readOnlyRootFilesystem") is True, where
            assert own.get("allowPrivilegeEscalation") is False, where
            assert own.get("privileged", False) is False, where
            assert own.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not own.get("capabilities", {}).get("add"), where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in tmp_volumes, f"{where}: /tmp is not an emptyDir"


@pytest.mark.parametrize("case", ["default", "production"])
def test_only_the_operator_and_the_test_get_a_kubernetes_token(
    rendered: dict[str, list[dict[str, Any]]], case: str
) -> None:
    for obj in (o for o in rendered[case] if o["kind"] in WORKLOADS):
        wants = obj["metadata"]["name"] in ("flashsale-operator", "flashsale-test")
        assert pod_spec(obj).get("automountServiceAccountToken") is wants, obj["metadata"]["name"]


def _secret_values(objects: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    values: dict[tuple[str, str], str] = {}
    for name, secret in by_kind(objects, "Secret").items():
        for key, encoded in (secret.get("data") or {}).items():
            values[(name, key)] = base64.b64decode(encoded).decode()
        for key, plain in (secret.get("stringData") or {}).items():
            values[(name, key)] = plain
    return values


def test_the_generated_jwt_key_is_random_and_strong(helm: Helm) -> None:
    first, second = (_secret_values(helm.template()) for _ in range(2))
    key = first[("flashsale-secrets", "jwt-secret")]
    assert len(key.encode()) >= 32  # the application's minimum
    assert key != second[("flashsale-secrets", "jwt-secret")], "the same key on two renders: a default, not generated"


def test_no_rendered_secret_holds_a_literal_of_the_chart(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Nothing secret is written in the chart: a Secret's values are generated, or URLs without credentials."""
    chart_text = "\n".join(p.read_text() for p in CHART.rglob("*") if p.is_file())
    values = _secret_values(rendered["default"])
    assert values, "the default values render no Secret"
    for (name, key), value in values.items():
        if key.endswith("-url"):
            parts = urlsplit(value)
            assert parts.password is None, f"{name}/{key} carries a password"
        else:
            assert value not in chart_text, f"{name}/{key} is written in the chart"
    assert _secret_values(rendered["production"]) == {}, "with existingSecret the chart must not make a Secret"


def _leaves(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in _leaves(value, f"{path}.{key}".lstrip("."))]
    if isinstance(node, list):
        return [leaf for i, value in enumerate(node) for leaf in _leaves(value, f"{path}[{i}]")]
    return [(path, node)]


def test_values_files_hold_no_secret() -> None:
    """No values file sets a password, token or key; no URL in them carries a password."""
    secret_like = re.compile(r"(password|passwd|token|secret|apikey|api_key|credentials?)$", re.I)
    # Names of Secrets are references to secrets, not secrets.
    references = re.compile(r"(existingSecret|secretName)$")
    for path in CHART.glob("values*.yaml"):
        for key, value in _leaves(yaml.safe_load(path.read_text())):
            last = key.rsplit(".", 1)[-1]
            if secret_like.search(last) and not references.search(last):
                assert value in (None, "", False), f"{path.name}: {key} is set"
            if isinstance(value, str) and "://" in value:
                assert urlsplit(value).password is None, f"{path.name}: {key} carries a password"


def test_production_reads_every_secret_from_the_existing_secret(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for obj in (o for o in rendered["production"] if o["kind"] in WORKLOADS):
        for container in containers(obj):
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if var["name"].endswith(("_URL", "_SECRET")) and var["name"].startswith("FLASHSALE_"):
                    assert ref and ref["name"] == "flashsale-secrets", f"{obj['metadata']['name']}: {var}"
