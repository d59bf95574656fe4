"""`flashsale bench`: start the system here, run every scenario, write the report (see app/bench)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click


@click.command()
@click.option("--quick", is_flag=True, help="Every scenario, short (about 2-3 minutes).")
@click.option("--api-workers", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option(
    "--order-writers",
    type=click.IntRange(1, 16),
    default=2,
    show_default=True,
    help="`flashsale worker orders` processes (beside one relay and one timeout worker).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Results folder (default: bench-results/<timestamp>/).",
)
def bench(quick: bool, api_workers: int, order_writers: int, out: Path | None) -> None:
    """Measure the purchase path and the order pipeline against this machine's ceiling (wrk; see README)."""
    from app.bench.plots import plots_available, write_plots
    from app.bench.report import render_markdown, write_report
    from app.bench.runner import run_bench
    from app.bench.scenarios import FULL, QUICK
    from app.bench.wrk import WrkMissing, find_wrk, wrk_version
    from app.cli.runtime import run

    try:
        wrk = find_wrk()
    except WrkMissing as exc:
        raise click.ClickException(str(exc)) from None
    plan = QUICK if quick else FULL
    out = out or Path("bench-results") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    with click.progressbar(length=plan.progress_units, label="flashsale bench", show_eta=False, width=30) as bar:
        done = [0.0]  # units so far, fractions included

        def advance(units: float, label: str) -> None:
            bar.label = f"{label:<44}"
            done[0] += units
            bar.update(max(0, min(int(done[0]), plan.progress_units - 1) - bar.pos))

        doc = run(run_bench(plan, api_workers, out, wrk, wrk_version(wrk), advance, order_writers))
        bar.update(plan.progress_units - bar.pos)
    if plots_available():
        write_plots(doc, out)
    else:
        click.echo("plots skipped: matplotlib is missing (pip install -e '.[bench]')", err=True)
    json_path, md_path = write_report(doc, out)
    click.echo(render_markdown({**doc}).split("## Scenarios")[0])
    click.echo(f"report: {md_path} and {json_path}")
    if doc.get("error"):
        raise click.ClickException(f"the bench stopped early: {doc['error']}")
