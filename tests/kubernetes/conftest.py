"""A real Kubernetes API server for the tests: the cluster `KUBECONFIG` names, or else the local control plane
that `scripts/kube up` builds (once, cached) and starts. Each test gets a namespace of its own."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Kube:
    kubeconfig: str
    kubectl_bin: str

    @property
    def env(self) -> dict[str, str]:
        return os.environ | {"KUBECONFIG": self.kubeconfig}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the test cluster; with `check`, a non-zero exit fails the test with its stderr."""
        done = subprocess.run(
            [self.kubectl_bin, *args], input=input, capture_output=True, text=True, env=self.env, timeout=60
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
        return done

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


def _local_control_plane() -> Kube:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "kube"), "up"], capture_output=True, text=True, timeout=1500)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/kube up failed:\n{done.stderr[-4000:]}")
    exports = dict(re.findall(r"^export (\w+)=(.*)$", done.stdout, re.M))
    kubeconfig = exports["KUBECONFIG"]
    bin_dir = exports["PATH"].split(":")[0]
    return Kube(kubeconfig=kubeconfig, kubectl_bin=str(Path(bin_dir) / "kubectl"))


@pytest.fixture(scope="session")
def kube() -> Kube:
    """The cluster to test against. A missing control plane fails the tests, it never skips them."""
    if os.environ.get("KUBECONFIG"):
        return Kube(kubeconfig=os.environ["KUBECONFIG"], kubectl_bin="kubectl")
    return _local_control_plane()


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting for its finalizers)."""
    name = f"fs-test-{uuid.uuid4().hex[:8]}"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def flashsale_crd(kube: Kube) -> str:
    """The FlashSale CRD of k8s/crds applied (idempotently: the API server is shared) and Established."""
    kube.kubectl("apply", "-f", str(ROOT / "k8s" / "crds" / "flashsale.yaml"))
    wait_established(kube, "flashsales.flashsale.io")
    return "flashsales.flashsale.io"


def wait_established(kube: Kube, crd: str, timeout: float = 30) -> None:
    """Until the CRD is Established. (`kubectl wait` 1.20 fails instead of waiting on a CRD so new that it has
    no conditions yet.)"""
    deadline = time.monotonic() + timeout
    while True:
        conditions = kube.get_json("crd", crd).get("status", {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"CRD {crd} not Established within {timeout}s: {conditions}")
        time.sleep(0.2)


@dataclass(frozen=True)
class Account:
    """The operator's ServiceAccount with k8s/rbac's permissions, and a kubeconfig that authenticates as it."""

    user: str  # system:serviceaccount:NAMESPACE:NAME, for `kubectl auth can-i --as`
    kubeconfig: str


def _rbac_for(namespace: str) -> list[dict[str, Any]]:
    """k8s/rbac's objects, with the ServiceAccount in `namespace` and the cluster-wide names made unique to it
    (the API server is shared: two runs never bind the same ClusterRole)."""
    docs: list[dict[str, Any]] = []
    for path in sorted((ROOT / "k8s" / "rbac").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] != "Namespace"]
    for doc in docs:
        if doc["kind"] == "ServiceAccount":
            doc["metadata"]["namespace"] = namespace
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            doc["metadata"]["name"] += f"-{namespace}"
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] += f"-{namespace}"
            for subject in doc["subjects"]:
                subject["namespace"] = namespace
    return docs


@contextlib.contextmanager
def service_account(kube: Kube, namespace: str, folder: Path) -> Iterator[Account]:
    """k8s/rbac applied for a ServiceAccount in `namespace`, and a kubeconfig (in `folder`) that is that account."""
    docs = _rbac_for(namespace)
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
    kube.kubectl("apply", "-f", "-", input=listing)
    try:
        (account,) = [d for d in docs if d["kind"] == "ServiceAccount"]
        name = account["metadata"]["name"]
        token = _service_account_token(kube, namespace, name)
        view = json.loads(kube.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": view["clusters"],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": name, "context": {"cluster": view["clusters"][0]["name"], "user": name}}],
            "current-context": name,
        }
        path = folder / "operator.kubeconfig"
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        yield Account(f"system:serviceaccount:{namespace}:{name}", str(path))
    finally:
        for doc in docs:
            if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                kube.kubectl("delete", doc["kind"].lower(), doc["metadata"]["name"], "--wait=false", check=False)


@pytest.fixture
def operator_account(kube: Kube, namespace: str, tmp_path: Path) -> Iterator[Account]:
    with service_account(kube, namespace, tmp_path) as account:
        yield account


def _service_account_token(kube: Kube, namespace: str, name: str, timeout: float = 30) -> str:
    """The token the controller-manager's token controller issues for a ServiceAccount (Kubernetes 1.20)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        secrets = kube.get_json(
            "-n", namespace, "secrets", "--field-selector", "type=kubernetes.io/service-account-token"
        )
        for secret in secrets["items"]:
            annotations = secret["metadata"].get("annotations", {})
            if annotations.get("kubernetes.io/service-account.name") == name and "token" in secret.get("data", {}):
                return base64.b64decode(secret["data"]["token"]).decode()
        time.sleep(0.2)
    raise AssertionError(f"no token was issued for ServiceAccount {namespace}/{name} within {timeout}s")


# --- the operator tests: one world, one namespace and one `flashsale operator` process for the session --------


@pytest.fixture(scope="session")
def sale_world() -> Iterator[Any]:
    """An isolated world (database, key prefix, queues) with a real API process and all the workers."""
    from tests.pipeline.harness import running_world

    with running_world(("all",)) as run:
        yield run


@pytest.fixture(scope="session")
def operator_namespace(kube: Kube) -> Iterator[str]:
    """The namespace the session's operator serves, with a stand-in consumer Deployment to scale."""
    from tests.kubernetes.operator_support import consumer_deployment

    name = f"fs-op-{uuid.uuid4().hex[:8]}"
    kube.kubectl("create", "namespace", name)
    consumer_deployment(kube, name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def flashsale_operator(
    sale_world: Any, kube: Kube, flashsale_crd: str, operator_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """`flashsale operator --namespace NS` as a process, authenticated as the ServiceAccount of k8s/rbac (so the
    tests prove those permissions suffice). A test that restarts or kills it leaves it running again."""
    from tests.kubernetes.operator_support import OperatorProcess

    with service_account(kube, operator_namespace, tmp_path_factory.mktemp("operator")) as account:
        operator = OperatorProcess(sale_world.world, kube, operator_namespace, kubeconfig=account.kubeconfig)
        operator.start()
        try:
            yield operator
        finally:
            operator.stop()
            release_flashsales(kube, operator_namespace)


def release_flashsales(kube: Kube, namespace: str) -> None:
    """Drop the finalizers of the FlashSales left in a namespace (once no operator serves it, or it would put
    them back), so the namespace's deletion does not wait on them forever."""
    for item in kube.get_json("-n", namespace, "flashsales")["items"]:
        finalizers = json.dumps({"metadata": {"finalizers": None}})
        name = item["metadata"]["name"]
        kube.kubectl("-n", namespace, "patch", "flashsale", name, "--type", "merge", "-p", finalizers)
