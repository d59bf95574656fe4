"""The FlashSale rules a Kubernetes 1.20 CRD schema cannot express (no CEL): relations between fields.

The schema in k8s/crds/flashsale.yaml checks each field alone (types, ranges, formats, required fields); this
module checks how fields relate, for the admission webhook and for the operator's own `Failed` condition where
no webhook runs. Each problem is one sentence that names the field a user has to change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.errors import InvalidRequest
from app.domain.timefmt import parse_rfc3339

# The CRD's defaults, for a spec read before the API server filled them in (e.g. a dry run of a raw manifest).
DEFAULT_MIN_REPLICAS = 1
DEFAULT_MAX_REPLICAS = 10


def spec_problems(spec: Mapping[str, Any]) -> list[str]:
    """Every cross-field problem of a FlashSale spec, in field order; an empty list means the spec is valid."""
    return [*_commodity_problems(spec), *_window_problems(spec), *_consumer_problems(spec)]


def _commodity_problems(spec: Mapping[str, Any]) -> list[str]:
    has_commodity = spec.get("commodity") is not None
    has_ref = spec.get("commodityRef") is not None
    if has_commodity and has_ref:
        return ["spec.commodity and spec.commodityRef are both set: give exactly one of them"]
    if not has_commodity and not has_ref:
        return ["spec.commodity or spec.commodityRef is required: describe the commodity or name an existing one"]
    return []


def _window_problems(spec: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    times = {}
    for field in ("startsAt", "endsAt"):
        try:
            times[field] = parse_rfc3339(spec.get(field), f"spec.{field}")
        except InvalidRequest as error:
            problems.append(str(error))
    if len(times) == 2 and times["endsAt"] <= times["startsAt"]:
        problems.append(f"spec.endsAt ({spec['endsAt']}) must be after spec.startsAt ({spec['startsAt']})")
    return problems


def _consumer_problems(spec: Mapping[str, Any]) -> list[str]:
    consumers = spec.get("consumers") or {}
    if not isinstance(consumers, Mapping):
        return ["spec.consumers must be an object of minReplicas, maxReplicas and messagesPerReplica"]
    low = consumers.get("minReplicas", DEFAULT_MIN_REPLICAS)
    high = consumers.get("maxReplicas", DEFAULT_MAX_REPLICAS)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        return [f"spec.consumers.minReplicas ({low}) must not exceed spec.consumers.maxReplicas ({high})"]
    return []
