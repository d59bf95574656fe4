"""A FlashSale run by `flashsale operator` (a process) against the real API server, with the world's real API,
workers, Redis, RabbitMQ and MariaDB: its phases in order and on time, the cache preheated before the start
while purchases answer 409 not_started, sold out and back when unpaid orders time out, ended with its final
counts, and the operator's metrics and liveness."""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

import httpx

from tests.kubernetes.conftest import Kube
from tests.kubernetes.operator_support import (
    OperatorProcess,
    apply,
    at,
    flashsale_manifest,
    late,
    sale_keys,
    watching,
)
from tests.pipeline.harness import Db, Running, audit, wait_status, wait_until
from tests.support import World

PHASE_BOUND_SECONDS = 2.0  # the contract: phases change within 2 s of their time
COUNTS_BOUND_SECONDS = 5.0  # the contract: counts in status lag at most 5 s


def purchase(client: httpx.Client, world: World, sale_id: str, user: str, quantity: int = 1) -> httpx.Response:
    return client.post(f"/api/v1/sales/{sale_id}/purchase", json={"quantity": quantity}, headers=world.headers(user))


def test_phases_in_order_and_on_time(
    kube: Kube, flashsale_operator: OperatorProcess, sale_world: Running, operator_namespace: str
) -> None:
    world, ns, name = sale_world.world, operator_namespace, "desk-lamps"
    timeout = 4
    manifest = flashsale_manifest(
        name, starts_in=7, lasts=16, stock=6, perUserLimit=2, paymentTimeoutSeconds=timeout, preheatLeadSeconds=3
    )
    spec = manifest["spec"]
    starts, ends = at(spec["startsAt"]), at(spec["endsAt"])
    preheat = starts - spec["preheatLeadSeconds"]
    lateness: dict[str, float] = {}
    with watching(kube, ns, name) as watch, sale_world.client() as client, Db(world) as db:
        apply(kube, ns, manifest)
        sale_id = str(watch.wait(lambda o: (o.get("status") or {}).get("saleId"), 10, "the sale to be made"))
        assert watch.status()["phase"] == "Pending"
        assert not sale_keys(world, sale_id), "preheated before its time"

        lateness["Preheated"] = late(watch.wait_phase("Preheated", 15), preheat)
        meta = f"{world.namespace}:{{sale:{sale_id}}}:meta"
        assert meta in sale_keys(world, sale_id)
        early = purchase(client, world, sale_id, "early")
        assert early.status_code == 409 and early.json()["error"] == "not_started", early.text
        assert watch.status()["phase"] == "Preheated", "purchases were refused only until Active"

        lateness["Active"] = late(watch.wait_phase("Active", 10), starts)
        assert watch.wait(consumers_reported, 10, "the consumers at their minimum, in status")
        orders = {}
        for user in ("ann", "bob", "cyd"):
            reply = purchase(client, world, sale_id, user, quantity=2)
            assert reply.status_code == 202, reply.text
            orders[user] = reply.json()["order_id"]
        sold_out = time.time()
        lateness["SoldOut"] = late(watch.wait_phase("SoldOut", 5), sold_out)
        refused = purchase(client, world, sale_id, "dee")
        assert refused.status_code == 409 and refused.json()["error"] == "sold_out"

        wait_status(client, world, "ann", orders["ann"], "created")
        paid = client.post(f"/api/v1/orders/{orders['ann']}/pay", headers=world.headers("ann"))
        assert paid.status_code == 200, paid.text
        # The other two stay unpaid: they time out, their 4 units return, and the sale is Active again.
        watch.wait(lambda o: o["status"]["phase"] == "Active" and o["status"].get("stockLeft") == 4, 15, "stock back")
        returned = float(wait_until(lambda: _returned_at(db, sale_id, 2), 10, "both stock returns applied") or 0)
        lateness["Active again"] = late(watch.wait_phase("Active", 1), returned)
        counted = watch.wait(
            lambda o: o["status"].get("ordersCreated") == 3 and o["status"].get("ordersPaid") == 1,
            COUNTS_BOUND_SECONDS,
            "the counts in status",
        )
        assert counted

        lateness["Ended"] = late(watch.wait_phase("Ended", ends - time.time() + 10), ends)
        time.sleep(1.5)  # a tick or two after the end: the final counts stay
        final = watch.status()
        assert (final["stockLeft"], final["ordersCreated"], final["ordersPaid"]) == (4, 3, 1), final
        assert watch.order() == ["Pending", "Preheated", "Active", "SoldOut", "Active", "Ended"]
        ended = purchase(client, world, sale_id, "late")
        assert ended.status_code == 409 and ended.json()["error"] == "ended"

    print(f"\nphase lateness (s): {lateness}")
    for phase, seconds in lateness.items():
        # Never before its time (a few ms of clock and event-time skew aside), never more than the contract's 2 s.
        assert -0.5 <= seconds <= PHASE_BOUND_SECONDS, (phase, lateness)
    audit(world, sale_id)


def consumers_reported(obj: dict[str, Any]) -> bool:
    """The scaler's answer is in status: the Deployment at minReplicas or more, or handed to KEDA's ScaledObject
    (when another test left KEDA's CRDs on the shared API server; KEDA itself does not run here)."""
    status = obj.get("status") or {}
    scaled = next((c for c in status.get("conditions", []) if c["type"] == "ConsumersScaled"), None)
    if scaled is None or scaled["status"] != "True" or "consumerReplicas" not in status:
        return False
    return scaled["reason"] == "KedaScaledObject" or status["consumerReplicas"] >= 1


def _returned_at(db: Db, sale_id: str, count: int) -> float | None:
    """When the last of `count` stock returns of the sale reached the cache (epoch seconds)."""
    rows = db.rows("SELECT applied_at FROM stock_returns WHERE sale_id = %s AND applied_at IS NOT NULL", int(sale_id))
    if len(rows) < count:
        return None
    return max(r[0] for r in rows).replace(tzinfo=UTC).timestamp()


def test_metrics_and_liveness(
    kube: Kube, flashsale_operator: OperatorProcess, sale_world: Running, operator_namespace: str
) -> None:
    name = "metered"
    with watching(kube, operator_namespace, name) as watch:
        apply(kube, operator_namespace, flashsale_manifest(name, starts_in=-5, lasts=600))
        watch.wait_phase("Active", 15)

        def exported(text: str) -> dict[str, float]:
            found: dict[str, float] = {}
            for line in text.splitlines():
                if line.startswith("flashsale_operator_") and f'name="{name}"' in line:
                    key, value = line.rsplit(" ", 1)
                    found[key] = float(value)
            return found

        active = f'flashsale_operator_sale_phase{{name="{name}",namespace="{operator_namespace}",phase="Active"}}'
        wait_until(lambda: exported(flashsale_operator.metrics()).get(active) == 1.0, 10, "the phase metric")
        series = exported(flashsale_operator.metrics())
        phases = {k: v for k, v in series.items() if k.startswith("flashsale_operator_sale_phase")}
        assert sum(phases.values()) == 1.0 and len(phases) == 6, phases
        desired = f'flashsale_operator_desired_replicas{{name="{name}",namespace="{operator_namespace}"}}'
        wait_until(lambda: desired in exported(flashsale_operator.metrics()), 10, "desired replicas")
        page = flashsale_operator.metrics()
        assert 'flashsale_operator_reconciles_total{result="ok"}' in page
        assert "process_cpu_seconds_total" in page and "flashsale_pool_connections" in page  # for the dashboards
    health = httpx.get(f"http://127.0.0.1:{flashsale_operator.health_port}/healthz", timeout=5)
    assert health.status_code == 200
