"""The processes' logs as the chart runs them (FLASHSALE_LOG_FORMAT=json): every line one JSON object, a
failed request logged with its route and status, and no token anywhere, though the request carried one."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.support import World, free_port, make_sale, wait_ready


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # each line alone is one whole JSON object


def test_a_failed_request_with_a_bearer_token_logs_one_json_line_without_it(world: World, client: httpx.Client) -> None:
    sale = make_sale(client, world, preheat=False)  # purchases answer 503 not_ready until it is preheated
    port = free_port()
    proc = world.spawn("api", "--port", str(port), env={"FLASHSALE_LOG_FORMAT": "json"})
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc)
    token = world.token("leaky")
    try:
        reply = httpx.post(
            f"{base}/api/v1/sales/{sale['id']}/purchase?access_token={token}",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "log-test"},
            timeout=10,
        )
        assert reply.status_code == 503, reply.text
    finally:
        world.stop(proc)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert token not in err and token.split(".")[1] not in err
    failed = [line for line in json_lines(err) if line["message"] == "request failed"]
    assert len(failed) == 1, err
    assert failed[0] | {"time": None, "pid": None, "duration_seconds": None} == {
        "time": None,
        "pid": None,
        "duration_seconds": None,
        "level": "warning",
        "logger": "app.api.requests",
        "message": "request failed",
        "method": "POST",
        "route": "purchase",
        "status": 503,
        "left_out": 0,
    }


def test_a_worker_logs_json_lines(world: World) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "timeouts"],
        env={**world.env, "FLASHSALE_LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    world.procs.append(proc)
    assert proc.stderr is not None
    first = proc.stderr.readline().decode()  # blocks until the worker says it runs (or exits)
    world.stop(proc)
    rest = proc.stderr.read().decode()
    lines = json_lines(first + rest)
    messages = [line["message"] for line in lines]
    assert any(m.startswith("workers running") for m in messages), messages
    assert "stopping: finishing in-flight work" in messages
    assert {line["level"] for line in lines} <= {"info", "warning"}, lines
