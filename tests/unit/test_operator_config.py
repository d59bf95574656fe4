"""The operator's settings from the environment: defaults, the webhook's ADDRESS:PORT, one-line refusals."""

from __future__ import annotations

import pytest

from app.domain.errors import ConfigError
from flashsale_operator.config import OperatorConfig, Webhook


def test_defaults() -> None:
    config = OperatorConfig.from_env({})
    assert (config.metrics_port, config.health_port, config.consumer_deployment) == (9200, 8080, "flashsale-orders")
    assert config.webhook is None


def test_the_webhook_from_the_environment_or_the_flag() -> None:
    env = {"FLASHSALE_OPERATOR_WEBHOOK": "127.0.0.1:9443", "FLASHSALE_CONSUMER_DEPLOYMENT": "shop-orders"}
    config = OperatorConfig.from_env(env)
    assert config.webhook == Webhook("127.0.0.1", 9443, "127.0.0.1", "flashsale.io")
    assert config.consumer_deployment == "shop-orders"
    named = OperatorConfig.from_env(
        {"FLASHSALE_OPERATOR_WEBHOOK_HOST": "op.example", "FLASHSALE_OPERATOR_WEBHOOK_NAME": "x.flashsale.io"},
        webhook="0.0.0.0:8443",
    )
    assert named.webhook == Webhook("0.0.0.0", 8443, "op.example", "x.flashsale.io")
    assert OperatorConfig.from_env(env, webhook="").webhook is None  # the flag turns it off


@pytest.mark.parametrize("listen", ["9443", ":9443", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:http", "h:70000"])
def test_a_bad_webhook_address_is_refused(listen: str) -> None:
    with pytest.raises(ConfigError, match="FLASHSALE_OPERATOR_WEBHOOK must be ADDRESS:PORT"):
        OperatorConfig.from_env({"FLASHSALE_OPERATOR_WEBHOOK": listen})


def test_a_bad_port_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="FLASHSALE_OPERATOR_METRICS_PORT"):
        OperatorConfig.from_env({"FLASHSALE_OPERATOR_METRICS_PORT": "lots"})
