"""The Scaler against a real API server and the real RabbitMQ management API, authenticated as the operator's
ServiceAccount (k8s/rbac), so every call it makes is also a check of those permissions.

Without KEDA: messages published to a world's order queue raise the consumer Deployment's replicas within the
sale's bounds; they fall after the cooldown, never while messages are unacknowledged. A missing Deployment, an
unreachable management API or an unreachable API server give a condition, not an exception. With KEDA's CRDs
(vendored, v2.8) installed: a ScaledObject instead, valid against them, owned by the FlashSales, garbage-collected
with them. RabbitMQ's management API refreshes its counts every ~5 s, so each step polls (bounded)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aio_pika
import pytest
from kubernetes_asyncio import client, config

from app.infrastructure.amqp import declare_topology
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts
from app.infrastructure.queue_depth import QueueDepth
from app.infrastructure.redis_client import make_redis
from app.infrastructure.sale_cache import SaleCache
from flashsale_operator.keda import CRD_NAME, Target, sales_of, scaled_object
from flashsale_operator.scaling import Consumers, Scaler, ScaleResult
from tests.kubernetes.conftest import ROOT, Account, Kube, wait_established
from tests.pipeline.harness import publish
from tests.support import World, delete_queues

DEPLOYMENT = "flashsale-orders"
SALE_ID = 4242
COOLDOWN = 4.0
STATS_WAIT = 30.0  # the management API's counts lag up to ~5 s; allow for a busy machine
T = TypeVar("T")


@dataclass
class Rig:
    world: World
    cache: SaleCache
    depth: QueueDepth

    @property
    def names(self) -> Names:
        return Names(self.world.namespace)


@pytest.fixture(scope="module")
async def rig() -> AsyncIterator[Rig]:
    """A world of its own on the shared RabbitMQ and Redis: its order queue and its sale's hand-off."""
    world = World.create()
    connection = await aio_pika.connect(world.settings.amqp_url, timeout=10)
    async with connection:
        await declare_topology(await connection.channel(), Names(world.namespace), max_attempts=5)
    redis = make_redis(world.settings.redis_url, 4)
    cache = SaleCache(redis, Scripts.register(redis), Names(world.namespace))
    rig = Rig(world, cache, QueueDepth(world.settings.rabbitmq_api_url))
    try:
        await counts_are(rig, 0, 0)  # a queue declared a moment ago has no statistics yet
        yield rig
    finally:
        await redis.delete(cache.names.sale(SALE_ID).handoff)
        await redis.aclose()
        delete_queues(world)


async def api_for(kubeconfig: str) -> client.ApiClient:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return client.ApiClient(configuration=configuration)


@pytest.fixture
async def operator_api(operator_account: Account) -> AsyncIterator[client.ApiClient]:
    api = await api_for(operator_account.kubeconfig)
    try:
        yield api
    finally:
        await api.close()


def scaler_for(
    api: client.ApiClient,
    rig: Rig,
    depth: QueueDepth | None = None,
    cooldown: float = COOLDOWN,
    use_keda: bool | None = False,
) -> Scaler:
    """A Scaler as the operator builds it. The Deployment tests turn KEDA off: other suites on the shared API
    server may leave KEDA's CRDs installed; the KEDA tests detect it, as the operator does by default."""
    return Scaler(
        api,
        queue_depth=depth or rig.depth,
        orders_queue=rig.names.orders_queue,
        handoff_backlog=rig.cache.handoff_length,
        deployment=DEPLOYMENT,
        cooldown_seconds=cooldown,
        keda_polling_seconds=2,
        use_keda=use_keda,
    )


def consumer_deployment(kube: Kube, namespace: str, replicas: int) -> None:
    kube.kubectl(
        "-n",
        namespace,
        "create",
        "deployment",
        DEPLOYMENT,
        "--image=localhost/flashsale:test",
        f"--replicas={replicas}",
    )


def deployment_replicas(kube: Kube, namespace: str) -> int:
    return int(kube.get_json("-n", namespace, "deployment", DEPLOYMENT)["spec"]["replicas"])


class Sale:
    """Drives Scaler.reconcile for one sale as the operator's timer would, and keeps the results."""

    def __init__(self, scaler: Scaler, namespace: str, name: str, bounds: Consumers, uid: str = "") -> None:
        self.scaler, self.namespace, self.name, self.bounds = scaler, namespace, name, bounds
        self.uid = uid or f"uid-{name}"
        self.starts_at = datetime.now(UTC) + timedelta(minutes=5)
        self.results: list[tuple[float, ScaleResult]] = []

    async def reconcile(self, live: bool = True) -> ScaleResult:
        result = await self.scaler.reconcile(
            namespace=self.namespace,
            name=self.name,
            uid=self.uid,
            sale_id=SALE_ID,
            consumers=self.bounds,
            starts_at=self.starts_at,
            ends_at=self.starts_at + timedelta(hours=1),
            preheat_lead_seconds=300,
            live=live,
            now=datetime.now(UTC),
        )
        self.results.append((time.monotonic(), result))
        return result

    async def until(
        self, wanted: Callable[[ScaleResult], bool], what: str, within: float = STATS_WAIT, **kw: Any
    ) -> ScaleResult:
        deadline = time.monotonic() + within
        while True:
            result = await self.reconcile(**kw)
            if wanted(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {what}; last: {result}")
            await asyncio.sleep(0.5)


async def until(check: Callable[[], Awaitable[T]], what: str, within: float = STATS_WAIT) -> T:
    deadline = time.monotonic() + within
    while not (value := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what} (last: {value!r})")
        await asyncio.sleep(0.3)
    return value


async def counts_are(rig: Rig, ready: int, unacked: int) -> None:
    async def check() -> bool:
        counts = await rig.depth.stats(rig.names.orders_queue)
        return counts is not None and (counts.ready, counts.unacknowledged) == (ready, unacked)

    await until(check, f"the management API to count {ready} ready and {unacked} unacknowledged")


async def send(rig: Rig, count: int) -> float:
    """Publish `count` messages to the world's order queue; when it was done (monotonic)."""
    await asyncio.to_thread(publish, rig.world, rig.names.orders_queue, [b"[]"] * count)
    return time.monotonic()


@pytest.fixture
def reactions() -> Iterator[list[tuple[str, float]]]:
    """Scaling reaction times measured by a test, printed (run with -s to see them)."""
    measured: list[tuple[str, float]] = []
    yield measured
    for what, seconds in measured:
        print(f"\nscaling reaction: {what}: {seconds:.2f} s")


async def test_replicas_follow_the_queue_within_bounds_and_fall_after_the_cooldown_never_while_unacked(
    kube: Kube,
    namespace: str,
    operator_api: client.ApiClient,
    rig: Rig,
    reactions: list[tuple[str, float]],
) -> None:
    consumer_deployment(kube, namespace, replicas=1)
    sale = Sale(scaler_for(operator_api, rig), namespace, "spring", Consumers(1, 4, 10))
    first = await sale.reconcile()
    assert (first.replicas, first.mode) == (1, "deployment")
    assert first.condition is not None and first.condition[:3] == ("ConsumersScaled", "True", "DeploymentScaled")

    # 25 queued: ceil(25 / 10) = 3.
    sent = await send(rig, 25)
    await sale.until(lambda r: r.replicas == 3, "3 replicas for 25 messages")
    reactions.append(("25 messages published -> 3 replicas", time.monotonic() - sent))
    assert deployment_replicas(kube, namespace) == 3
    assert all(r.replicas in (1, 3) for _, r in sale.results)  # straight there, nothing in between

    # The sale's hand-off backlog counts too: 25 + 10 -> 4.
    for _ in range(10):
        await rig.cache.redis.xadd(rig.names.sale(SALE_ID).handoff, {"o": "1"})
    assert (await sale.reconcile()).replicas == 4
    # Far more than the maximum: still 4.
    await send(rig, 200)
    await counts_are(rig, 225, 0)
    assert (await sale.reconcile()).replicas == 4 and deployment_replicas(kube, namespace) == 4
    await rig.cache.redis.delete(rig.names.sale(SALE_ID).handoff)

    # A consumer takes everything, acknowledges all but 5 and holds those: the need is 1, but no scale-down
    # while messages are unacknowledged, however long past the cooldown.
    connection = await aio_pika.connect(rig.world.settings.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(rig.names.orders_queue, passive=True)
        held = []
        while (got := await queue.get(no_ack=False, fail=False, timeout=5)) is not None:
            held.append(got)
        assert len(held) == 225
        for message in held[5:]:
            await message.ack()
        await counts_are(rig, 0, 5)
        low_from = time.monotonic()
        while time.monotonic() - low_from < COOLDOWN + 2:
            result = await sale.reconcile()
            assert result.replicas == 4, "scaled down while messages were unacknowledged"
            await asyncio.sleep(0.5)
        assert deployment_replicas(kube, namespace) == 4
        for message in held[:5]:
            await message.ack()
        acked = time.monotonic()
        await counts_are(rig, 0, 0)
        # Low for longer than the cooldown already: down to the minimum as soon as nothing is unacknowledged.
        await sale.until(lambda r: r.replicas == 1, "the minimum once everything was acknowledged", within=5)
        reactions.append(("last unacked message acknowledged -> minimum", time.monotonic() - acked))
    assert deployment_replicas(kube, namespace) == 1

    # Up again, then drained: it stays up for the cooldown after the need fell, then goes down.
    sent = await send(rig, 35)
    await sale.until(lambda r: r.replicas == 4, "4 replicas for 35 messages")
    reactions.append(("35 messages published -> 4 replicas", time.monotonic() - sent))
    await drain(rig)
    await counts_are(rig, 0, 0)
    sale.results.clear()
    await sale.until(lambda r: r.replicas == 1, "the minimum after the cooldown", within=COOLDOWN + 10)
    first_low = sale.results[0][0]
    early = [r.replicas for at, r in sale.results if at - first_low < COOLDOWN - 0.5]
    assert early and set(early) == {4}, f"scaled down within the cooldown: {early}"
    assert deployment_replicas(kube, namespace) == 1

    # Outside the live window the floor is 0: with nothing queued, the consumers stop after the cooldown.
    await sale.until(lambda r: r.replicas == 0, "0 replicas outside the live window", within=COOLDOWN + 10, live=False)
    assert deployment_replicas(kube, namespace) == 0


async def drain(rig: Rig) -> None:
    connection = await aio_pika.connect(rig.world.settings.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(rig.names.orders_queue, passive=True)
        while (got := await queue.get(no_ack=False, fail=False, timeout=5)) is not None:
            await got.ack()


async def test_sales_of_a_namespace_share_the_deployment_at_the_largest_need(
    kube: Kube, namespace: str, operator_api: client.ApiClient, rig: Rig
) -> None:
    consumer_deployment(kube, namespace, replicas=0)
    scaler = scaler_for(operator_api, rig, cooldown=1.0)
    small = Sale(scaler, namespace, "small", Consumers(1, 2, 10))
    large = Sale(scaler, namespace, "large", Consumers(3, 5, 10))
    assert (await small.reconcile()).replicas == 1
    assert (await large.reconcile()).replicas == 3
    assert (await small.reconcile()).replicas == 3  # the other sale's need holds
    assert deployment_replicas(kube, namespace) == 3
    await scaler.remove(namespace=namespace, name="large")
    await small.until(lambda r: r.replicas == 1, "the remaining sale's minimum", within=10)
    assert deployment_replicas(kube, namespace) == 1


async def test_a_missing_deployment_is_a_condition(namespace: str, operator_api: client.ApiClient, rig: Rig) -> None:
    result = await Sale(scaler_for(operator_api, rig), namespace, "lonely", Consumers()).reconcile()
    assert (result.replicas, result.mode) == (None, "deployment")
    assert result.condition is not None
    kind, status, reason, message = result.condition
    assert (kind, status, reason) == ("ConsumersScaled", "False", "DeploymentMissing")
    assert f"{namespace}/{DEPLOYMENT}" in message and "not found" in message


async def test_an_unreachable_management_api_is_a_condition_and_the_bounds_still_hold(
    kube: Kube, namespace: str, operator_api: client.ApiClient, rig: Rig
) -> None:
    consumer_deployment(kube, namespace, replicas=0)
    blind = scaler_for(operator_api, rig, depth=QueueDepth("http://guest:guest@127.0.0.1:9/"))
    result = await Sale(blind, namespace, "blind", Consumers(2, 4, 10)).reconcile()
    assert result.condition is not None and result.condition[1:3] == ("False", "QueueDepthUnavailable")
    assert result.replicas == 2 and deployment_replicas(kube, namespace) == 2  # pre-scaling does not wait on it


async def test_an_unreachable_api_server_is_a_condition(rig: Rig) -> None:
    configuration = client.Configuration(host="https://127.0.0.1:9")
    async with client.ApiClient(configuration=configuration) as api:
        result = await Sale(scaler_for(api, rig), "anywhere", "offline", Consumers()).reconcile()
    assert result.replicas is None
    assert result.condition is not None and result.condition[1:3] == ("False", "KubernetesUnavailable")


@dataclass
class KedaApi:
    """KEDA's vendored CRDs (k8s/vendor/keda) on the shared API server."""

    kube: Kube
    was_installed: bool  # by another suite, before this test

    def install(self) -> None:
        self.kube.kubectl("apply", "-f", VENDORED_KEDA)
        wait_established(self.kube, CRD_NAME)


VENDORED_KEDA = str(ROOT / "k8s" / "vendor" / "keda")


@pytest.fixture
def keda_api(kube: Kube) -> Iterator[KedaApi]:
    """Installs KEDA's CRDs for one test and removes them afterwards, unless they were there before."""
    found = kube.kubectl("get", "crd", CRD_NAME, "--ignore-not-found", "-o", "name").stdout.strip()
    keda = KedaApi(kube, bool(found))
    try:
        yield keda
    finally:
        if not keda.was_installed:
            kube.kubectl("delete", "-f", VENDORED_KEDA, "--wait=true", "--timeout=60s", check=False)


def flashsale(kube: Kube, namespace: str, name: str) -> str:
    """A real FlashSale (for a uid the garbage collector knows); its uid."""
    body = {
        "apiVersion": "flashsale.io/v1alpha1",
        "kind": "FlashSale",
        "metadata": {"name": name},
        "spec": {
            "commodityRef": "1",
            "priceCents": 100,
            "stock": 5,
            "startsAt": "2030-01-01T10:00:00Z",
            "endsAt": "2030-01-01T11:00:00Z",
        },
    }
    created = json.loads(
        kube.kubectl("-n", namespace, "create", "-o", "json", "-f", "-", input=json.dumps(body)).stdout
    )
    return str(created["metadata"]["uid"])


async def test_with_keda_a_scaled_object_owned_by_the_flashsales_replaces_deployment_scaling(
    kube: Kube, namespace: str, flashsale_crd: str, keda_api: KedaApi, operator_api: client.ApiClient, rig: Rig
) -> None:
    consumer_deployment(kube, namespace, replicas=1)
    scaler = scaler_for(operator_api, rig, use_keda=None)
    first = Sale(scaler, namespace, "first", Consumers(2, 6, 50), uid=flashsale(kube, namespace, "first"))
    second = Sale(scaler, namespace, "second", Consumers(1, 9, 20), uid=flashsale(kube, namespace, "second"))
    if not keda_api.was_installed:  # on a server without KEDA (as in CI), detection picks the Deployment
        assert (await first.reconcile()).mode == "deployment"
        assert deployment_replicas(kube, namespace) == 2
        kube.kubectl("-n", namespace, "scale", "deployment", DEPLOYMENT, "--replicas=1")
    keda_api.install()
    await send(rig, 300)
    await counts_are(rig, 300, 0)

    result = await first.reconcile()
    assert (result.mode, result.replicas) == ("keda", 1)
    assert result.condition is not None and result.condition[:3] == ("ConsumersScaled", "True", "KedaScaledObject")
    stored = kube.get_json("-n", namespace, "scaledobject", DEPLOYMENT)
    assert [(o["kind"], o["name"], o["uid"]) for o in stored["metadata"]["ownerReferences"]] == [
        ("FlashSale", "first", first.uid)
    ]
    spec = stored["spec"]
    assert spec["scaleTargetRef"]["name"] == DEPLOYMENT
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 6)
    rabbit, cron = spec["triggers"]
    assert rabbit["type"] == "rabbitmq"
    assert rabbit["metadata"]["protocol"] == "http" and rabbit["metadata"]["queueName"] == rig.names.orders_queue
    assert rabbit["metadata"]["mode"] == "QueueLength" and rabbit["metadata"]["value"] == "50"
    assert cron["type"] == "cron" and cron["metadata"]["desiredReplicas"] == "2"
    # Valid against the vendored CRD: the server took it, and pruned nothing of what the scaler wrote.
    target = Target(DEPLOYMENT, rig.names.orders_queue, "/", "FLASHSALE_RABBITMQ_API_URL", 2, int(COOLDOWN))
    assert spec == scaled_object(namespace, target, sales_of(stored).values(), datetime.now(UTC))["spec"]
    # The replicas are KEDA's now: 300 queued messages leave the Deployment alone.
    assert (await first.reconcile()).replicas == 1 and deployment_replicas(kube, namespace) == 1

    # A second sale joins the same ScaledObject (KEDA takes one per workload).
    await second.reconcile()
    shared = kube.get_json("-n", namespace, "scaledobject", DEPLOYMENT)
    assert [o["name"] for o in shared["metadata"]["ownerReferences"]] == ["first", "second"]
    assert shared["spec"]["maxReplicaCount"] == 9 and len(shared["spec"]["triggers"]) == 3
    version = shared["metadata"]["resourceVersion"]
    await second.reconcile()  # nothing changed: nothing written
    assert kube.get_json("-n", namespace, "scaledobject", DEPLOYMENT)["metadata"]["resourceVersion"] == version

    # A fresh Scaler (an operator restart) keeps the other sale: the annotation remembers it.
    restarted = scaler_for(operator_api, rig, use_keda=None)
    await Sale(restarted, namespace, "first", first.bounds, uid=first.uid).reconcile()
    assert len(kube.get_json("-n", namespace, "scaledobject", DEPLOYMENT)["metadata"]["ownerReferences"]) == 2

    await scaler.remove(namespace=namespace, name="first")
    left = kube.get_json("-n", namespace, "scaledobject", DEPLOYMENT)
    assert [o["name"] for o in left["metadata"]["ownerReferences"]] == ["second"]

    # Owned for real: when its last FlashSale goes, the garbage collector takes the ScaledObject.
    kube.kubectl("-n", namespace, "delete", "flashsale", "second")

    def gone() -> bool:
        listed = kube.kubectl("-n", namespace, "get", "scaledobject", DEPLOYMENT, "--ignore-not-found", "-o", "name")
        return not listed.stdout.strip()

    await until(lambda: asyncio.to_thread(gone), "the garbage collector to delete the ScaledObject", within=60)


async def test_removing_the_last_sale_deletes_the_scaled_object(
    kube: Kube, namespace: str, flashsale_crd: str, keda_api: KedaApi, operator_api: client.ApiClient, rig: Rig
) -> None:
    keda_api.install()
    scaler = scaler_for(operator_api, rig, use_keda=None)
    only = Sale(scaler, namespace, "only", Consumers(), uid=flashsale(kube, namespace, "only"))
    result = await only.reconcile()
    assert result.mode == "keda" and result.replicas is None  # no Deployment yet: said so, the object waits
    assert result.condition is not None and result.condition[2] == "DeploymentMissing"
    assert kube.get_json("-n", namespace, "scaledobject", DEPLOYMENT)["metadata"]["name"] == DEPLOYMENT
    await scaler.remove(namespace=namespace, name="only")
    listed = kube.kubectl("-n", namespace, "get", "scaledobjects", "-o", "name").stdout.strip()
    assert listed == ""
    await scaler.remove(namespace=namespace, name="only")  # again: nothing to do, no error
