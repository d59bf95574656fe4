"""skaffold.yaml is valid against skaffold's published schema of the version it declares (vendored: no skaffold
binary runs here), and what it names exists: the chart, its values, the manifests, the build script and the
files the image is built from (the Dockerfile among them)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import jsonschema
import yaml

from tests.chart.conftest import ROOT

SCHEMAS = ROOT / "k8s" / "vendor" / "skaffold"


def _configs() -> list[dict[str, Any]]:
    configs = [doc for doc in yaml.safe_load_all((ROOT / "skaffold.yaml").read_text()) if doc]
    assert configs, "skaffold.yaml is empty"
    return configs


def test_every_config_is_valid_against_the_published_schema() -> None:
    for config in _configs():
        version = config["apiVersion"].removeprefix("skaffold/")
        path = SCHEMAS / f"{version}.json"
        assert path.exists(), f"{config['apiVersion']}: vendor its schema into {SCHEMAS.relative_to(ROOT)}"
        validator = jsonschema.Draft7Validator(json.loads(path.read_text()))
        error = jsonschema.exceptions.best_match(validator.iter_errors(config))
        assert error is None, f"{config['metadata']['name']}: {error.json_path}: {error.message[:500]}"


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    """The vendored schema really is strict: the check above can fail."""
    config = _configs()[-1]
    config["deploy"]["helm"]["releases"][0]["chartPth"] = "charts/flashsale"
    version = config["apiVersion"].removeprefix("skaffold/")
    validator = jsonschema.Draft7Validator(json.loads((SCHEMAS / f"{version}.json").read_text()))
    assert not validator.is_valid(config)


def test_what_it_names_exists() -> None:
    configs = {c["metadata"]["name"]: c for c in _configs()}
    for config in configs.values():
        for required in config.get("requires", []):
            assert set(required["configs"]) <= set(configs), required
        for pattern in config.get("manifests", {}).get("rawYaml", []):
            assert list(ROOT.glob(pattern)), pattern
        for artifact in config.get("build", {}).get("artifacts", []):
            context = ROOT / artifact.get("context", ".")
            # The custom build runs a script of the project and watches the files the image is made of.
            script = artifact["custom"]["buildCommand"].split()[-1]
            assert (context / script).is_file(), script
            for path in artifact["custom"]["dependencies"]["paths"]:
                assert (context / path).exists(), path
        for release in config.get("deploy", {}).get("helm", {}).get("releases", []):
            assert (ROOT / release["chartPath"] / "Chart.yaml").is_file(), release
            for values in release.get("valuesFiles", []):
                assert (ROOT / values).is_file(), values


def test_the_build_script_is_valid_shell() -> None:
    """It cannot run here (no Docker daemon to load into, no registry); bash parses it."""
    done = subprocess.run(["bash", "-n", str(ROOT / "scripts" / "skaffold-build")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
