"""The chart's README lists every parameter of values.yaml, and nothing that is not one."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.chart.conftest import CHART, DEFAULT_VALUES

# Kubernetes structures passed through whole: one row each, not one per field.
WHOLE = {"resources", "annotations", "labels", "podSecurityContext", "securityContext", "affinity", "nodeSelector",
         "tolerations", "hosts", "tls", "pullSecrets", "extraConfig", "apiFrom", "metricsFrom", "egress",
         "podAnnotations"}  # fmt: skip


def parameters(node: Any, path: str = "") -> set[str]:
    if isinstance(node, dict) and node and path.rsplit(".", 1)[-1] not in WHOLE:
        return set().union(*(parameters(value, f"{path}.{key}".lstrip(".")) for key, value in node.items()))
    return {path}


def test_readme_table_matches_values() -> None:
    documented = set(re.findall(r"^\| `([\w.]+)` \|", (CHART / "README.md").read_text(), re.M))
    values = parameters(yaml.safe_load(DEFAULT_VALUES.read_text()))
    assert values - documented == set(), "parameters missing from README.md"
    assert documented - values == set(), "README.md documents parameters values.yaml does not have"
