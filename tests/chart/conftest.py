"""The chart checks' tools: the real helm (scripts/chart-tools installs it, cached) and the chart rendered by it.
A missing tool fails the tests; nothing here is mocked."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

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
def helm() -> Helm:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "chart-tools")], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/chart-tools failed:\n{done.stderr[-3000:]}")
    return Helm(binary=str(Path(done.stdout.strip()) / "helm"))


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
