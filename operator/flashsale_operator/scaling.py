"""How many order consumers the queue needs, and asking Kubernetes for them.

`desired_replicas` is the rule, pure: ceil(depth / messagesPerReplica) within [min, max], up at once, down only
after the need has stayed lower for a cooldown and never while messages are unacknowledged (a consumer holding
them would be stopped mid-batch). `Scaler` applies it to the consumer Deployment shared by every sale of a
namespace (the max over those sales' needs), or, where KEDA is installed, hands the Deployment to a ScaledObject
(see keda.py) and only reports KEDA's replicas. Outside a sale's live window (preheat time until the end) its
floor is 0: consumers run then only for what is still queued. Problems (no Deployment, no queue depth, an API
error) come back as a condition; `reconcile` never raises for them, so the sale's phase never waits on scaling."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from app.infrastructure.queue_depth import QueueDepth, QueueStats
from flashsale_operator.keda import SaleWindow, ScaledObjects, Target

log = logging.getLogger(__name__)

DEFAULT_DEPLOYMENT = "flashsale-orders"
CONDITION = "ConsumersScaled"
# A sale whose timer stopped calling (e.g. deleted while the operator was down) stops counting after this long.
STALE_SECONDS = 30.0


@dataclass(frozen=True)
class Consumers:
    """spec.consumers with the CRD's defaults."""

    min_replicas: int = 1
    max_replicas: int = 10
    messages_per_replica: int = 100


@dataclass(frozen=True)
class ScaleResult:
    replicas: int | None  # replicas now asked for (KEDA mode: the Deployment's, as KEDA set them); None: unknown
    mode: str  # "deployment" or "keda"
    condition: tuple[str, str, str, str] | None  # (type, status "True"/"False", reason, message) to report


def desired_replicas(
    depth: int,
    unacked: int,
    current: int,
    bounds: Consumers,
    low_since: float | None,
    now: float,
    cooldown_seconds: float,
) -> tuple[int, float | None]:
    """Replicas for `depth` queued messages, and since when the need has been below `current` (None: it is not)."""
    low = max(bounds.min_replicas, 0)
    high = max(bounds.max_replicas, low)
    need = min(max(math.ceil(max(depth, 0) / max(bounds.messages_per_replica, 1)), low), high)
    keep = min(current, high)  # the bounds apply at once; only a scale-down within them waits
    if need >= keep:
        return need, None
    since = now if low_since is None else low_since
    if unacked > 0 or now - since < cooldown_seconds:
        return keep, since
    return need, None


@dataclass
class _Need:
    replicas: int
    low_since: float | None
    at: float


class Scaler:
    """Built once at operator startup; remembers per sale since when its need has been low."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        queue_depth: QueueDepth,
        orders_queue: str,
        handoff_backlog: Callable[[int], Awaitable[int]],
        deployment: str = DEFAULT_DEPLOYMENT,
        cooldown_seconds: float = 60.0,
        vhost: str = "/",
        rabbitmq_url_env: str = "FLASHSALE_RABBITMQ_API_URL",
        keda_polling_seconds: int = 5,
        use_keda: bool | None = None,
    ) -> None:
        """`use_keda`: None detects KEDA (its ScaledObject CRD) on every call; False never uses it (the operator
        sets the replicas even where KEDA runs); True always does (where the CRDs cannot be read)."""
        self._apps = client.AppsV1Api(api)
        self._depth = queue_depth
        self._queue = orders_queue
        self._handoff = handoff_backlog
        self._deployment = deployment
        self._cooldown = cooldown_seconds
        target = Target(deployment, orders_queue, vhost, rabbitmq_url_env, keda_polling_seconds, int(cooldown_seconds))
        self._keda = ScaledObjects(api, target)
        self._use_keda = use_keda
        self._needs: dict[str, dict[str, _Need]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def reconcile(
        self,
        *,
        namespace: str,
        name: str,
        uid: str,
        sale_id: int,
        consumers: Consumers,
        starts_at: datetime,
        ends_at: datetime,
        preheat_lead_seconds: int,
        live: bool,
        now: datetime,
    ) -> ScaleResult:
        mode = "deployment"
        try:
            if await self._keda_on():
                mode = "keda"
                window = SaleWindow.of(
                    name,
                    uid,
                    starts_at,
                    ends_at,
                    preheat_lead_seconds,
                    (consumers.min_replicas, consumers.max_replicas, consumers.messages_per_replica),
                )
                return await self._by_keda(namespace, window, now)
            bounds = consumers if live else replace(consumers, min_replicas=0)
            async with self._locks.setdefault(namespace, asyncio.Lock()):
                return await self._by_deployment(namespace, name, sale_id, bounds, now.timestamp())
        except ApiException as error:
            reason = f"{error.status} {error.reason}".strip()
            return ScaleResult(None, mode, _failed("KubernetesError", f"the Kubernetes API refused: {reason}"))
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            return ScaleResult(
                None, mode, _failed("KubernetesUnavailable", f"the Kubernetes API is unreachable: {error}")
            )

    async def remove(self, *, namespace: str, name: str) -> None:
        """Forget the sale: it no longer counts for the Deployment, and leaves the ScaledObject (the last one
        deletes it). Raises the Kubernetes API's errors, so a finalizer can retry."""
        self._needs.get(namespace, {}).pop(name, None)
        if await self._keda_on():
            await self._keda.drop_sale(namespace, name, datetime.now().astimezone())

    async def _keda_on(self) -> bool:
        return await self._keda.installed() if self._use_keda is None else self._use_keda

    async def _by_keda(self, namespace: str, window: SaleWindow, now: datetime) -> ScaleResult:
        self._needs.get(namespace, {}).pop(window.name, None)  # back to KEDA: no stale vote if it goes away
        so = await self._keda.put_sale(namespace, window, now)
        replicas = await self._read_replicas(namespace)
        if replicas is None:
            return ScaleResult(None, "keda", self._missing(namespace, f"; ScaledObject {so} waits for it"))
        message = f"KEDA scales Deployment {self._deployment} through ScaledObject {so}"
        return ScaleResult(replicas, "keda", (CONDITION, "True", "KedaScaledObject", message))

    async def _by_deployment(
        self, namespace: str, name: str, sale_id: int, bounds: Consumers, now: float
    ) -> ScaleResult:
        current = await self._read_replicas(namespace)
        if current is None:
            return ScaleResult(None, "deployment", self._missing(namespace, ""))
        counts, problem = await self._counts(sale_id)
        needs = self._needs.setdefault(namespace, {})
        if counts is None:
            # Blind: keep what runs, but still within the bounds (pre-scaling at preheat must not wait on RabbitMQ).
            wanted = min(max(current, bounds.min_replicas), max(bounds.max_replicas, bounds.min_replicas))
            needs[name] = _Need(wanted, None, now)
        else:
            ready, unacked = counts
            previous = needs.get(name)
            replicas, low_since = desired_replicas(
                ready + unacked,
                unacked,
                current,
                bounds,
                previous.low_since if previous else None,
                now,
                self._cooldown,
            )
            needs[name] = _Need(replicas, low_since, now)
        wanted = max(n.replicas for n in needs.values() if now - n.at <= STALE_SECONDS)
        if wanted != current:
            await self._apps.patch_namespaced_deployment_scale(
                self._deployment, namespace, {"spec": {"replicas": wanted}}
            )
            log.info("scaled %s/%s from %d to %d replicas", namespace, self._deployment, current, wanted)
        if problem:
            return ScaleResult(wanted, "deployment", _failed(*problem))
        message = f"Deployment {self._deployment} asked for {wanted} replicas"
        return ScaleResult(wanted, "deployment", (CONDITION, "True", "DeploymentScaled", message))

    async def _counts(self, sale_id: int) -> tuple[tuple[int, int] | None, tuple[str, str] | None]:
        """(ready incl. the sale's hand-off backlog, unacknowledged), or None and the problem to report."""
        queue: QueueStats | None = await self._depth.stats(self._queue)
        if queue is None:
            return None, (
                "QueueDepthUnavailable",
                f"the RabbitMQ management API gave no depth for queue {self._queue}; replicas kept within bounds",
            )
        try:
            backlog = await self._handoff(sale_id)
        except Exception as error:  # the hand-off store (Redis) is down: scale on the queue alone, and say so
            log.warning("hand-off backlog of sale %s unreadable: %s", sale_id, error)
            return (queue.ready, queue.unacknowledged), ("HandoffUnavailable", f"hand-off backlog unreadable: {error}")
        return (queue.ready + backlog, queue.unacknowledged), None

    async def _read_replicas(self, namespace: str) -> int | None:
        try:
            scale = await self._apps.read_namespaced_deployment_scale(self._deployment, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return int(scale.spec.replicas or 0)

    def _missing(self, namespace: str, more: str) -> tuple[str, str, str, str]:
        message = f"Deployment {namespace}/{self._deployment} (FLASHSALE_CONSUMER_DEPLOYMENT) not found{more}"
        return _failed("DeploymentMissing", message)


def _failed(reason: str, message: str) -> tuple[str, str, str, str]:
    return (CONDITION, "False", reason, message)
