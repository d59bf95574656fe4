"""The report's figures (PNG): throughput and latency over time per scenario, the drain, the full sale.

matplotlib comes with the `bench` extra (`pip install -e '.[bench]'`); without it the report says the plots are
missing instead of failing the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.bench.report import SCENARIO_NAMES


def plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _series(doc: dict) -> list[tuple[str, dict]]:
    scenarios = doc.get("scenarios", {})
    found = [(label.replace("`", ""), scenarios[key]) for key, label in SCENARIO_NAMES.items() if key in scenarios]
    storm = doc.get("full_sale", {}).get("storm")
    if storm:
        found.append(("full sale", storm))
    return found


def write_plots(doc: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    generator = doc.get("scenarios", {}).get("ceiling", {}).get("generator", "wrk")

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, s in _series(doc):
        xs = [p["t"] + p["seconds"] / 2 for p in s["slices"]]
        ax.plot(xs, [p["rps"] for p in s["slices"]], marker="o", label=label)
    ax.set(xlabel="seconds into the scenario", ylabel="requests/s", title=f"Throughput per slice ({generator})")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=8)
    written.append(_save(fig, out / "throughput.png"))

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, (label, s) in enumerate(_series(doc)):
        xs = [p["t"] + p["seconds"] / 2 for p in s["slices"]]
        color = f"C{i}"
        ax.plot(xs, [p["p99_ms"] for p in s["slices"]], marker="o", color=color, label=f"{label} p99")
        ax.plot(xs, [p["p50_ms"] for p in s["slices"]], linestyle="--", color=color, label=f"{label} p50")
    ax.set(xlabel="seconds into the scenario", ylabel="latency, ms", title=f"Latency per slice ({generator})")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _legend(ax, fontsize=7, ncol=2)
    written.append(_save(fig, out / "latency.png"))

    drain = doc.get("drain")
    if drain and drain.get("timeline"):
        fig, ax = plt.subplots(figsize=(9, 4.5))
        points = drain["timeline"]
        ax.plot([p["t"] for p in points], [p["written"] for p in points], label="orders written")
        ax.axhline(drain["backlog"], color="grey", linestyle=":", label=f"backlog {drain['backlog']:,}")
        ax.set(
            xlabel="seconds since the workers started",
            ylabel="orders in the database",
            title=f"Drain: {drain['orders_per_second']:,.0f} orders/s",
        )
        ax.grid(alpha=0.3)
        ax.legend()
        written.append(_save(fig, out / "drain.png"))

    sale = doc.get("full_sale")
    if sale and sale.get("timeline"):
        fig, ax = plt.subplots(figsize=(9, 4.5))
        points = sale["timeline"]
        ts = [p["t"] for p in points]
        ax.plot(ts, [p["stock_left"] for p in points], label="stock left (Redis)")
        ax.plot(ts, [p["written"] for p in points], label="orders written (database)")
        ax.set(xlabel="seconds since the sale started", ylabel="units / orders", title="Full sale")
        ax.grid(alpha=0.3)
        rss = ax.twinx()
        rss.plot(ts, [p["api_rss"] / 2**20 for p in points], color="C3", alpha=0.5, label="API RSS, all processes")
        rss.set_ylabel("MiB")
        lines = ax.get_legend_handles_labels()
        more = rss.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8)
        written.append(_save(fig, out / "full_sale.png"))
    return written


def _legend(ax: object, **kw: object) -> None:
    if ax.get_legend_handles_labels()[0]:  # type: ignore[attr-defined]
        ax.legend(**kw)  # type: ignore[attr-defined]


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
