"""Every kopf decorator of the operator, each a few lines over the plain functions of lifecycle.py (which the
tests call without kopf). Clients are opened once at startup (wiring.py) and kept in kopf's memo."""

from __future__ import annotations

from typing import Any

import kopf

from flashsale_operator import lifecycle, wiring
from flashsale_operator.errors import kopf_errors
from flashsale_operator.spec import Resource
from flashsale_operator.webhook import spec_refusal

FLASHSALES = ("flashsale.io", "v1alpha1", "flashsales")
BACKOFF_SECONDS = 5.0  # an unexpected error retries this soon (kopf's default is a minute)


def _ref(meta: kopf.Meta) -> Resource:
    return Resource(str(meta["namespace"]), str(meta["name"]), str(meta["uid"]))


@kopf.on.startup()
async def startup(memo: kopf.Memo, settings: kopf.OperatorSettings, **_: Any) -> None:
    await wiring.start(memo, settings)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    await wiring.stop(memo)


def validate(spec: kopf.Spec, **_: Any) -> None:
    refusal = spec_refusal(spec)
    if refusal:
        raise kopf.AdmissionError(refusal, code=422)


def serve_webhook() -> None:
    """Register `validate` as the validating webhook (kopf refuses to run admission handlers without a server,
    so only when one is configured). failurePolicy Ignore: while the webhook is unreachable, create and update
    still report a spec that cannot run as `Failed`."""
    kopf.on.validate(*FLASHSALES, id="spec", operations=["CREATE", "UPDATE"], ignore_failures=True)(validate)


@kopf.on.create(*FLASHSALES, backoff=BACKOFF_SECONDS)
@kopf.on.update(*FLASHSALES, field="spec", backoff=BACKOFF_SECONDS)
@kopf.on.resume(*FLASHSALES, backoff=BACKOFF_SECONDS)
async def reconcile(memo: kopf.Memo, spec: kopf.Spec, meta: kopf.Meta, status: kopf.Status, **_: Any) -> None:
    async with kopf_errors():
        await lifecycle.apply_spec(memo.operator, _ref(meta), spec, int(meta["generation"]), status)


@kopf.daemon(*FLASHSALES, cancellation_timeout=5.0)
async def clock(
    memo: kopf.Memo, spec: kopf.Spec, meta: kopf.Meta, status: kopf.Status, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    await lifecycle.follow(memo.operator, _ref(meta), spec, status, stopped)


@kopf.timer(*FLASHSALES, interval=2.0, sharp=True, backoff=BACKOFF_SECONDS)
async def consumers(memo: kopf.Memo, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> None:
    async with kopf_errors():
        await lifecycle.scale(memo.operator, _ref(meta), spec)


@kopf.on.delete(*FLASHSALES, backoff=BACKOFF_SECONDS)
async def delete(memo: kopf.Memo, spec: kopf.Spec, meta: kopf.Meta, runtime: Any, **_: Any) -> None:
    async with kopf_errors():
        await lifecycle.finalize(memo.operator, _ref(meta), spec, runtime.total_seconds())
