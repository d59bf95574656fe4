"""The bench report: figures as ratios against the same run's ceiling, targets met or missed, the Markdown
rendered from the JSON document alone."""

from __future__ import annotations

import json
from pathlib import Path

from app.bench.report import figures, render_markdown, write_report


def _scenario(rps: float, p99: float, statuses: dict[str, int]) -> dict:
    return {
        "generator": "wrk 4.1.0, bench.lua, 2 threads, 64 connections",
        "requests": int(rps * 10),
        "duration_s": 10.0,
        "rps": rps,
        "statuses": statuses,
        "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0},
        "latency_ms": {"50": p99 / 3, "90": p99 / 2, "99": p99, "99.9": p99 * 2},
        "slices": [{"t": 0.0, "seconds": 10.0, "rps": rps, "p50_ms": p99 / 3, "p99_ms": p99}],
    }


DOC = {
    "started_at": "2026-12-02T01:00:00+00:00",
    "wall_seconds": 150.0,
    "machine": {"cores": 2, "cpu_model": "Test CPU", "memory_bytes": 2**32, "system": "Linux", "kernel": "6"},
    "versions": {"wrk": "wrk 4.1.0"},
    "settings": {"mode": "quick", "api_workers": 2},
    "scenarios": {
        "ceiling": _scenario(20_000, 10, {"200": 200_000}),
        "in_stock": _scenario(8_000, 25, {"202": 80_000}),
        "sold_out": _scenario(12_000, 12, {"409": 120_000}),
        "baseline_db": _scenario(2_000, 90, {"202": 20_000}),
    },
    "drain": {
        "generator": "order rows",
        "backlog": 80_000,
        "written": 80_000,
        "complete": True,
        "seconds_to_drain": 9.5,
        "orders_per_second": 9_000.0,
        "timeline": [{"t": 0.0, "written": 0}, {"t": 9.5, "written": 80_000}],
    },
    "full_sale": {
        "sale_id": 4,
        "stock": 2_000,
        "users": 4_000,
        "storm": _scenario(7_000, 28, {"202": 2_000, "409": 18_000}),
        "accepted": 2_000,
        "written": 2_000,
        "stock_left": 0,
        "rows": {
            "generator": "order rows",
            "orders": 2_000,
            "selling_seconds": 0.4,
            "written_after_sold_out_s": 0.9,
            "orders_per_second": 1_500.0,
        },
        "memory": {
            "generator": "/proc",
            "api_rss_peak_per_process": 100 * 2**20,
            "api_processes": 2,
            "redis_sale_keys": 5,
            "redis_sale_bytes": 400_000,
            "redis_bytes_per_order": 200.0,
            "redis_used_memory_delta_per_order": 300.0,
        },
        "audit": [{"name": "not_oversold", "ok": True, "detail": "2000 of 2000"}],
        "timeline": [{"t": 0.0, "stock_left": 2000, "written": 0, "api_rss": 2**27}],
    },
}


def _by_name(doc: dict) -> dict[str, dict]:
    return {f["name"]: f for f in figures(doc)}


def test_throughput_is_a_ratio_against_the_ceiling() -> None:
    found = _by_name(DOC)
    assert found["in stock / ceiling"]["value"] == 0.4
    assert found["in stock / ceiling"]["met"] is True  # target >= 0.30
    assert found["sold-out storm / ceiling"]["value"] == 0.6
    assert found["sold-out storm / ceiling"]["met"] is False  # target >= 0.65
    assert found["redis strategy / db strategy, same load"]["value"] == 4.0


def test_at_most_targets() -> None:
    found = _by_name(DOC)
    assert found["p99 in stock"]["met"] is True
    assert found["drain: orders written/s"]["met"] is False  # 9,000 < 10,000
    assert found["API RSS per process, peak"]["value"] == 100
    assert found["Redis memory per accepted order after the sale"]["met"] is True


def test_a_failed_audit_check_is_named() -> None:
    doc = json.loads(json.dumps(DOC))
    doc["full_sale"]["audit"].append({"name": "no_lost_orders", "ok": False, "detail": "3 missing"})
    audit = _by_name(doc)["full sale: audit (oversold, lost, duplicated, ...)"]
    assert audit["met"] is False
    assert audit["text"] == "no_lost_orders"


def test_a_missing_scenario_is_not_measured_rather_than_a_crash() -> None:
    found = _by_name({"scenarios": {"ceiling": DOC["scenarios"]["ceiling"]}})
    assert found["in stock / ceiling"]["value"] == 0.0
    assert found["drain: orders written/s"]["met"] is None
    assert "not measured" in render_markdown({"scenarios": {}})


def test_the_markdown_names_machine_generator_ratios_and_targets() -> None:
    text = render_markdown(DOC)
    assert "2 cores, Test CPU" in text
    assert "| in stock / ceiling | 0.40x | >= 0.3 | met | wrk 4.1.0, bench.lua, 2 threads, 64 connections |" in text
    assert "| sold-out storm / ceiling | 0.60x | >= 0.65 | **missed** |" in text
    assert "| in stock (distinct users) | 8,000 | 0.40x | 8.3 | 12.5 | 25.0 | 50.0 | 202: 80000 | 0 |" in text
    assert "| not_oversold | PASS | 2000 of 2000 |" in text
    assert "![drain](drain.png)" in text


def test_write_report_writes_both_with_the_figures(tmp_path: Path) -> None:
    json_path, md_path = write_report(DOC, tmp_path)
    written = json.loads(json_path.read_text())
    assert written["figures"] == figures(DOC)
    assert md_path.read_text() == render_markdown(written)


def test_a_run_that_stopped_early_says_why() -> None:
    text = render_markdown({**DOC, "error": "WrkFailed: wrk exited with 1"})
    assert "**The run stopped early: WrkFailed: wrk exited with 1**" in text
    assert "stopped early" not in render_markdown(DOC)


def test_refusals_in_a_distinct_user_scenario_are_called_out() -> None:
    assert "answers were not 202" not in render_markdown(DOC)
    doc = json.loads(json.dumps(DOC))
    doc["scenarios"]["in_stock"]["statuses"] = {"202": 70_000, "409": 10_000}
    text = render_markdown(doc)
    assert "**in stock (distinct users): 10,000 answers were not 202**" in text
    assert text.count("answers were not 202") == 1  # the baseline's answers were all 202s
