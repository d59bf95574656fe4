"""Validate Kubernetes objects offline: built-in kinds with kubernetes-validate (the published OpenAPI schemas of a
current Kubernetes release, strict: unknown fields refused), custom resources against the `openAPIV3Schema` of
their CRD (the project's own, or one vendored under k8s/vendor/). A kind neither knows is an error, never a pass.

A CRD's structural schema lets unknown fields through (the API server prunes them silently), so before use the
schema is made strict the same way: an object with `properties` and no `additionalProperties` or
`x-kubernetes-preserve-unknown-fields` refuses other keys, as `kubectl --validate=strict` would."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD_FILES = [
    *sorted((ROOT / "k8s" / "crds").glob("*.yaml")),
    *sorted((ROOT / "k8s" / "vendor").glob("*/*.yaml")),
]
# The newest release whose schemas kubernetes-validate bundles.
KUBERNETES_VERSION = kubernetes_validate.latest_version()


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict schema of that served version, for every CRD the project has."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in CRD_FILES:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                    found[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = _strict(schema)
    return found


def _is_builtin(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return group == "" or "." not in group or group.endswith(".k8s.io")


def problems(obj: dict[str, Any]) -> list[str]:
    """What is wrong with one object ([] when it is valid), each line naming the object."""
    name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')} ({obj.get('apiVersion')})"
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    schema = crd_schemas().get((api_version, kind))
    if schema is not None:
        validator = jsonschema.Draft7Validator(schema)
        return [f"{name}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
    if not _is_builtin(api_version):
        return [f"{name}: no CRD of this kind under k8s/crds or k8s/vendor"]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {'.'.join(map(str, exc.path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: Kubernetes {KUBERNETES_VERSION} has no such kind"]
    return []
