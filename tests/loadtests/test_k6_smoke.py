"""A short smoke of each k6 script (loadtests/) against the real API and workers, then the audit.

k6 exits non-zero when a threshold fails, so each test asserts the scripts' own thresholds (no 5xx, no contract
violation, p99 bounds, every accepted order created); the audit then checks every invariant of the sale."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.harness import Db, Running, running_world
from tests.support import ROOT

pytestmark = pytest.mark.integration
SCRIPTS = ROOT / "loadtests"
# On a loaded 2-core machine k6, the API and the workers share the cores: the smoke's latency bound is looser
# than a real run's (lib/thresholds.js), never the contract-level thresholds.
SMOKE_P99_MS = os.environ.get("FLASHSALE_K6_P99_MS", "1500")


def k6_binary() -> str:
    found = os.environ.get("FLASHSALE_K6") or shutil.which("k6")
    assert found, "k6 is not installed (scripts/tiers/80-k6 installs it; or set FLASHSALE_K6)"
    return found


@pytest.fixture(scope="module")
def run() -> Iterator[Running]:
    with running_world(api_workers=2) as running:
        yield running


def setup_sale(run: Running, out: Path, *, stock: int, users: int, starts_in: float = 3) -> dict:
    run.world.cli(
        "loadtest", "setup", "--url", run.base, "--stock", str(stock), "--users", str(users),
        "--starts-in", str(starts_in), "--out", str(out),
    )  # fmt: skip
    document: dict = json.loads(out.read_text())
    assert (out.stat().st_mode & 0o777) == 0o600, "the setup file holds bearer tokens"
    return document


def k6_run(script: str, setup: Path, results: Path, p99_ms: str, **env: str) -> subprocess.CompletedProcess[str]:
    summary = results / f"{script}.summary.json"
    return subprocess.run(
        [k6_binary(), "run", "--no-usage-report", "--quiet", "--summary-export", str(summary),
         "-e", f"SETUP={setup}", "-e", f"P99_MS={p99_ms}",
         *(a for k, v in env.items() for a in ("-e", f"{k}={v}")), str(SCRIPTS / f"{script}.js")],
        capture_output=True, text=True, timeout=240, env={**os.environ, "K6_NO_USAGE_REPORT": "true"},
    )  # fmt: skip


def k6(script: str, setup: Path, results: Path, **env: str) -> dict:
    """Run a script; fail with k6's own output when a threshold (or the script) fails. The summary's metrics."""
    proc = k6_run(script, setup, results, SMOKE_P99_MS, **env)
    assert proc.returncode == 0, (
        f"k6 {script} failed (exit {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-4000:]}"
    )
    metrics: dict = json.loads((results / f"{script}.summary.json").read_text())["metrics"]
    # The contract-level thresholds are really in force (k6 ignores none silently), and held.
    assert metrics["contract_violations"]["thresholds"] == {"rate==0": False}, metrics["contract_violations"]
    assert metrics["server_errors"]["thresholds"] == {"count==0": False}, metrics["server_errors"]
    assert metrics["server_errors"]["count"] == 0 and metrics["contract_violations"]["value"] == 0
    reqs, dur = metrics["http_reqs"], metrics["http_req_duration"]
    per_name = ", ".join(
        f"{key[len('http_req_duration{name:') : -1]} {value['p(99)']:.1f} ms"
        for key, value in sorted(metrics.items())
        if key.startswith("http_req_duration{name:")
    )
    print(f"\nk6 {script}: {reqs['count']} requests, {reqs['rate']:.0f} req/s, p99 {dur['p(99)']:.1f} ms ({per_name})")
    return metrics


def audit_passes(run: Running, sale_id: str, within: float = 60) -> str:
    """`flashsale audit` once the pipeline has drained: run again only while `pipeline_drained` fails (bounded);
    any other failure is final at once. Its output."""
    deadline = time.monotonic() + within
    while True:
        result = run.world.cli("audit", sale_id, check=False)
        if result.returncode == 0:
            return result.stdout
        draining = "FAIL  pipeline_drained" in result.stdout and time.monotonic() < deadline
        assert draining, f"audit of sale {sale_id} fails:\n{result.stdout}\n{result.stderr}"
        time.sleep(1)


def test_spike_sells_out_within_the_contract(run: Running, tmp_path: Path) -> None:
    # Fewer units than requests: the spike meets the in-stock and the sold-out paths.
    doc = setup_sale(run, tmp_path / "setup.json", stock=1500, users=6000)
    metrics = k6("spike", tmp_path / "setup.json", tmp_path, PEAK_RATE="250", HOLD="15s", RAMP="2s")
    assert metrics["http_reqs"]["count"] > 1500, "the spike did not outnumber the stock"
    assert "every invariant holds" in audit_passes(run, doc["sale_id"])
    sale = run.client().get(f"/api/v1/sales/{doc['sale_id']}").json()
    assert sale["stock_left"] == 0, sale


def test_journey_creates_and_pays_orders(run: Running, tmp_path: Path) -> None:
    doc = setup_sale(run, tmp_path / "setup.json", stock=100_000, users=2000)
    metrics = k6("journey", tmp_path / "setup.json", tmp_path, RATE="15", DURATION="20s", PAY_SHARE="0.3")
    print(f"order created after the 202: p99 {metrics['order_created_seconds']['p(99)']:.2f} s")
    assert "every invariant holds" in audit_passes(run, doc["sale_id"])
    with Db(run.world) as db:
        by_status = dict(
            db.rows("SELECT status, COUNT(*) FROM orders WHERE sale_id = %s GROUP BY status", int(doc["sale_id"]))
        )
    # About 15/s for 20 s bought, and a third of them paid (PAY_SHARE): the journey really went the whole way.
    assert by_status.get("paid", 0) >= 30, by_status
    assert by_status.get("created", 0) >= 100, by_status


def test_soak_holds_steady(run: Running, tmp_path: Path) -> None:
    doc = setup_sale(run, tmp_path / "setup.json", stock=100_000, users=2000)
    metrics = k6("soak", tmp_path / "setup.json", tmp_path, RATE="60", DURATION="20s")
    assert metrics["http_reqs"]["count"] >= 60 * 20 * 0.95, "the soak did not keep its arrival rate"
    assert "every invariant holds" in audit_passes(run, doc["sale_id"])


def test_a_breached_threshold_fails_the_run(run: Running, tmp_path: Path) -> None:
    """The thresholds can fail: a p99 bound no server meets makes k6 exit 99 (thresholds crossed)."""
    setup_sale(run, tmp_path / "setup.json", stock=1000, users=100, starts_in=0)
    proc = k6_run("soak", tmp_path / "setup.json", tmp_path, "0.001", RATE="10", DURATION="3s")
    assert proc.returncode == 99, f"exit {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
