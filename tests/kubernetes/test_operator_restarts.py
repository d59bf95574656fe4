"""The operator killed mid-sale and started again, and a FlashSale deleted while orders are open, with
`flashsale operator` as a process against the real API server and the world's real API, workers and stores."""

from __future__ import annotations

import time

from tests.kubernetes.conftest import Kube
from tests.kubernetes.operator_support import OperatorProcess, apply, flashsale_manifest, sale_keys, watching
from tests.pipeline.harness import Burst, Db, Running, audit, wait_until


def test_sigkill_mid_sale_refills_nothing_and_makes_nothing_twice(
    kube: Kube, flashsale_operator: OperatorProcess, sale_world: Running, operator_namespace: str
) -> None:
    world, ns, name = sale_world.world, operator_namespace, "killed-kites"
    apply(kube, ns, flashsale_manifest(name, starts_in=-2, lasts=600, stock=40, perUserLimit=1))
    with watching(kube, ns, name) as watch, Db(world) as db:
        watch.wait_phase("Active", 15)
        sale_id = str(watch.status()["saleId"])
        before = Burst(sale_world, sale_id, count=15, rate=10, prefix="k1-")
        before.start()
        time.sleep(0.7)
        flashsale_operator.kill()  # mid-burst: no cleanup, no goodbye
        accepted = before.join_and_check()
        flashsale_operator.start()
        after = Burst(sale_world, sale_id, count=10, rate=20, prefix="k2-")
        after.start()
        accepted |= after.join_and_check()
        assert len(accepted) == 25

        watch.wait(
            lambda o: o["status"].get("stockLeft") == 15 and o["status"].get("ordersCreated") == 25,
            10,
            "the counts after the restart",
        )
        key = f"{ns}/{name}/%"
        assert db.value("SELECT COUNT(*) FROM sales WHERE external_key LIKE %s", key) == 1
        assert db.value("SELECT COUNT(*) FROM commodities WHERE external_key LIKE %s", key) == 1
        # Preheated once: a second load (a refill from the database) would have bumped the cache epoch.
        assert db.value("SELECT cache_epoch FROM sales WHERE id = %s", int(sale_id)) == 1
        assert db.sale_row(sale_id)[:2] == (40, 15)
        assert watch.order()[-1] == "Active"
    audit(world, sale_id)


def test_delete_ends_the_sale_waits_for_open_orders_then_cleans_up(
    kube: Kube, flashsale_operator: OperatorProcess, sale_world: Running, operator_namespace: str
) -> None:
    world, ns, name = sale_world.world, operator_namespace, "deleted-dice"
    apply(kube, ns, flashsale_manifest(name, starts_in=-2, lasts=600, stock=5, paymentTimeoutSeconds=4))
    with watching(kube, ns, name) as watch, sale_world.client() as client, Db(world) as db:
        watch.wait_phase("Active", 15)
        sale_id = str(watch.status()["saleId"])
        for user in ("d0", "d1"):
            reply = client.post(f"/api/v1/sales/{sale_id}/purchase", headers=world.headers(user))
            assert reply.status_code == 202, reply.text
        assert sale_keys(world, sale_id)

        kube.kubectl("-n", ns, "delete", "flashsale", name, "--wait=false")
        draining = watch.wait(
            lambda o: (
                o["metadata"].get("deletionTimestamp")
                and any(c["type"] == "Draining" and c["status"] == "True" for c in o["status"].get("conditions", []))
            ),
            10,
            "the finalizer to wait, saying so",
        )
        assert draining
        ended = client.post(f"/api/v1/sales/{sale_id}/purchase", headers=world.headers("d2"))
        assert ended.status_code == 409 and ended.json()["error"] == "ended", ended.text
        assert watch.status()["phase"] == "Ended"
        assert sale_keys(world, sale_id), "the cache went while orders were open"

        def gone() -> bool:
            return kube.kubectl("-n", ns, "get", "flashsale", name, check=False).returncode != 0

        wait_until(gone, 20, "the finalizer to let the FlashSale go", interval=0.2)
        assert sale_keys(world, sale_id) == []
        orders = db.order_rows(sale_id)
        assert sorted((status, reason) for status, reason, _u, _q in orders.values()) == [("cancelled", "timeout")] * 2
        assert db.sale_row(sale_id)[:2] == (5, 5)  # the sale stays, its stock all back
        assert f'name="{name}"' not in flashsale_operator.metrics()
