"""Where KEDA is installed: one ScaledObject per namespace scales the shared order consumer Deployment.

KEDA allows one ScaledObject per workload, and every FlashSale of a namespace shares the consumer Deployment, so
the ScaledObject belongs to all of them: one ownerReference per sale (garbage-collected with the last one), a
`rabbitmq` trigger on the order queue's length over the management API, and a `cron` trigger per sale that holds
`minReplicas` from preheat time to the end. The sales it serves are kept in an annotation, so a restarted
operator rebuilds the same object instead of forgetting the other sales. Field names follow KEDA v2.8 (the CRDs
in k8s/vendor/keda)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

GROUP, VERSION, PLURAL = "keda.sh", "v1alpha1", "scaledobjects"
CRD_NAME = f"{PLURAL}.{GROUP}"
SALES_ANNOTATION = "flashsale.io/sales"
MANAGED_BY = {"app.kubernetes.io/managed-by": "flashsale-operator"}
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class SaleWindow:
    """What the ScaledObject needs of one FlashSale: its identity, its live window and its consumer bounds."""

    name: str
    uid: str
    live_from: str  # RFC 3339, UTC: startsAt - preheatLeadSeconds
    live_until: str  # RFC 3339, UTC: endsAt
    min_replicas: int
    max_replicas: int
    messages_per_replica: int

    @classmethod
    def of(
        cls,
        name: str,
        uid: str,
        starts_at: datetime,
        ends_at: datetime,
        lead_seconds: int,
        bounds: tuple[int, int, int],
    ) -> SaleWindow:
        """From the FlashSale; `bounds` is (minReplicas, maxReplicas, messagesPerReplica)."""
        low, high, per_replica = bounds
        return cls(name, uid, _utc(starts_at - timedelta(seconds=lead_seconds)), _utc(ends_at), low, high, per_replica)


@dataclass(frozen=True)
class Target:
    """Where KEDA scales and what it reads: the same for every sale of the operator."""

    deployment: str
    queue: str
    vhost: str
    host_env: str  # the consumer container's variable holding the management API URL
    polling_seconds: int
    cooldown_seconds: int


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _cron(moment: datetime) -> str:
    # KEDA's cron scaler takes five fields (minute resolution); a dated expression repeats yearly, and the trigger
    # is dropped once the sale has ended.
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} *"


def cron_trigger(window: SaleWindow) -> dict[str, Any]:
    start = _parse(window.live_from).replace(second=0, microsecond=0)  # floor: scaled before preheat
    end = _parse(window.live_until)
    end_minute = end.replace(second=0, microsecond=0)
    if end_minute < end:  # ceil: kept until the very end
        end_minute += timedelta(minutes=1)
    return {
        "type": "cron",
        "metadata": {
            "timezone": "Etc/UTC",
            "start": _cron(start),
            "end": _cron(end_minute),
            "desiredReplicas": str(window.min_replicas),
        },
    }


def scaled_object(namespace: str, target: Target, sales: Iterable[SaleWindow], now: datetime) -> dict[str, Any]:
    """The ScaledObject for `sales` (at least one): bounds are the widest, the queue trigger the most eager."""
    windows = sorted(sales, key=lambda w: w.name)
    queue_trigger = {
        "type": "rabbitmq",
        "metadata": {
            "protocol": "http",
            "mode": "QueueLength",
            "value": str(min(w.messages_per_replica for w in windows)),
            "queueName": target.queue,
            "vhostName": target.vhost,
            "hostFromEnv": target.host_env,
        },
    }
    crons = [cron_trigger(w) for w in windows if w.min_replicas > 0 and _parse(w.live_until) > now]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ScaledObject",
        "metadata": {
            "name": target.deployment,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": {SALES_ANNOTATION: json.dumps([asdict(w) for w in windows], sort_keys=True)},
            "ownerReferences": [
                {
                    "apiVersion": "flashsale.io/v1alpha1",
                    "kind": "FlashSale",
                    "name": w.name,
                    "uid": w.uid,
                    "blockOwnerDeletion": True,
                }
                for w in windows
            ],
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target.deployment},
            "pollingInterval": target.polling_seconds,
            "cooldownPeriod": target.cooldown_seconds,
            "minReplicaCount": 0,
            "maxReplicaCount": max(w.max_replicas for w in windows),
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": target.cooldown_seconds}}
                }
            },
            "triggers": [queue_trigger, *crons],
        },
    }


def sales_of(body: Mapping[str, Any] | None) -> dict[str, SaleWindow]:
    """The sales a ScaledObject serves, from its annotation; an unreadable annotation counts as none."""
    if not body:
        return {}
    raw = (body.get("metadata", {}).get("annotations") or {}).get(SALES_ANNOTATION, "[]")
    try:
        return {w["name"]: SaleWindow(**w) for w in json.loads(raw)}
    except (ValueError, TypeError, KeyError):
        return {}


def _same(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    meta_c, meta_w = current.get("metadata", {}), wanted["metadata"]
    return (
        current.get("spec") == wanted["spec"]
        and (meta_c.get("annotations") or {}).get(SALES_ANNOTATION) == meta_w["annotations"][SALES_ANNOTATION]
        and [r.get("uid") for r in meta_c.get("ownerReferences") or []] == [r["uid"] for r in meta_w["ownerReferences"]]
    )


class ScaledObjects:
    """Reads and writes the namespaces' ScaledObjects; one writer per namespace at a time."""

    def __init__(self, api: client.ApiClient, target: Target) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._crds = client.ApiextensionsV1Api(api)
        self._target = target
        self._locks: dict[str, asyncio.Lock] = {}

    async def installed(self) -> bool:
        """True where KEDA's ScaledObject CRD exists and is established."""
        try:
            crd = await self._crds.read_custom_resource_definition(CRD_NAME)
        except ApiException as error:
            if error.status in (403, 404):
                return False
            raise
        conditions = (crd.status.conditions if crd.status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    async def put_sale(self, namespace: str, window: SaleWindow, now: datetime) -> str:
        """Make the namespace's ScaledObject serve `window` (created, or updated only if it changes)."""
        async with self._lock(namespace):
            current = await self._read(namespace)
            sales = sales_of(current) | {window.name: window}
            await self._write(namespace, current, sales, now)
        return self._target.deployment

    async def drop_sale(self, namespace: str, name: str, now: datetime) -> None:
        """Stop serving sale `name`; the ScaledObject goes with the last sale."""
        async with self._lock(namespace):
            current = await self._read(namespace)
            if current is None:
                return
            sales = sales_of(current)
            sales.pop(name, None)
            if sales:
                await self._write(namespace, current, sales, now)
                return
            try:
                await self._custom.delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, self._target.deployment
                )
            except ApiException as error:
                if error.status != 404:
                    raise

    def _lock(self, namespace: str) -> asyncio.Lock:
        return self._locks.setdefault(namespace, asyncio.Lock())

    async def _read(self, namespace: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, self._target.deployment
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    async def _write(
        self, namespace: str, current: Mapping[str, Any] | None, sales: Mapping[str, SaleWindow], now: datetime
    ) -> None:
        wanted = scaled_object(namespace, self._target, sales.values(), now)
        if current is None:
            await self._custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, wanted)
            return
        if _same(current, wanted):
            return
        # The resourceVersion makes the patch conditional: a concurrent writer's change is never overwritten.
        wanted["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        # A dict body would go as JSON Patch by default; `_content_type` works but is missing from the stubs.
        await self._custom.patch_namespaced_custom_object(  # type: ignore[call-arg]
            GROUP, VERSION, namespace, PLURAL, self._target.deployment, wanted, _content_type=MERGE_PATCH
        )
