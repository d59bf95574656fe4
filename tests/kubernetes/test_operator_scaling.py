"""The real `flashsale operator` process scales the order consumers by the queue: with a consumer Deployment in
the FlashSale's namespace and no KEDA, order messages piling up in the world's order queue (no consumer runs, so
they stay) raise the Deployment's replicas and `status.consumerReplicas` to `maxReplicas`, never above; once the
queue is purged they fall back to `minReplicas`, not before the cooldown. RabbitMQ's management API refreshes
its counts every ~5 s, so each step is a bounded wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aio_pika
import pytest

from app.infrastructure.amqp import declare_topology
from app.infrastructure.keys import Names
from flashsale_operator.keda import CRD_NAME
from tests.kubernetes.conftest import ROOT, Account, Kube, release_flashsales, wait_established
from tests.kubernetes.operator_support import (
    OperatorProcess,
    apply,
    consumer_deployment,
    flashsale_manifest,
    watching,
)
from tests.pipeline.harness import publish, wait_until
from tests.support import World, world_context

VENDORED_KEDA = str(ROOT / "k8s" / "vendor" / "keda")
COOLDOWN = 4.0
MIN, MAX, PER_REPLICA = 1, 3, 10
MESSAGES = 60  # ceil(60 / 10) = 6 replicas wanted: the bound (3) must hold
STATS_WAIT = 30.0  # the management API's counts lag up to ~5 s, plus the scaler's 2 s period, on a busy machine


@pytest.fixture
def without_keda(kube: Kube) -> Iterator[None]:
    """KEDA's CRDs absent for the test (the operator would hand the consumers to a ScaledObject instead): another
    test may have left them on the shared API server; they are put back afterwards if so."""
    found = kube.kubectl("get", "crd", CRD_NAME, "--ignore-not-found", "-o", "name").stdout.strip()
    if found:
        kube.kubectl("delete", "-f", VENDORED_KEDA, "--wait=true", "--timeout=60s")
    assert not kube.kubectl("get", "crd", CRD_NAME, "--ignore-not-found", "-o", "name").stdout.strip()
    try:
        yield
    finally:
        if found:
            kube.kubectl("apply", "-f", VENDORED_KEDA)
            wait_established(kube, CRD_NAME)


@pytest.fixture
def quiet_world() -> Iterator[World]:
    """A world with its queues declared and no worker at all: what is published to its order queue stays."""
    with world_context() as world:
        asyncio.run(_topology(world, purge=False))
        yield world


async def _topology(world: World, *, purge: bool) -> None:
    connection = await aio_pika.connect(world.settings.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        await declare_topology(channel, Names(world.namespace), max_attempts=5)
        if purge:
            queue = await channel.declare_queue(Names(world.namespace).orders_queue, passive=True)
            await queue.purge()


def test_the_operator_scales_the_consumers_up_with_the_queue_and_down_after_the_cooldown(
    kube: Kube,
    flashsale_crd: str,
    namespace: str,
    operator_account: Account,
    without_keda: None,
    quiet_world: World,
) -> None:
    consumer_deployment(kube, namespace)
    operator = OperatorProcess(
        quiet_world, kube, namespace, kubeconfig=operator_account.kubeconfig, cooldown_seconds=COOLDOWN
    )
    operator.start()
    name = "scaled"
    manifest = flashsale_manifest(
        name,
        starts_in=-5,
        lasts=600,
        consumers={"minReplicas": MIN, "maxReplicas": MAX, "messagesPerReplica": PER_REPLICA},
    )

    def replicas() -> int:
        return int(kube.get_json("-n", namespace, "deployment", "flashsale-orders")["spec"].get("replicas") or 0)

    try:
        with watching(kube, namespace, name) as watch:
            apply(kube, namespace, manifest)
            watch.wait_phase("Active", 15)
            watch.wait(lambda o: o["status"].get("consumerReplicas") == MIN, STATS_WAIT, "the minimum in status")
            assert replicas() == MIN

            publish(quiet_world, Names(quiet_world.namespace).orders_queue, [b"[]"] * MESSAGES)
            watch.wait(lambda o: o["status"].get("consumerReplicas") == MAX, STATS_WAIT, "the maximum in status")
            assert replicas() == MAX
            scaled = next(c for c in watch.status()["conditions"] if c["type"] == "ConsumersScaled")
            assert scaled["status"] == "True", scaled

            asyncio.run(_topology(quiet_world, purge=True))
            purged = time.time()
            fell = watch.seen_by(
                lambda o: (o.get("status") or {}).get("consumerReplicas") == MIN,
                purged + COOLDOWN + STATS_WAIT,
                "the minimum again in status",
                since=purged,
            )
            assert fell - purged >= COOLDOWN, f"scaled down {fell - purged:.1f}s after the purge, before the cooldown"
            wait_until(lambda: replicas() == MIN, 5, "the Deployment back at its minimum")
            seen = [o["status"].get("consumerReplicas") for _, o in watch.seen if o.get("status")]
            assert max(r for r in seen if r is not None) == MAX, seen  # never above the bound
            print(f"\nscaled down {fell - purged:.1f}s after the purge (cooldown {COOLDOWN}s)")
    finally:
        operator.stop()
        release_flashsales(kube, namespace)
