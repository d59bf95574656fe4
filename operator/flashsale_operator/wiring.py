"""Start and stop what the operator runs on, around kopf: kopf's settings (finalizer, bookkeeping, events,
webhook), the clients and use cases through the composition root, and /metrics."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import kopf

from app.bootstrap import open_operator
from app.config import Settings
from flashsale_operator import metrics, webhook
from flashsale_operator.config import OperatorConfig
from flashsale_operator.context import Operator, Wakeups
from flashsale_operator.kube_status import KubeStatus
from flashsale_operator.lifecycle import TEMPORARY

PREFIX = "flashsale.io"
STARTUP_RETRY_SECONDS = 5.0


def configure_kopf(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    # kopf's own bookkeeping in annotations under our prefix; the status is the operator's alone.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX)
    # Kubernetes events for warnings and errors only: a tick a second must not become an event a second.
    settings.posting.level = logging.WARNING


async def start(memo: Any, settings: kopf.OperatorSettings) -> None:
    """Open everything once and keep it in kopf's memo (`memo.operator`); `stop` closes it."""
    app_settings: Settings = memo.app_settings
    config: OperatorConfig = memo.config
    configure_kopf(settings, config)
    stack = contextlib.AsyncExitStack()
    wakeups = Wakeups()
    try:
        parts = await stack.enter_async_context(
            open_operator(
                app_settings,
                consumer_deployment=config.consumer_deployment,
                scale_cooldown_seconds=config.scale_cooldown_seconds,
                on_stock=wakeups,
            )
        )
    except TEMPORARY as error:
        await stack.aclose()
        raise kopf.TemporaryError(f"a store is unreachable: {error}", delay=STARTUP_RETRY_SECONDS) from error
    memo.stack = stack
    if config.webhook is not None:
        files = webhook.WebhookFiles(config.webhook.host)
        stack.callback(files.remove)
        webhook.configure(settings, config.webhook, files)
    c = parts.container
    memo.operator = Operator(
        catalogue=c.catalogue,
        preheater=c.preheater,
        orders=parts.sale_orders,
        cache=c.cache,
        scaler=parts.scaler,
        status=KubeStatus(parts.kube),
        config=config,
        use_cache=app_settings.stock_strategy == "redis",
        wakeups=wakeups,
    )
    metrics.serve(config.metrics_port)


async def stop(memo: Any) -> None:
    stack: contextlib.AsyncExitStack | None = memo.get("stack")
    if stack is not None:
        await stack.aclose()
