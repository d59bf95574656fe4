"""The FlashSale CRD on a real API server: it installs and is Established, the samples are valid, invalid
FlashSales are refused by the server's schema validation with a message naming the field (and nothing is
stored), and unknown fields are refused by kubectl's client-side validation and pruned by the server."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kubernetes.conftest import ROOT, Kube

SAMPLES = sorted((ROOT / "k8s" / "samples").glob("*.yaml"))


def flashsale(name: str = "spring-sale", **spec_changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "commodity": {"name": "Kettle", "description": "Two litres.", "priceCents": 3900},
        "priceCents": 1900,
        "stock": 40,
        "startsAt": "2027-04-01T08:00:00Z",
        "endsAt": "2027-04-01T09:00:00+01:00",
        "perUserLimit": 2,
        "consumers": {"minReplicas": 0, "maxReplicas": 3, "messagesPerReplica": 20},
    }
    spec.update(spec_changes)
    return {"apiVersion": "flashsale.io/v1alpha1", "kind": "FlashSale", "metadata": {"name": name}, "spec": spec}


def test_the_crd_is_established_with_its_names_status_and_columns(kube: Kube, flashsale_crd: str) -> None:
    crd = kube.get_json("crd", flashsale_crd)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    assert crd["spec"]["group"] == "flashsale.io" and crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["kind"] == "FlashSale" and "fs" in crd["spec"]["names"]["shortNames"]
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if c.get("priority", 0) == 0]
    assert columns == ["Phase", "Stock Left", "Starts At", "Age"]


def test_the_short_name_and_printer_columns_work(kube: Kube, flashsale_crd: str, namespace: str) -> None:
    kube.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(flashsale()))
    table = kube.kubectl("-n", namespace, "get", "fs").stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "STOCK", "LEFT", "STARTS", "AT", "AGE"]
    assert table[1].split()[0] == "spring-sale" and "2027-04-01T08:00:00Z" in table[1]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_each_sample_is_valid_and_gets_the_defaults(
    kube: Kube, flashsale_crd: str, namespace: str, sample: Path
) -> None:
    done = kube.kubectl("-n", namespace, "apply", "--dry-run=server", "-f", str(sample), "-o", "json")
    spec = json.loads(done.stdout)["spec"]
    written = yaml.safe_load(sample.read_text())["spec"]
    assert {k: v for k, v in spec.items() if k in written} == written
    assert spec["perUserLimit"] >= 1 and spec["paymentTimeoutSeconds"] >= 1 and "preheatLeadSeconds" in spec
    assert set(spec["consumers"]) == {"minReplicas", "maxReplicas", "messagesPerReplica"}


def test_the_defaults_are_the_contracts(kube: Kube, flashsale_crd: str, namespace: str) -> None:
    body = flashsale()
    for optional in ("perUserLimit", "consumers"):
        del body["spec"][optional]
    done = kube.kubectl("-n", namespace, "apply", "--dry-run=server", "-f", "-", "-o", "json", input=json.dumps(body))
    spec = json.loads(done.stdout)["spec"]
    assert (spec["perUserLimit"], spec["paymentTimeoutSeconds"], spec["preheatLeadSeconds"], spec["paused"]) == (
        1,
        900,
        300,
        False,
    )
    assert spec["consumers"] == {"minReplicas": 1, "maxReplicas": 10, "messagesPerReplica": 100}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = body
        for key in parents:
            node = node.setdefault(key, {})
        if value is _DELETE:
            del node[leaf]
        else:
            node[leaf] = value

    return change


_DELETE = object()

INVALID = [
    ("negative stock", _set("spec.stock", -1), "spec.stock", "greater than or equal to 1"),
    ("stock over ten million", _set("spec.stock", 10_000_001), "spec.stock", "less than or equal to 10000000"),
    ("stock as a string", _set("spec.stock", "40"), "spec.stock", "must be of type integer"),
    ("fractional price", _set("spec.priceCents", 19.5), "spec.priceCents", "must be of type integer"),
    ("price over the cap", _set("spec.priceCents", 1_000_000_001), "spec.priceCents", "less than or equal to"),
    ("negative commodity price", _set("spec.commodity.priceCents", -1), "spec.commodity.priceCents", "greater"),
    ("paused as a string", _set("spec.paused", "yes"), "spec.paused", "must be of type boolean"),
    ("a time that is no time", _set("spec.startsAt", "next friday"), "spec.startsAt", "must be of type date-time"),
    ("a time without offset", _set("spec.endsAt", "2027-04-01T09:00:00"), "spec.endsAt", "of type date-time"),
    ("a time as a number", _set("spec.startsAt", 1700000000), "spec.startsAt", "must be of type date-time"),
    ("missing stock", _set("spec.stock", _DELETE), "spec.stock", "Required value"),
    ("missing startsAt", _set("spec.startsAt", _DELETE), "spec.startsAt", "Required value"),
    ("missing commodity name", _set("spec.commodity.name", _DELETE), "spec.commodity.name", "Required value"),
    ("no commodity at all", _set("spec.commodity", _DELETE), "spec.commodity", "Required value"),
    ("commodity and ref", _set("spec.commodityRef", "12"), '"spec" must validate one and only one', "oneOf"),
    ("ref not an id", _set("spec.commodityRef", "kettle"), "spec.commodityRef", "should match"),
    ("negative min replicas", _set("spec.consumers.minReplicas", -1), "spec.consumers.minReplicas", "greater"),
    ("zero max replicas", _set("spec.consumers.maxReplicas", 0), "spec.consumers.maxReplicas", "greater"),
    ("zero per replica", _set("spec.consumers.messagesPerReplica", 0), "spec.consumers.messagesPerReplica", "great"),
    ("per-user limit 0", _set("spec.perUserLimit", 0), "spec.perUserLimit", "greater than or equal to 1"),
    ("per-user limit 1001", _set("spec.perUserLimit", 1001), "spec.perUserLimit", "less than or equal to 1000"),
    ("timeout 0", _set("spec.paymentTimeoutSeconds", 0), "spec.paymentTimeoutSeconds", "greater"),
    ("timeout over a day", _set("spec.paymentTimeoutSeconds", 86_401), "spec.paymentTimeoutSeconds", "less"),
    ("negative preheat lead", _set("spec.preheatLeadSeconds", -1), "spec.preheatLeadSeconds", "greater"),
    ("a 201-character name", _set("metadata.name", "n" * 201), "metadata.name", "at most 200 chars"),
    ("a 201-character commodity", _set("spec.commodity.name", "k" * 201), "spec.commodity.name", "at most 200"),
    ("a long description", _set("spec.commodity.description", "d" * 4001), "spec.commodity.description", "4000"),
    ("an empty commodity name", _set("spec.commodity.name", ""), "spec.commodity.name", "at least 1 chars"),
    ("no spec", _set("spec", _DELETE), "spec", "Required value"),
]


@pytest.mark.parametrize(("change", "field", "says"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_invalid_flashsale_is_refused_by_the_server_naming_the_field(
    kube: Kube, flashsale_crd: str, namespace: str, change: Callable[[dict[str, Any]], None], field: str, says: str
) -> None:
    body = copy.deepcopy(flashsale())
    change(body)
    # --validate=false: kubectl sends it as it is, so the refusal is the API server's schema validation.
    done = kube.kubectl("-n", namespace, "create", "--validate=false", "-f", "-", input=json.dumps(body), check=False)
    assert done.returncode != 0, f"the server accepted it: {done.stdout}"
    assert "is invalid" in done.stderr, done.stderr
    offending = [line for line in done.stderr.splitlines() if field in line]
    assert offending and any(says in line for line in offending), done.stderr
    assert kube.get_json("-n", namespace, "flashsales")["items"] == []  # nothing was stored


def test_every_problem_of_a_flashsale_is_reported_at_once(kube: Kube, flashsale_crd: str, namespace: str) -> None:
    body = flashsale(stock=0, endsAt="later", perUserLimit="one")
    done = kube.kubectl("-n", namespace, "create", "--validate=false", "-f", "-", input=json.dumps(body), check=False)
    assert done.returncode != 0
    for field in ("spec.stock", "spec.endsAt", "spec.perUserLimit"):
        assert field in done.stderr, done.stderr


def _client_validation(kube: Kube, namespace: str, body: dict[str, Any]) -> str:
    """kubectl's own --validate, which reads the CRD's schema from the server's OpenAPI document; that document
    is published a few seconds after a CRD is created, so wait until kubectl knows the kind's fields."""
    deadline = time.monotonic() + 60
    while True:
        done = kube.kubectl(
            "-n",
            namespace,
            "apply",
            "--validate=true",
            "--dry-run=server",
            "-f",
            "-",
            input=json.dumps(body),
            check=False,
        )
        if done.returncode != 0 or time.monotonic() > deadline:
            return done.stderr
        time.sleep(1)


def test_unknown_fields_are_refused_by_kubectl_validate_and_pruned_by_the_server(
    kube: Kube, flashsale_crd: str, namespace: str
) -> None:
    body = flashsale(colour="red")
    body["spec"]["consumers"]["maxReplica"] = 7  # a typo of maxReplicas
    refused = _client_validation(kube, namespace, body)
    assert 'unknown field "colour"' in refused and 'unknown field "maxReplica"' in refused, refused
    assert kube.get_json("-n", namespace, "flashsales")["items"] == []

    kube.kubectl("-n", namespace, "apply", "--validate=false", "-f", "-", input=json.dumps(body))
    stored = kube.get_json("-n", namespace, "flashsale", "spring-sale")["spec"]
    assert "colour" not in stored
    assert stored["consumers"] == {"minReplicas": 0, "maxReplicas": 3, "messagesPerReplica": 20}
    assert stored["stock"] == 40  # the known fields are kept


def test_the_status_subresource_takes_the_operators_fields_and_validates_them(
    kube: Kube, flashsale_crd: str, namespace: str
) -> None:
    kube.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(flashsale()))
    path = f"/apis/flashsale.io/v1alpha1/namespaces/{namespace}/flashsales/spring-sale/status"
    status = {
        "phase": "Active",
        "saleId": "17",
        "stockLeft": 3,
        "ordersCreated": 37,
        "ordersPaid": 30,
        "consumerReplicas": 2,
        "observedGeneration": 1,
        "conditions": [{"type": "SpecValid", "status": "True", "reason": "Valid", "message": "ok"}],
    }
    body = flashsale()
    body["metadata"]["resourceVersion"] = kube.get_json("-n", namespace, "fs", "spring-sale")["metadata"][
        "resourceVersion"
    ]
    body["status"] = status
    kube.kubectl("replace", "--raw", path, "-f", "-", input=json.dumps(body))
    assert kube.get_json("-n", namespace, "fs", "spring-sale")["status"] == status
    bad = copy.deepcopy(kube.get_json("-n", namespace, "fs", "spring-sale"))
    bad["status"]["phase"] = "Selling"
    done = kube.kubectl("replace", "--raw", path, "-f", "-", input=json.dumps(bad), check=False)
    assert done.returncode != 0 and "Unsupported value" in done.stderr + done.stdout, done.stderr
    # A field the schema does not know is pruned from the status too; kopf's own stanza is kept.
    extra = copy.deepcopy(kube.get_json("-n", namespace, "fs", "spring-sale"))
    extra["status"] |= {"stockleft": 9, "kopf": {"progress": {"handler": {"retries": 1}}}}
    kube.kubectl("replace", "--raw", path, "-f", "-", input=json.dumps(extra))
    kept = kube.get_json("-n", namespace, "fs", "spring-sale")["status"]
    assert "stockleft" not in kept and kept["kopf"] == {"progress": {"handler": {"retries": 1}}}
