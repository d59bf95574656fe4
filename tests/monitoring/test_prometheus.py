"""A real Prometheus (Debian's 2.42 binary, on a private 127.0.0.1 port with its own config and data) scrapes
the API's and a worker's /metrics during a short burst of purchases, and the generated rules evaluate on what
it scraped: a recording rule's value, and an alert raised by a dead letter. The pages themselves pass
`promtool check metrics` (Prometheus' naming lint)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from monitoring.generate import RULES
from tests.monitoring.promtool import tools
from tests.pipeline.harness import Burst, Running, publish, running_world, wait_until
from tests.support import ROOT, free_port, make_sale

PURCHASES = 200


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def run(metrics_port: int) -> Iterator[Running]:
    with running_world(("all",), FLASHSALE_WORKER_METRICS_PORT=str(metrics_port)) as running:
        yield running


@contextlib.contextmanager
def prometheus(tmp: Path, targets: dict[str, str], namespace: str) -> Iterator[str]:
    """Prometheus scraping each target (component -> host:port) every second, with the generated rules."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ROOT / RULES)],
        "scrape_configs": [
            {
                "job_name": component,
                # What the chart's ServiceMonitors give every target.
                "static_configs": [{"targets": [target], "labels": {"component": component, "namespace": namespace}}],
            }
            for component, target in targets.items()
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            str(tools() / "prometheus"),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert proc.poll() is None, (tmp / "prometheus.log").read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
            return False

        wait_until(ready, 30, "Prometheus to be ready", interval=0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def instant(base: str, expr: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert reply["status"] == "success", reply
    return list(reply["data"]["result"])


def value(base: str, expr: str) -> float | None:
    found = instant(base, expr)
    assert len(found) <= 1, found
    return float(found[0]["value"][1]) if found else None


def test_prometheus_scrapes_the_api_and_a_worker_and_the_rules_evaluate(
    run: Running, metrics_port: int, tmp_path: Path
) -> None:
    ns = run.world.namespace
    api = run.base.removeprefix("http://")
    with prometheus(tmp_path, {"api": api, "timeouts": f"127.0.0.1:{metrics_port}"}, ns) as prom:
        wait_until(lambda: value(prom, 'sum(up{component=~"api|timeouts"})') == 2, 20, "both targets up")
        with run.client() as client:
            sale = make_sale(client, run.world, stock=PURCHASES + 100)
        burst = Burst(run, sale["id"], PURCHASES, rate=100)
        burst.start()
        burst.join_and_check()
        # An order message nobody can read: the order writer dead-letters it.
        publish(run.world, run.names.orders_queue, [b"this is not an order"])

        # What the API counted, as Prometheus scraped it.
        accepted = 'sum(flashsale_purchases_total{outcome="accepted"})'
        wait_until(lambda: value(prom, accepted) == PURCHASES, 20, f"{PURCHASES} accepted purchases scraped")
        # A recording rule over it: accepted purchases per second over the last minute.
        rate = wait_until(
            lambda: value(prom, f'namespace:flashsale_purchases_accepted:rate1m{{namespace="{ns}"}}'),
            20,
            "the accepted-per-second recording rule",
        )
        assert 0 < rate <= PURCHASES
        assert value(prom, f'namespace:flashsale_purchase_5xx:ratio_rate5m{{namespace="{ns}"}}') == 0
        # What the worker sampled: the sale's stock left in the cache.
        left = f'flashsale_sale_stock_left{{sale_id="{sale["id"]}"}}'
        wait_until(lambda: value(prom, left) == 100, 30, "the sampled stock left of the sale")

        # The dead letter: sampled from the management API (its counts lag a few seconds), then the alert.
        def dead_letter_alert() -> dict[str, Any] | None:
            alerts = httpx.get(f"{prom}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
            found = [a for a in alerts if a["labels"]["alertname"] == "FlashsaleDeadLetters"]
            return found[0] if found else None

        alert = wait_until(dead_letter_alert, 45, "the dead-letter alert", interval=0.5)
        assert alert["labels"] == {
            "alertname": "FlashsaleDeadLetters",
            "namespace": ns,
            "queue": "orders_dlq",
            "severity": "warning",
        }
        assert alert["state"] in ("pending", "firing")
        assert alert["annotations"]["summary"] == f"1 message(s) in the dead-letter queue of {ns}"
        alerts = httpx.get(f"{prom}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        raised = {a["labels"]["alertname"] for a in alerts}
        # No operator runs here: that one is raised too. Nothing else is wrong.
        assert raised == {"FlashsaleDeadLetters", "FlashsaleOperatorDown"}, alerts
        assert value(prom, 'sum(flashsale_dead_lettered_total{reason="unreadable"})') == 1


@pytest.mark.parametrize("page", ["api", "worker"])
def test_metrics_pages_pass_promtool_lint(run: Running, metrics_port: int, page: str) -> None:
    base = run.base if page == "api" else f"http://127.0.0.1:{metrics_port}"
    with run.client() as client:  # something on every page: a request or two
        client.get("/healthz")
    text = httpx.get(f"{base}/metrics", timeout=5).text
    assert "flashsale_" in text
    done = subprocess.run(
        [str(tools() / "promtool"), "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr
