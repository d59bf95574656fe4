"""The bench reads wrk's run from the one summary line bench.lua prints; anything else is a clear failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.bench.wrk import SCRIPT, Load, WrkFailed, command, parse_output

LINE = {
    "requests": 1200,
    "duration_us": 2_000_000,
    "bytes": 99,
    "errors": {"connect": 0, "read": 1, "write": 0, "status": 300, "timeout": 2},
    "statuses": {"202": 900, "409": 300},
    "sent": [601, 603],
    "latency_us": {"min": 100, "max": 9000, "mean": 1500.5, "stdev": 10.0, "percentiles": [[50, 1000], [99, 8000]]},
}

WRK_TEXT = (
    """Running 2s test @ http://127.0.0.1:18400/healthz
  2 threads and 64 connections
  1200 requests in 2.00s, 99B read
Requests/sec:    600.00
FLASHSALE-BENCH """
    + json.dumps(LINE)
    + "\n"
)


def test_the_summary_line_is_parsed() -> None:
    result = parse_output(WRK_TEXT)
    assert result.requests == 1200
    assert result.duration_s == 2.0
    assert result.rps == 600.0
    assert result.statuses == {202: 900, 409: 300}
    assert result.sent == [601, 603]
    assert result.socket_errors == 3  # read + timeout; a non-2xx answer is not a socket error
    assert result.percentiles == [(50.0, 1000), (99.0, 8000)]
    assert result.percentile_ms(99) == 8.0


def test_the_json_form_round_trips_statuses_as_strings() -> None:
    doc = parse_output(WRK_TEXT).to_json()
    assert doc["statuses"] == {"202": 900, "409": 300}
    assert doc["percentiles"] == [[50.0, 1000], [99.0, 8000]]


def test_output_without_the_line_fails_naming_it() -> None:
    with pytest.raises(WrkFailed, match="FLASHSALE-BENCH"):
        parse_output("unable to connect to 127.0.0.1:18400 Connection refused\n")


def test_the_command_passes_the_script_its_arguments() -> None:
    load = Load("POST", "/api/v1/sales/7/purchase", Path("tokens.txt"), 64, 2)
    args = command("/usr/bin/wrk", "http://127.0.0.1:18400", load, 2.4, 1500)
    assert args[:4] == ["/usr/bin/wrk", "-t2", "-c64", "-d2s"]
    assert args[args.index("-s") + 1] == str(SCRIPT)
    assert args[args.index("--") :] == ["--", "POST", "/api/v1/sales/7/purchase", "tokens.txt", "1500", "2"]
    assert "http://127.0.0.1:18400/api/v1/sales/7/purchase" in args


def test_no_tokens_is_a_dash() -> None:
    args = command("wrk", "http://h", Load("GET", "/healthz", None, 8, 2), 0.2, 0)
    assert "-d1s" in args
    assert args[-3] == "-"
