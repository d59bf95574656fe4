"""`flashsale operator`: kopf embedded in the command's event loop, standalone (one replica, no peering)."""

from __future__ import annotations

import logging

import kopf

from app.config import Settings
from flashsale_operator.config import OperatorConfig


class _QuietTimer(logging.Filter):
    """kopf logs every successful run of a timer; the scaling timer runs every 2 s, so keep only its failures."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timer 'consumers' succeeded")


async def run_operator(settings: Settings, config: OperatorConfig, namespace: str | None) -> None:
    """Serve FlashSales of one namespace, or of every namespace when none is named, until SIGTERM or SIGINT."""
    from flashsale_operator import handlers  # registers every handler with kopf

    if config.webhook is not None:
        handlers.serve_webhook()
    logging.getLogger("kopf.objects").addFilter(_QuietTimer())
    health = f"http://0.0.0.0:{config.health_port}/healthz" if config.health_port else None
    await kopf.operator(
        clusterwide=namespace is None,
        namespaces=[namespace] if namespace else [],
        standalone=True,
        liveness_endpoint=health,
        memo=kopf.Memo(app_settings=settings, config=config),
    )
