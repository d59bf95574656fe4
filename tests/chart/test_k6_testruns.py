"""The k6-operator manifests under k8s/loadtests/: each TestRun valid against the k6-operator's CRD (vendored,
strict), every script of loadtests/ generated into the ConfigMaps with every lib module projected where the
scripts import it, and the kustomization really building (with the chart tools' kubectl) into valid objects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import ROOT
from tests.chart.schemas import problems

FOLDER = ROOT / "k8s" / "loadtests"
SCRIPTS = sorted(p.name for p in (ROOT / "loadtests").glob("*.js"))
LIBS = sorted(p.name for p in (ROOT / "loadtests" / "lib").glob("*.js"))
TESTRUNS = sorted(FOLDER.glob("testrun-*.yaml"))


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def test_every_script_has_a_testrun() -> None:
    assert SCRIPTS == ["journey.js", "soak.js", "spike.js"]
    assert [p.name for p in TESTRUNS] == [f"testrun-{s.removesuffix('.js')}.yaml" for s in SCRIPTS]


@pytest.mark.parametrize("path", TESTRUNS, ids=lambda p: p.name)
def test_testrun_is_valid_against_the_crd(path: Path) -> None:
    run = load(path)
    assert (run["apiVersion"], run["kind"]) == ("k6.io/v1alpha1", "TestRun")
    assert problems(run) == []


def test_the_crd_check_can_fail() -> None:
    run = load(TESTRUNS[0])
    run["spec"]["parallelism"] = "two"
    run["spec"]["runner"]["volumeMount"] = []  # a misspelt field is refused, not pruned
    found = problems(run)
    assert any("parallelism" in p for p in found) and any("volumeMount" in p for p in found), found


@pytest.mark.parametrize("path", TESTRUNS, ids=lambda p: p.name)
def test_testrun_runs_its_script_with_everything_it_imports(path: Path) -> None:
    spec = load(path)["spec"]
    script = path.stem.removeprefix("testrun-") + ".js"
    assert spec["script"] == {"localFile": f"/loadtests/{script}"}
    for pod in (spec["initializer"], spec["runner"]):  # the initializer archives the script: it needs it too
        (mount,) = pod["volumeMounts"]
        assert mount["mountPath"] == "/loadtests"
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        sources = {next(iter(s.values()))["name"]: next(iter(s.values())) for s in volume["projected"]["sources"]}
        assert set(sources) == {"flashsale-k6-scripts", "flashsale-k6-lib", "flashsale-k6-setup"}
        # Every lib module sits where the scripts' `./lib/...` imports look for it.
        assert sorted(i["path"] for i in sources["flashsale-k6-lib"]["items"]) == [f"lib/{n}" for n in LIBS]
        env = {e["name"]: e["value"] for e in pod["env"]}
        assert env["SETUP"] == "/loadtests/setup.json"
        assert env["BASE_URL"] == "http://flashsale-api"  # the chart's API Service, release "flashsale", port 80
        assert env["K6_NO_USAGE_REPORT"] == "true"


def test_kustomization_generates_every_script_and_lib() -> None:
    kustomization = load(FOLDER / "kustomization.yaml")
    maps = {g["name"]: g["files"] for g in kustomization["configMapGenerator"]}
    assert maps["flashsale-k6-scripts"] == [f"../../loadtests/{s}" for s in ("spike.js", "journey.js", "soak.js")]
    assert sorted(maps["flashsale-k6-lib"]) == [f"../../loadtests/lib/{n}" for n in LIBS]
    (secret,) = kustomization["secretGenerator"]
    assert secret["files"] == ["setup.json=../../loadtests/.setup.json"]


def test_kustomization_builds_valid_objects(tools: Path, tmp_path: Path) -> None:
    """Built for real by kubectl's kustomize, on a copy with a stand-in setup document (the real one holds tokens)."""
    shutil.copytree(ROOT / "loadtests", tmp_path / "loadtests", ignore=shutil.ignore_patterns(".setup*.json"))
    shutil.copytree(FOLDER, tmp_path / "k8s" / "loadtests")
    (tmp_path / "loadtests" / ".setup.json").write_text('{"tokens": []}')
    folder = str(tmp_path / "k8s" / "loadtests")
    built = subprocess.run(
        [str(tools / "kubectl"), "kustomize", "--load-restrictor", "LoadRestrictionsNone", folder],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(built.stdout) if o}
    assert set(objects) == {
        ("ConfigMap", "flashsale-k6-scripts"),
        ("ConfigMap", "flashsale-k6-lib"),
        ("Secret", "flashsale-k6-setup"),
    }
    for obj in objects.values():
        assert problems(obj) == []
    assert (
        objects[("ConfigMap", "flashsale-k6-scripts")]["data"]["spike.js"] == (ROOT / "loadtests/spike.js").read_text()
    )
    assert sorted(objects[("ConfigMap", "flashsale-k6-lib")]["data"]) == LIBS
    assert set(objects[("Secret", "flashsale-k6-setup")]["data"]) == {"setup.json"}
