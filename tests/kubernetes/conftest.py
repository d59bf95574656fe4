"""A real Kubernetes API server for the tests: the cluster `KUBECONFIG` names, or else the local control plane
that `scripts/kube up` builds (once, cached) and starts. Each test gets a namespace of its own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
    kube.kubectl("wait", "--for=condition=Established", "--timeout=30s", "crd/flashsales.flashsale.io")
    return "flashsales.flashsale.io"
