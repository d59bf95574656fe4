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


# The objects k8s/rbac/ names by their default names (the operator's defaults) and the chart per release: the
# setting that names each one in the operator's environment.
NAMED_BY = {
    ("apps", "deployments/scale"): "FLASHSALE_CONSUMER_DEPLOYMENT",
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): "FLASHSALE_OPERATOR_WEBHOOK_NAME",
}


def reference_grants(names: dict[str, str]) -> set[Grant]:
    """k8s/rbac/'s grants, with each default name of NAMED_BY replaced by the name `names` gives its setting."""
    path = ROOT / "k8s" / "rbac" / "clusterrole.yaml"
    roles = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] in ("ClusterRole", "Role")]
    assert roles, f"no role in {path}"
    reference = set().union(*(grants(r["rules"]) for r in roles))
    return {
        (
            group,
            resource,
            names[NAMED_BY[group, resource]] if name != "*" and (group, resource) in NAMED_BY else name,
            verb,
        )
        for group, resource, name, verb in reference
    }


def operator_env(objects: list[dict[str, Any]], deployment: str) -> dict[str, str]:
    container = by_kind(objects, "Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


@pytest.mark.parametrize("cluster_wide", [False, True])
def test_chart_grants_exactly_the_operator_rbac(helm: Helm, cluster_wide: bool) -> None:
    objects = helm.template(sets=[f"operator.clusterWide={str(cluster_wide).lower()}", "operator.webhook.enabled=true"])
    roles = by_kind(objects, "ClusterRole")
    assert len(roles) == 2
    chart = set().union(*(grants(r["rules"]) for r in roles.values()))
    expected = reference_grants(operator_env(objects, "flashsale-operator"))
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
    target = operator_env(objects, "blue-flashsale-operator")["FLASHSALE_CONSUMER_DEPLOYMENT"]
    assert target in by_kind(objects, "Deployment")
    scale = {
        g for r in by_kind(objects, "ClusterRole").values() for g in grants(r["rules"]) if g[1] == "deployments/scale"
    }
    assert scale == {("apps", "deployments/scale", target, "get"), ("apps", "deployments/scale", target, "patch")}


def test_the_operator_patches_the_webhook_configuration_it_keeps(helm: Helm) -> None:
    """FLASHSALE_OPERATOR_WEBHOOK_NAME is one per release (cluster-scoped: two releases never share it) and is the
    one configuration the role lets it patch."""
    names = set()
    for release, namespace in (("blue", "shop"), ("green", "shop"), ("blue", "other")):
        objects = helm.template(
            release=release, sets=["operator.webhook.enabled=true"], extra=["--namespace", namespace]
        )
        name = operator_env(objects, f"{release}-flashsale-operator")["FLASHSALE_OPERATOR_WEBHOOK_NAME"]
        patch = {
            g
            for r in by_kind(objects, "ClusterRole").values()
            for g in grants(r["rules"])
            if g[1] == "validatingwebhookconfigurations" and g[3] == "patch"
        }
        assert patch == {("admissionregistration.k8s.io", "validatingwebhookconfigurations", name, "patch")}
        names.add(name)
    assert len(names) == 3
