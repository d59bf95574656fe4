"""A malformed setting stops each command with the contract's one line naming the variable: no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import ROOT, TEST_SECRET

CASES = [
    (("worker", "relay"), "FLASHSALE_REDIS_URL", "redis://127.0.0.1:port/0"),
    (("worker", "orders"), "FLASHSALE_AMQP_URL", "amqp://guest:guest@127.0.0.1:56x2/"),
    (("migrate",), "FLASHSALE_MYSQL_URL", "mysql://root@127.0.0.1:abc/flashsale"),
    (("api", "--port", "1"), "FLASHSALE_TIMEOUT_SWEEP_SECONDS", "nan"),
    (("api", "--port", "1"), "FLASHSALE_FORWARDED_ALLOW_IPS", "10.0.0.0/40"),
    (("worker", "timeouts"), "FLASHSALE_TIMEOUT_SWEEP_SECONDS", "0"),
    (("api", "--port", "1"), "FLASHSALE_DEV", "on"),
]


def _run(args: tuple[str, ...], settings: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {**os.environ, "FLASHSALE_JWT_SECRET": TEST_SECRET, "FLASHSALE_NAMESPACE": "tconfig"}
    env.pop("FLASHSALE_DEV", None)
    env.update(settings)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    return done, [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize(("args", "name", "value"), CASES)
def test_the_process_prints_one_line_and_exits_non_zero(args: tuple[str, ...], name: str, value: str) -> None:
    done, lines = _run(args, {name: value})
    assert done.returncode != 0
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Error: {name}"), lines
    assert "password" not in lines[0] and "guest:guest" not in lines[0]


def test_every_broken_setting_is_one_line_of_the_same_refusal() -> None:
    done, lines = _run(
        ("worker", "all"),
        {
            "FLASHSALE_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/a/b",
            "FLASHSALE_ORDER_PREFETCH": "0",
            "FLASHSALE_DEV": "maybe",
        },
    )
    assert done.returncode != 0
    assert [line.split()[:2] for line in lines] == [
        ["Error:", "FLASHSALE_DEV"],
        ["Error:", "FLASHSALE_AMQP_URL"],
        ["Error:", "FLASHSALE_ORDER_PREFETCH"],
    ], lines
    assert "guest:guest" not in done.stderr
