"""The validating admission webhook the operator serves (kopf's WebhookServer, a certificate made at start-up,
the ValidatingWebhookConfiguration managed by kopf): the real API server calls it and refuses a FlashSale whose
end is not after its start, with the operator's message; a valid one is admitted and run."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.kubernetes.conftest import Kube, release_flashsales
from tests.kubernetes.operator_support import OperatorProcess, flashsale_manifest, watching
from tests.pipeline.harness import Running, wait_until
from tests.support import free_port


@pytest.fixture
def webhook_operator(kube: Kube, flashsale_crd: str, sale_world: Running, namespace: str) -> Iterator[OperatorProcess]:
    """A second operator, serving the webhook on 127.0.0.1 (where the local API server can call it)."""
    operator = OperatorProcess(sale_world.world, kube, namespace, webhook=f"127.0.0.1:{free_port()}")
    configuration = operator.env["FLASHSALE_OPERATOR_WEBHOOK_NAME"]
    operator.start()
    try:
        wait_until(lambda: _webhooks(kube, configuration), 30, "kopf to register the webhook", interval=0.2)
        yield operator
    finally:
        operator.stop()
        release_flashsales(kube, namespace)
        kube.kubectl("delete", "validatingwebhookconfiguration", configuration, "--wait=false", check=False)


def _webhooks(kube: Kube, configuration: str) -> list[dict]:
    found = kube.kubectl("get", "validatingwebhookconfiguration", configuration, "-o", "json", check=False)
    return json.loads(found.stdout).get("webhooks") or [] if found.returncode == 0 else []


def test_the_webhook_refuses_an_end_before_the_start(
    kube: Kube, webhook_operator: OperatorProcess, namespace: str
) -> None:
    (hook,) = _webhooks(kube, webhook_operator.env["FLASHSALE_OPERATOR_WEBHOOK_NAME"])
    assert hook["clientConfig"]["url"].startswith("https://127.0.0.1:") and hook["clientConfig"]["caBundle"]
    assert hook["failurePolicy"] == "Ignore"  # an unreachable webhook falls back to the Failed phase

    manifest = flashsale_manifest("backwards", starts_in=120, lasts=60)
    spec = manifest["spec"]
    spec["startsAt"], spec["endsAt"] = spec["endsAt"], spec["startsAt"]
    refused = kube.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(manifest), check=False)
    assert refused.returncode != 0
    assert "admission webhook" in refused.stderr and "spec.endsAt" in refused.stderr, refused.stderr
    assert kube.kubectl("-n", namespace, "get", "flashsale", "backwards", check=False).returncode != 0

    name = "forwards"
    with watching(kube, namespace, name) as watch:
        kube.kubectl(
            "-n", namespace, "apply", "-f", "-", input=json.dumps(flashsale_manifest(name, starts_in=120, lasts=60))
        )
        watch.wait_phase("Pending", 15)
        # An update that breaks the rule is refused too, and the stored spec stays as it was.
        broken = json.dumps({"spec": {"endsAt": watch.latest["spec"]["startsAt"]}})  # type: ignore[index]
        patched = kube.kubectl(
            "-n", namespace, "patch", "flashsale", name, "--type", "merge", "-p", broken, check=False
        )
        assert patched.returncode != 0 and "spec.endsAt" in patched.stderr, patched.stderr
