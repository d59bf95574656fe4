"""The operator's own settings, read from the environment once at start-up (the app's are in app/config.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from app.domain.errors import ConfigError
from app.env_values import integer, number


@dataclass(frozen=True)
class Webhook:
    """Where the validating admission webhook listens, and the name the API server reaches it by."""

    addr: str
    port: int
    host: str  # in the webhook's URL and its certificate; the API server must reach it there
    configuration: str  # the ValidatingWebhookConfiguration kopf manages


@dataclass(frozen=True)
class OperatorConfig:
    metrics_port: int = 9200  # 0: no /metrics
    health_port: int = 8080  # kopf's liveness endpoint /healthz; 0: none
    consumer_deployment: str = "flashsale-orders"
    scale_cooldown_seconds: float = 60.0
    # The finalizer waits for open orders at most the sale's payment timeout plus this, then cleans up anyway.
    drain_slack_seconds: float = 60.0
    webhook: Webhook | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, webhook: str | None = None) -> OperatorConfig:
        env = dict(os.environ if env is None else env)
        listen = env.get("FLASHSALE_OPERATOR_WEBHOOK", "") if webhook is None else webhook
        return cls(
            metrics_port=integer(env, "FLASHSALE_OPERATOR_METRICS_PORT", cls.metrics_port, 0, 65535),
            health_port=integer(env, "FLASHSALE_OPERATOR_HEALTH_PORT", cls.health_port, 0, 65535),
            consumer_deployment=env.get("FLASHSALE_CONSUMER_DEPLOYMENT") or cls.consumer_deployment,
            scale_cooldown_seconds=number(
                env, "FLASHSALE_SCALE_COOLDOWN_SECONDS", cls.scale_cooldown_seconds, 0, 86400
            ),
            drain_slack_seconds=number(
                env, "FLASHSALE_OPERATOR_DRAIN_SLACK_SECONDS", cls.drain_slack_seconds, 0, 86400
            ),
            webhook=_webhook(env, listen) if listen else None,
        )


def _webhook(env: dict[str, str], listen: str) -> Webhook:
    addr, sep, port = listen.rpartition(":")
    if not sep or not addr or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"FLASHSALE_OPERATOR_WEBHOOK must be ADDRESS:PORT (e.g. 127.0.0.1:9443), got {listen!r}")
    return Webhook(
        addr=addr,
        port=int(port),
        host=env.get("FLASHSALE_OPERATOR_WEBHOOK_HOST") or addr,
        configuration=env.get("FLASHSALE_OPERATOR_WEBHOOK_NAME") or "flashsale.io",
    )
