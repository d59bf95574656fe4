"""The operator's rights in the chart are exactly those of k8s/rbac/ (the operator's least privilege, kept by
the operator task): the union of the chart's two ClusterRoles grants the same (group, resource, name, verb)
tuples, whichever namespace mode the values pick, and the bindings name the operator's ServiceAccount."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.chart.conftest import ROOT, Helm, by_kind

Grant = tuple[str, str, str, str]


def grants(rules: list[dict[str, Any]]) -> set[Grant]:
    """Each rule expanded into (apiGroup, resource, resourceName or '*', verb) tuples."""
    return {
        (group, resource, name, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for name in rule.get("resourceNames") or ["*"]
        for verb in rule.get("verbs", [])
    }


def reference_grants() -> set[Grant]:
    path = ROOT / "k8s" / "rbac" / "clusterrole.yaml"
    roles = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] in ("ClusterRole", "Role")]
    assert roles, f"no role in {path}"
    return set().union(*(grants(r["rules"]) for r in roles))


@pytest.mark.parametrize("cluster_wide", [False, True])
def test_chart_grants_exactly_the_operator_rbac(helm: Helm, cluster_wide: bool) -> None:
    objects = helm.template(sets=[f"operator.clusterWide={str(cluster_wide).lower()}"])
    roles = by_kind(objects, "ClusterRole")
    assert len(roles) == 2
    chart = set().union(*(grants(r["rules"]) for r in roles.values()))
    expected = reference_grants()
    assert chart == expected, (
        f"only in the chart: {sorted(chart - expected)}; only in k8s/rbac: {sorted(expected - chart)}"
    )

    bindings = [*by_kind(objects, "ClusterRoleBinding").values(), *by_kind(objects, "RoleBinding").values()]
    assert {b["roleRef"]["name"] for b in bindings} == set(roles)
    for binding in bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "flashsale-operator", "namespace": "shop"}]
    namespaced = [b for b in bindings if b["kind"] == "RoleBinding"]
    if cluster_wide:
        assert not namespaced
    else:
        assert [b["metadata"]["namespace"] for b in namespaced] == ["shop"]
        # What a RoleBinding grants is namespaced only: the cluster-scoped rules must sit in the other role.
        (bound,) = namespaced
        cluster_scoped = {"namespaces", "customresourcedefinitions", "validatingwebhookconfigurations"}
        assert not {g[1] for g in grants(roles[bound["roleRef"]["name"]]["rules"])} & cluster_scoped


def test_the_operator_scales_the_order_writers_it_is_allowed_to(helm: Helm) -> None:
    """FLASHSALE_CONSUMER_DEPLOYMENT names the Deployment whose scale the role grants, for any release name."""
    objects = helm.template(release="blue")
    operator = by_kind(objects, "Deployment")["blue-flashsale-operator"]
    env = {e["name"]: e.get("value") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    target = env["FLASHSALE_CONSUMER_DEPLOYMENT"]
    assert target in by_kind(objects, "Deployment")
    scale = {
        g for r in by_kind(objects, "ClusterRole").values() for g in grants(r["rules"]) if g[1] == "deployments/scale"
    }
    assert scale == {("apps", "deployments/scale", target, "get"), ("apps", "deployments/scale", target, "patch")}
