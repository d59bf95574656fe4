"""Changes to a live FlashSale through its spec, with `flashsale operator` running as a process: pause and
resume within a second, a stock increase added once even when the operator restarts right after, a decrease
below what is sold refused with a condition and nothing changed, and a spec that cannot run reported `Failed`."""

from __future__ import annotations

import signal
import time

import httpx

from tests.kubernetes.conftest import Kube
from tests.kubernetes.operator_support import OperatorProcess, apply, flashsale_manifest, patch_spec, watching
from tests.pipeline.harness import Db, Running, audit, wait_until
from tests.support import World

PAUSE_BOUND_SECONDS = 1.0  # the contract: pause and resume take effect within a second


def attempt(client: httpx.Client, world: World, sale_id: str, user: str) -> tuple[int, str]:
    reply = client.post(f"/api/v1/sales/{sale_id}/purchase", headers=world.headers(user))
    return reply.status_code, reply.json().get("error", "")


def _live_sale(kube: Kube, ns: str, name: str, **spec: object) -> str:
    apply(kube, ns, flashsale_manifest(name, starts_in=-5, lasts=600, **spec))
    with watching(kube, ns, name) as watch:
        watch.wait_phase("Active", 15)
        return str(watch.status()["saleId"])


def test_pause_and_resume_within_a_second(
    kube: Kube, flashsale_operator: OperatorProcess, sale_world: Running, operator_namespace: str
) -> None:
    world, ns, name = sale_world.world, operator_namespace, "paused-pens"
    sale_id = _live_sale(kube, ns, name, stock=50, perUserLimit=1)
    with sale_world.client() as client, watching(kube, ns, name) as watch:
        assert attempt(client, world, sale_id, "p0") == (202, "")
        patch_spec(kube, ns, name, paused=True)
        asked = time.monotonic()  # the API server has stored the change
        wait_until(lambda: attempt(client, world, sale_id, "p1") == (409, "paused"), 5, "purchases to be paused")
        took_pause = time.monotonic() - asked
        watch.wait(lambda o: _condition(o, "Paused") == "True", 5, "the Paused condition")
        assert watch.status()["phase"] == "Active"  # pausing is a condition, not a phase

        patch_spec(kube, ns, name, paused=False)
        asked = time.monotonic()
        wait_until(lambda: attempt(client, world, sale_id, "p2")[0] == 202, 5, "purchases to resume")
        took_resume = time.monotonic() - asked
        watch.wait(lambda o: _condition(o, "Paused") == "False", 5, "the Paused condition cleared")
    print(f"\npause took {took_pause:.3f} s, resume {took_resume:.3f} s (after the API server stored the change)")
    assert took_pause <= PAUSE_BOUND_SECONDS and took_resume <= PAUSE_BOUND_SECONDS
    audit(world, sale_id)


def _condition(obj: dict, kind: str) -> str | None:
    for c in (obj.get("status") or {}).get("conditions", []):
        if c["type"] == kind:
            return str(c["status"])
    return None


def test_stock_raised_then_restart_adds_it_once_and_a_cut_below_sold_is_refused(
    kube: Kube, flashsale_operator: OperatorProcess, sale_world: Running, operator_namespace: str
) -> None:
    world, ns, name = sale_world.world, operator_namespace, "raised-mugs"
    sale_id = _live_sale(kube, ns, name, stock=5, perUserLimit=1)
    with sale_world.client() as client, watching(kube, ns, name) as watch, Db(world) as db:
        for user in ("s0", "s1"):
            assert attempt(client, world, sale_id, user) == (202, "")
        watch.wait(lambda o: o["status"].get("stockLeft") == 3, 5, "two sold")

        patch_spec(kube, ns, name, stock=9)
        flashsale_operator.restart(signal.SIGKILL)  # right after the change: its handler may or may not have run
        generation = kube.get_json("-n", ns, "flashsale", name)["metadata"]["generation"]
        watch.wait(
            lambda o: o["status"].get("observedGeneration") == generation and o["status"].get("stockLeft") == 7,
            20,
            "the raise applied",
        )
        flashsale_operator.restart()  # and once more, gracefully: the resumed handler adds nothing
        time.sleep(3)  # a few ticks of the new operator
        assert db.sale_row(sale_id)[:2] == (9, 7)
        assert watch.status()["stockLeft"] == 7
        assert attempt(client, world, sale_id, "s2") == (202, "")
        watch.wait(lambda o: o["status"].get("stockLeft") == 6, 5, "a third sold")

        patch_spec(kube, ns, name, stock=2)  # three are sold
        watch.wait(lambda o: _condition(o, "SpecApplied") == "False", 10, "the refusal")
        refusal = next(c for c in watch.status()["conditions"] if c["type"] == "SpecApplied")
        assert refusal["reason"] == "StockBelowSold" and "spec.stock" in refusal["message"], refusal
        assert db.sale_row(sale_id)[:2] == (9, 6), "a refused change changed something"
        assert watch.status()["stockLeft"] == 6

        patch_spec(kube, ns, name, stock=4)  # at or above what is sold is fine again
        watch.wait(lambda o: _condition(o, "SpecApplied") == "True" and o["status"]["stockLeft"] == 1, 10, "cut")
        assert db.sale_row(sale_id)[:2] == (4, 1)
    audit(world, sale_id)


def test_a_spec_that_cannot_run_is_failed_with_a_condition(
    kube: Kube, flashsale_operator: OperatorProcess, sale_world: Running, operator_namespace: str
) -> None:
    ns, name = operator_namespace, "backwards"
    manifest = flashsale_manifest(name, starts_in=60, lasts=60)
    manifest["spec"]["endsAt"], manifest["spec"]["startsAt"] = manifest["spec"]["startsAt"], manifest["spec"]["endsAt"]
    with watching(kube, ns, name) as watch, Db(sale_world.world) as db:
        apply(kube, ns, manifest)  # no webhook serves this operator: the schema cannot refuse it
        watch.wait_phase("Failed", 10)
        failed = next(c for c in watch.status()["conditions"] if c["type"] == "SpecValid")
        assert failed["status"] == "False" and "spec.endsAt" in failed["message"], failed
        assert "saleId" not in watch.status()
        assert db.value("SELECT COUNT(*) FROM sales WHERE external_key LIKE %s", f"{ns}/{name}/%") == 0

        manifest["spec"]["startsAt"], manifest["spec"]["endsAt"] = (
            manifest["spec"]["endsAt"],
            manifest["spec"]["startsAt"],
        )
        apply(kube, ns, manifest)  # fixed: the sale is made and the phase follows the clock
        watch.wait(lambda o: o["status"]["phase"] == "Pending" and o["status"].get("saleId"), 10, "the fixed sale")
        assert _condition(watch.latest or {}, "SpecValid") == "True"
