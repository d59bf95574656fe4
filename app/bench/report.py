"""The bench's report: the figures (as ratios against the same run's ceiling, each with its target and the
generator that produced it), written as JSON and rendered as Markdown from that JSON alone."""

from __future__ import annotations

import json
from pathlib import Path

from app.bench.stats import meets, ratio

MIB = 1024 * 1024
TARGETS_NOTE = "targets from issue 10; the generator shares the machine with the system (its CPU counts against it)"


def _figure(
    name: str,
    value: float | None,
    unit: str,
    generator: str,
    target: float | None = None,
    *,
    at_most: bool = False,
    text: str | None = None,
) -> dict:
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "target": None if target is None else (("<= " if at_most else ">= ") + f"{target:g}"),
        "met": None if target is None else meets(value, target, at_most=at_most),
        "generator": generator,
        "text": text,
    }


def figures(doc: dict) -> list[dict]:
    """The headline figures of a run document."""
    sc = doc.get("scenarios", {})
    ceiling = sc.get("ceiling", {}).get("rps", 0.0)
    out: list[dict] = []

    def rps(name: str) -> float:
        return float(sc.get(name, {}).get("rps", 0.0))

    wrk = sc.get("ceiling", {}).get("generator", "wrk")
    out.append(_figure("ceiling: /healthz, req/s", ceiling, "req/s", wrk))
    out.append(_figure("in stock / ceiling", ratio(rps("in_stock"), ceiling), "x", wrk, 0.30))
    out.append(_figure("sold-out storm / ceiling", ratio(rps("sold_out"), ceiling), "x", wrk, 0.65))
    p99 = sc.get("in_stock", {}).get("latency_ms", {}).get("99")
    out.append(_figure("p99 in stock", p99, "ms", wrk, 30, at_most=True))
    out.append(_figure("baseline (db strategy) / ceiling", ratio(rps("baseline_db"), ceiling), "x", wrk))
    out.append(
        _figure("redis strategy / db strategy, same load", ratio(rps("in_stock"), rps("baseline_db")), "x", wrk, 3)
    )
    drain = doc.get("drain", {})
    out.append(
        _figure(
            "drain: orders written/s", drain.get("orders_per_second"), "orders/s", drain.get("generator", ""), 10_000
        )
    )
    sale = doc.get("full_sale", {})
    rows = sale.get("rows") or {}
    rows_gen = rows.get("generator", "order rows")
    out.append(_figure("full sale: time to sell out", rows.get("selling_seconds"), "s", rows_gen))
    out.append(
        _figure(
            "full sale: last order written after the last unit sold",
            rows.get("written_after_sold_out_s"),
            "s",
            rows_gen,
            15,
            at_most=True,
        )
    )
    out.append(_figure("full sale: orders written/s", rows.get("orders_per_second"), "orders/s", rows_gen))
    storm = sale.get("storm", {})
    out.append(_figure("full sale: purchase requests/s", storm.get("rps"), "req/s", storm.get("generator", wrk)))
    checks = sale.get("audit", [])
    failed = [c["name"] for c in checks if not c["ok"]]
    out.append(
        {
            "name": "full sale: audit (oversold, lost, duplicated, ...)",
            "value": None if not checks else len(failed),
            "unit": "failed checks",
            "target": "0",
            "met": None if not checks else not failed,
            "generator": "flashsale audit",
            "text": None if not checks else (f"{len(checks)} checks, all pass" if not failed else ", ".join(failed)),
        }
    )
    memory = sale.get("memory", {})
    mem_gen = memory.get("generator", "")
    rss = memory.get("api_rss_peak_per_process")
    out.append(
        _figure("API RSS per process, peak", None if rss is None else rss / MIB, "MiB", mem_gen, 200, at_most=True)
    )
    per_order = memory.get("redis_bytes_per_order")
    out.append(
        _figure(
            "Redis memory per accepted order after the sale",
            None if per_order is None else per_order / 1024,
            "KiB",
            mem_gen,
            1,
            at_most=True,
        )
    )
    return out


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "not measured"
    if unit == "x":
        return f"{value:.2f}x"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.2f} {unit}".strip()


def _met(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "-"}[met]


SCENARIO_NAMES = {
    "ceiling": "ceiling (`GET /healthz`)",
    "in_stock": "in stock (distinct users)",
    "sold_out": "sold-out storm (same users retrying)",
    "baseline_db": "baseline (`db` strategy, distinct users)",
}


# Scenarios whose every request is a distinct user's first purchase: any answer but 202 means the users ran out
# and wrapped around (a second purchase of one user is 409 limit_exceeded), and the figure is not what it says.
DISTINCT_USER_SCENARIOS = ("in_stock", "baseline_db")


def _repeated_users(scenarios: dict) -> list[str]:
    lines = []
    for key in DISTINCT_USER_SCENARIOS:
        statuses = (scenarios.get(key) or {}).get("statuses", {})
        other = {str(status): n for status, n in statuses.items() if str(status) != "202"}
        if other:
            listed = ", ".join(f"{status}: {n:,}" for status, n in sorted(other.items()))
            lines.append(
                f"**{SCENARIO_NAMES[key]}: {sum(other.values()):,} answers were not 202** ({listed}). A 409 is a "
                "user's second purchase: a few come from the requests in flight when a slice ends; more mean the "
                "distinct users ran out and came round again (raise the plan's distinct_users). Anything else is "
                "a refusal or an error of its own (the logs in the results folder)."
            )
    return ["", *lines] if lines else []


def render_markdown(doc: dict) -> str:
    """The report, from the run document alone."""
    settings, machine, versions = doc.get("settings", {}), doc.get("machine", {}), doc.get("versions", {})
    lines = [
        f"# flashsale bench ({settings.get('mode', '?')}), {doc.get('started_at', '?')}",
        "",
        f"Machine: {machine.get('cores')} cores, {machine.get('cpu_model')}, "
        f"{(machine.get('memory_bytes') or 0) / 2**30:.1f} GiB, {machine.get('system')} {machine.get('kernel')}. "
        f"API: {settings.get('api_workers')} uvicorn process(es); "
        + (
            f"workers: one relay, {settings['order_writers']} order writer(s), one timeout worker, a process each; "
            if settings.get("order_writers")
            else ""
        )
        + "load generator on the same machine. "
        f"Wall time {doc.get('wall_seconds')} s.",
        "",
        *(
            [f"**The run stopped early: {doc['error']}** (logs of the processes in the results folder)", ""]
            if doc.get("error")
            else []
        ),
        "## Figures",
        "",
        f"Throughput figures are ratios against the ceiling measured in the same run ({TARGETS_NOTE}).",
        "",
        "| figure | value | target | | generator |",
        "|---|---|---|---|---|",
    ]
    for f in doc.get("figures") or figures(doc):
        value = f["text"] if f.get("text") else _num(f["value"], f["unit"])
        lines.append(f"| {f['name']} | {value} | {f['target'] or '-'} | {_met(f['met'])} | {f['generator']} |")
    lines += [
        "",
        "## Scenarios",
        "",
        "| scenario | req/s | / ceiling | p50 ms | p90 ms | p99 ms | p99.9 ms | answers | socket errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    scenarios = doc.get("scenarios", {})
    ceiling = scenarios.get("ceiling", {}).get("rps", 0.0)
    for key, label in SCENARIO_NAMES.items():
        s = scenarios.get(key)
        if not s:
            continue
        lat = s["latency_ms"]
        answers = ", ".join(f"{k}: {v}" for k, v in s["statuses"].items())
        socket = sum(n for kind, n in s.get("errors", {}).items() if kind != "status")
        lines.append(
            f"| {label} | {s['rps']:,.0f} | {_num(ratio(s['rps'], ceiling), 'x')} | {lat['50']:.1f} | "
            f"{lat['90']:.1f} | {lat['99']:.1f} | {lat['99.9']:.1f} | {answers} | {socket} |"
        )
    lines += _repeated_users(scenarios)
    drain = doc.get("drain")
    if drain:
        lines += [
            "",
            "## Drain",
            "",
            f"A backlog of {drain['backlog']:,} accepted orders (the in-stock scenario's, taken with the workers "
            f"stopped), then the relay, order writers and timeout worker started: {drain['written']:,} written "
            f"{'(complete)' if drain['complete'] else '(NOT complete)'} in {drain.get('seconds_to_drain')} s "
            f"from the start of the workers; {_num(drain['orders_per_second'], 'orders/s')} from the first row "
            "to the last. ![drain](drain.png)",
        ]
    sale = doc.get("full_sale")
    if sale:
        rows = sale.get("rows") or {}
        memory = sale.get("memory", {})
        storm = sale.get("storm", {})
        lines += [
            "",
            "## Full sale",
            "",
            f"Stock {sale['stock']:,}, {storm.get('requests', 0):,} purchase requests from {sale['users']:,} users "
            f"({storm.get('rps', 0):,.0f} req/s, p99 {storm.get('latency_ms', {}).get('99', 0):.1f} ms); "
            f"{sale['accepted']:,} accepted, {sale['written']:,} written, stock left {sale['stock_left']}. "
            "(wrk counts the answers it read before each slice ended; the requests still open then were answered "
            "after it stopped listening, so the 202s it counts can fall short of the orders accepted.)",
            "",
            f"- time to sell out (first to last reservation): {_num(rows.get('selling_seconds'), 's')}",
            f"- last order written after the last unit sold: {_num(rows.get('written_after_sold_out_s'), 's')}",
            f"- orders written/s (first row to last): {_num(rows.get('orders_per_second'), 'orders/s')}",
            f"- answers: {', '.join(f'{k}: {v}' for k, v in storm.get('statuses', {}).items())}",
            f"- API RSS peak per process: {_num((memory.get('api_rss_peak_per_process') or 0) / MIB, 'MiB')} "
            f"({memory.get('api_processes')} processes)",
            f"- Redis: {memory.get('redis_sale_keys')} keys, {_num(memory.get('redis_sale_bytes'), 'bytes')} for the "
            f"sale after it ({_num(memory.get('redis_bytes_per_order'), 'bytes')} per accepted order; used_memory "
            f"grew {_num(memory.get('redis_used_memory_delta_per_order'), 'bytes')} per order)",
            "",
            "| audit check | | detail |",
            "|---|---|---|",
        ]
        lines += [f"| {c['name']} | {'PASS' if c['ok'] else '**FAIL**'} | {c['detail']} |" for c in sale["audit"]]
        lines += ["", "![full sale](full_sale.png)"]
    lines += _profile_section(doc.get("profile"))
    lines += [
        "",
        "## Over time",
        "",
        "![throughput](throughput.png) ![latency](latency.png)",
        "",
        "## Versions and settings",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in versions.items()]
    lines += [f"| {k} | {v} |" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def _profile_section(profile: dict | None) -> list[str]:
    """Where the API processes spent their time under the in-stock load (py-spy), or why that was not taken."""
    if not profile:
        return []
    lines = ["", "## Profile of the API under the in-stock load", ""]
    if not profile.get("taken"):
        return [*lines, f"Not taken: {profile.get('why', 'unknown')}."]
    lines += [
        f"{profile['generator']}; {profile['samples']:,} samples; {profile['rps_while_sampled']:,.0f} req/s while "
        "sampled. A sample counts toward every layer on its stack, so the shares add up to more than 100%.",
        "",
        "| layer (inclusive) | share of samples |",
        "|---|---|",
    ]
    lines += [f"| {item['layer']} | {item['share']:.0%} |" for item in profile["layers"]]
    lines += ["", "| function (self time) | share of samples |", "|---|---|"]
    lines += [f"| `{item['function']}` | {item['share']:.1%} |" for item in profile["self_time"]]
    return lines


def write_report(doc: dict, out: Path) -> tuple[Path, Path]:
    doc = {**doc, "figures": figures(doc)}
    json_path, md_path = out / "report.json", out / "report.md"
    json_path.write_text(json.dumps(doc, indent=1))
    md_path.write_text(render_markdown(doc))
    return json_path, md_path
