"""The operator's RBAC (k8s/rbac) on a real API server: its ServiceAccount may do exactly what kopf and the scaler
need, asked of the server's authorizer as that account, and nothing next to it."""

from __future__ import annotations

import json

import pytest

from tests.kubernetes.conftest import Account, Kube

# (verb, "resource[.group][/subresource]", name, namespaced)
NEEDED = [
    # kopf on FlashSales and their status; ownerReferences that block deletion
    ("list", "flashsales.flashsale.io", "", False),
    ("watch", "flashsales.flashsale.io", "", False),
    ("patch", "flashsales.flashsale.io", "", True),
    ("patch", "flashsales.flashsale.io/status", "", True),
    ("update", "flashsales.flashsale.io/finalizers", "", True),
    # kopf: events, namespaces and CRDs (cluster-wide mode), its managed webhook configuration
    ("create", "events", "", True),
    ("list", "namespaces", "", False),
    ("watch", "namespaces", "", False),
    ("list", "customresourcedefinitions.apiextensions.k8s.io", "", False),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io", "", False),
    ("get", "customresourcedefinitions.apiextensions.k8s.io", "scaledobjects.keda.sh", False),
    ("create", "validatingwebhookconfigurations.admissionregistration.k8s.io", "", False),
    ("patch", "validatingwebhookconfigurations.admissionregistration.k8s.io", "flashsale.io", False),
    # the scaler: the consumer Deployment's scale, or KEDA's ScaledObject
    ("get", "deployments.apps/scale", "flashsale-orders", True),
    ("patch", "deployments.apps/scale", "flashsale-orders", True),
    ("get", "scaledobjects.keda.sh", "flashsale-orders", True),
    ("create", "scaledobjects.keda.sh", "", True),
    ("patch", "scaledobjects.keda.sh", "flashsale-orders", True),
    ("delete", "scaledobjects.keda.sh", "flashsale-orders", True),
]

DENIED = [
    ("get", "flashsales.flashsale.io", "", True),  # kopf lists and watches; nothing reads one by name
    ("delete", "flashsales.flashsale.io", "", True),
    ("create", "flashsales.flashsale.io", "", True),
    ("update", "flashsales.flashsale.io", "", True),
    ("update", "flashsales.flashsale.io/status", "", True),
    ("get", "secrets", "", True),
    ("list", "pods", "", True),
    ("patch", "deployments.apps", "flashsale-orders", True),  # the Deployment itself: only its scale
    ("get", "deployments.apps", "flashsale-orders", True),
    ("patch", "deployments.apps/scale", "flashsale-api", True),  # another Deployment
    ("create", "deployments.apps", "", True),
    ("delete", "namespaces", "", False),
    ("get", "customresourcedefinitions.apiextensions.k8s.io", "flashsales.flashsale.io", False),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", "", False),
    ("patch", "validatingwebhookconfigurations.admissionregistration.k8s.io", "other-webhook", False),
    ("delete", "validatingwebhookconfigurations.admissionregistration.k8s.io", "flashsale.io", False),
    ("create", "mutatingwebhookconfigurations.admissionregistration.k8s.io", "", False),
    ("list", "scaledobjects.keda.sh", "", True),
    ("create", "scaledjobs.keda.sh", "", True),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", "", False),
    ("impersonate", "serviceaccounts", "", True),
]


def can_i(kube: Kube, account: Account, namespace: str, verb: str, what: str, name: str, namespaced: bool) -> bool:
    """The API server's authorizer asked as the account (a SubjectAccessReview: exact, and independent of
    whether the resource's API is installed, unlike `kubectl auth can-i`)."""
    resource_group, _, subresource = what.partition("/")
    resource, _, group = resource_group.partition(".")
    attributes = {"verb": verb, "group": group, "resource": resource, "subresource": subresource, "name": name}
    if namespaced:
        attributes["namespace"] = namespace
    sa_namespace = account.user.split(":")[2]
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": account.user,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}", "system:authenticated"],
            "resourceAttributes": attributes,
        },
    }
    done = kube.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(review))
    return bool(json.loads(done.stdout)["status"].get("allowed"))


def test_the_operator_may_do_what_it_needs(kube: Kube, namespace: str, operator_account: Account) -> None:
    refused = [
        f"{verb} {what} {name}"
        for verb, what, name, namespaced in NEEDED
        if not can_i(kube, operator_account, namespace, verb, what, name, namespaced)
    ]
    assert refused == []


def test_the_operator_may_do_nothing_else(kube: Kube, namespace: str, operator_account: Account) -> None:
    allowed = [
        f"{verb} {what} {name}"
        for verb, what, name, namespaced in DENIED
        if can_i(kube, operator_account, namespace, verb, what, name, namespaced)
    ]
    assert allowed == []


@pytest.mark.parametrize("namespaced", [True, False], ids=["in its namespace", "in every namespace"])
def test_flashsales_are_watched_everywhere(
    kube: Kube, namespace: str, operator_account: Account, namespaced: bool
) -> None:
    # Cluster-wide mode lists FlashSales of every namespace, so the binding is a ClusterRoleBinding.
    assert can_i(kube, operator_account, "default", "watch", "flashsales.flashsale.io", "", namespaced)
