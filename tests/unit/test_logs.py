"""Log lines: one per event, JSON or text, with tokens and passwords scrubbed; failed requests throttled."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.api.request_log import FailedRequests
from app.infrastructure.logs import JsonFormatter, TextFormatter, scrub, setup_logging
from app.infrastructure.tokens import TokenService

TOKEN = TokenService("k" * 40, 60).issue("alice", "user")


def record(message: str, *args: object, exc: bool = False, **fields: object) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise RuntimeError(f"boom with {TOKEN}\nsecond line")
        except RuntimeError:
            import sys

            info = sys.exc_info()
    rec = logging.LogRecord("app.test", logging.WARNING, __file__, 1, message, args, info)
    if fields:
        rec.fields = fields
    return rec


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {TOKEN}", TOKEN),
        (f"header bearer {TOKEN[:20]} here", TOKEN[:20]),
        (f"a bare token {TOKEN} in a message", TOKEN),
        ("amqp://guest:s3cr3t-pw@rabbit:5672/", "s3cr3t-pw"),
        ("mysql://root:hunter2@db:3306/flashsale", "hunter2"),
        ("password=hunter2 and more", "hunter2"),
        ("FLASHSALE_JWT_SECRET: abcdefabcdef", "abcdefabcdef"),
    ],
)
def test_secrets_are_scrubbed(text: str, secret: str) -> None:
    assert secret not in scrub(text)
    assert "redacted" in scrub(text)


def test_scrub_leaves_ordinary_lines_alone() -> None:
    line = "order 123 not written (no stock row); retried alone: http://rabbit:15672/api/queues"
    assert scrub(line) == line


def test_json_line_is_one_object_with_fields_and_the_exception() -> None:
    line = JsonFormatter().format(record("request %s failed", "purchase", exc=True, route="purchase", status=503))
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "request purchase failed"
    assert data["level"] == "warning" and data["logger"] == "app.test"
    assert data["route"] == "purchase" and data["status"] == 503
    assert data["time"].endswith("Z")
    assert "RuntimeError" in data["exception"]
    assert TOKEN not in line


def test_text_line_keeps_a_traceback_on_one_line() -> None:
    line = TextFormatter().format(record("failed: %s", f"Bearer {TOKEN}", exc=True, route="purchase"))
    assert "\n" not in line
    assert "WARNING app.test: failed: Bearer [redacted]" in line
    assert "route=purchase" in line and "RuntimeError" in line
    assert TOKEN not in line


def test_setup_logging_replaces_its_handlers_and_writes_json(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = io.StringIO()
    monkeypatch.setattr("sys.stderr", sink)
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        setup_logging("text")
        setup_logging("json")
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 2, ours  # one stream, one counter: the second call replaced the first
        logging.getLogger("app.somewhere").warning("token=%s", TOKEN)
        lines = [line for line in sink.getvalue().splitlines() if line]
        assert len(lines) == 1
        assert json.loads(lines[0])["message"] == "token=[redacted]"
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)


def test_failed_requests_are_throttled_per_route_and_status(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    failures = FailedRequests(every=1.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="app.api.requests"):
        for _ in range(5):
            failures.note("purchase", "POST", 503, 0.001)
        failures.note("get_order", "GET", 503, 0.001)
        now[0] += 1.5
        failures.note("purchase", "POST", 503, 0.002)
    lines = [r.fields for r in caplog.records]  # type: ignore[attr-defined]
    assert [(f["route"], f["left_out"]) for f in lines] == [("purchase", 0), ("get_order", 0), ("purchase", 4)]
