"""The `helm test` script (charts/flashsale/checks/helm_test.py) against real parts: the real API's /readyz, a
real API server's discovery with a ServiceAccount's own token, and real Redis servers with and without AOF. It
runs under Python without site-packages (`-S`), as it must inside the image: the standard library only.
The pod that runs it cannot start here (no kubelet); the install test checks that pod is accepted."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chart.conftest import CHART, ROOT, apply_crds, cluster_config
from tests.kubernetes.conftest import Kube
from tests.support import World, free_port, teardown_world

SCRIPT = CHART / "checks" / "helm_test.py"
CRD = ROOT / "k8s" / "crds" / "flashsale.yaml"


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    world = World.create()
    try:
        world.cli("migrate")
        yield world.start_api()
    finally:
        teardown_world(world)


@pytest.fixture
def service_account_token(kube: Kube, namespace: str) -> str:
    """The token of a namespace's default ServiceAccount (the test pod's identity), not the admin's."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        name = kube.kubectl("get", "sa", "default", "-n", namespace, "-o", "jsonpath={.secrets[0].name}").stdout
        if name:
            token = kube.kubectl("get", "secret", name, "-n", namespace, "-o", "jsonpath={.data.token}").stdout
            return base64.b64decode(token).decode()
        time.sleep(0.2)
    raise AssertionError(f"no token for the default ServiceAccount of {namespace}")


@pytest.fixture
def aof_redis() -> Iterator[str]:
    """A private Redis with the persistence production needs, and a password."""
    port, folder = free_port(), tempfile.mkdtemp(prefix="flashsale-aof-")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--appendfsync", "always",
         "--save", "", "--dir", folder, "--requirepass", "helm-test-pw"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "-a", "helm-test-pw", "--no-auth-warning", "ping"],
                              capture_output=True, text=True, check=False).stdout.strip() == "PONG":  # fmt: skip
                break
            time.sleep(0.05)
        yield f"redis://:helm-test-pw@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def wait_served(kube: Kube, served: bool) -> None:
    """Until the API server's discovery does (or no longer does) list the FlashSale group."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = kube.kubectl("get", "--raw", "/apis/flashsale.io/v1alpha1", check=False).returncode == 0
        if found is served:
            return
        time.sleep(0.2)
    raise AssertionError(f"flashsale.io/v1alpha1 {'not ' if served else ''}served after 30 s")


def _env(kube: Kube, api: str, token: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    token_file = tmp_path / "token"
    token_file.write_text(token)
    config = cluster_config(kube)
    return {
        "HELM_TEST_API_URL": api,
        "HELM_TEST_KUBE_URL": config["server"],
        "HELM_TEST_CA_FILE": config["ca"],
        "HELM_TEST_TOKEN_FILE": str(token_file),
        "HELM_TEST_APPENDONLY": "yes",
        "HELM_TEST_APPENDFSYNC": "always",
        **extra,
    }


def test_passes_on_a_ready_api_with_the_crd_and_aof_redis(
    kube: Kube, api: str, service_account_token: str, aof_redis: str, tmp_path: Path
) -> None:
    apply_crds(kube, CRD)
    wait_served(kube, True)
    done = run_script(_env(kube, api, service_account_token, tmp_path, FLASHSALE_REDIS_URL=aof_redis))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["ok   readyz", "ok   crd", "ok   redis persistence"]


def test_fails_on_each_missing_part(kube: Kube, api: str, service_account_token: str, tmp_path: Path) -> None:
    apply_crds(kube, CRD)
    wait_served(kube, True)
    # The shared development Redis runs without AOF: the stated persistence is not there.
    env = _env(kube, f"http://127.0.0.1:{free_port()}", service_account_token, tmp_path,
               FLASHSALE_REDIS_URL="redis://127.0.0.1:6379/0")  # fmt: skip
    done = run_script(env)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("FAIL readyz:") and "unreachable" in lines[0]
    assert lines[1] == "ok   crd"
    assert lines[2].startswith("FAIL redis persistence: Redis: appendonly is 'no'")
    # A wrong Redis password is an unknown persistence, said so, not a pass.
    env["FLASHSALE_REDIS_URL"] = "redis://:wrong@127.0.0.1:6379/0"
    env["HELM_TEST_API_URL"] = api
    done = run_script(env)
    assert done.returncode == 1 and "FAIL redis persistence: Redis persistence unknown" in done.stdout


def test_fails_without_the_crd(kube: Kube, api: str, service_account_token: str, tmp_path: Path) -> None:
    kube.kubectl("delete", "-f", str(CRD), "--wait=true", "--timeout=60s")
    wait_served(kube, False)
    try:
        done = run_script(_env(kube, api, service_account_token, tmp_path))
        assert done.returncode == 1
        assert done.stdout.splitlines() == [
            "ok   readyz",
            "FAIL crd: the FlashSale CRD is not installed (kubectl apply -f k8s/crds/ first)",
        ]
    finally:
        apply_crds(kube, CRD)
