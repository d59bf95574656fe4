"""`flashsale demo`: the whole system on this machine, one flash sale from start to audit.

It starts the API and the workers as processes against the local services, creates a commodity and a sale,
fires a burst of shoppers with a live progress view, pays a share of the accepted orders, lets the rest
time out, and prints a report ending with the audit. Exit status 1 if an invariant fails. It prints the
storefront's address at the start; with `--serve` it keeps the system (and so the storefront) running after
the report until Ctrl-C or SIGTERM, then stops its processes and exits with the audit's status."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.application.audit import audit_sale
from app.bootstrap import open_container, state_of
from app.cli.processes import Process, exited_early, spawn
from app.cli.processes import stop as stop_processes
from app.cli.runtime import settings as load_settings
from app.cli.stop_signals import StopSignals
from app.config import Settings
from app.domain.timefmt import format_time
from app.infrastructure.db import Database
from app.infrastructure.tokens import TokenService

console = Console()
CONNECTIONS = 128


@dataclass(frozen=True)
class DemoOptions:
    shoppers: int
    stock: int
    pay_share: float
    payment_timeout: int
    api_workers: int
    port: int
    serve: bool = False  # after the report, keep the system and its storefront running until a stop


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # order id -> shopper
    first_sent: float = 0.0
    last_accepted_wall: float = 0.0  # time.time() of the last 202, to compare with the database's clock
    last_answer: float = 0.0
    last_accepted: float = 0.0


@dataclass(frozen=True)
class DrainFigures:
    after_last_202: float  # seconds from the last 202 to the last accepted order's row
    lag_p50: float  # reservation to row, seconds
    lag_p99: float
    orders_per_second: float


async def _drain_figures(db: Database, order_ids: list[int], last_202_wall: float) -> DrainFigures:
    """From the rows themselves: when each order was reserved (created_at, Redis' clock) and written."""
    marks = ",".join(["%s"] * len(order_ids))
    async with db.transaction() as cur:
        await cur.execute(
            f"SELECT TIMESTAMPDIFF(MICROSECOND, created_at, written_at), created_at, written_at FROM orders "
            f"WHERE id IN ({marks})",
            tuple(order_ids),
        )
        rows = await cur.fetchall()
    lags = [int(r[0]) / 1e6 for r in rows]
    first = min(r[1] for r in rows).replace(tzinfo=UTC).timestamp()
    last = max(r[2] for r in rows).replace(tzinfo=UTC).timestamp()
    return DrainFigures(
        after_last_202=max(0.0, last - last_202_wall),
        lag_p50=_percentile(lags, 0.5),
        lag_p99=_percentile(lags, 0.99),
        orders_per_second=len(rows) / max(last - first, 1e-3),
    )


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def wait_ready(session: aiohttp.ClientSession, base: str, procs: list[Process], within: float = 60) -> None:
    """Until the API answers /readyz with 200; fails if a process exits first or it takes too long."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (proc := exited_early(procs)) is not None:
            raise RuntimeError(f"a process exited early ({proc.args!r}); run it alone to see why")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base}/readyz") as reply:
                if reply.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the API did not become ready within {within:.0f} s")


async def _post(session: aiohttp.ClientSession, url: str, token: str, **kw: object) -> tuple[int, dict]:
    async with session.post(url, headers={"Authorization": f"Bearer {token}"}, **kw) as reply:  # type: ignore[arg-type]
        return reply.status, await reply.json(content_type=None)


async def _create_sale(session: aiohttp.ClientSession, base: str, admin: str, opts: DemoOptions) -> dict:
    status, commodity = await _post(
        session, f"{base}/api/v1/commodities", admin, json={"name": "Demo phone", "price_cents": 49_900}
    )
    assert status == 201, commodity
    now = datetime.now(UTC)
    status, sale = await _post(
        session,
        f"{base}/api/v1/sales",
        admin,
        json={
            "commodity_id": commodity["id"],
            "name": f"Demo flash sale {now:%H:%M:%S}",
            "price_cents": 19_900,
            "stock": opts.stock,
            "starts_at": format_time(now + timedelta(seconds=3)),
            "ends_at": format_time(now + timedelta(minutes=30)),
            "per_user_limit": 1,
            "payment_timeout_seconds": opts.payment_timeout,
        },
    )
    assert status == 201, sale
    status, sale = await _post(session, f"{base}/api/v1/sales/{sale['id']}/preheat", admin)
    assert status == 200, sale
    return sale


async def _burst(session: aiohttp.ClientSession, base: str, sale_id: str, tokens: list[str], tally: Tally) -> None:
    url = f"{base}/api/v1/sales/{sale_id}/purchase"
    with Progress(
        TextColumn("[bold]shoppers"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("burst", total=len(tokens), info="")

        gate = asyncio.Semaphore(CONNECTIONS)  # latency counts from the moment a connection is free

        async def shopper(i: int, token: str) -> None:
            async with gate:
                await one_shopper(i, token)

        async def one_shopper(i: int, token: str) -> None:
            key = f"demo-{i}" if i % 10 == 0 else None  # every tenth shopper sends its purchase twice
            for attempt in range(2 if key else 1):
                headers = {"Authorization": f"Bearer {token}"}
                if key:
                    headers["Idempotency-Key"] = key
                started = time.perf_counter()
                try:
                    async with session.post(url, headers=headers) as reply:
                        body = await reply.json(content_type=None)
                        status = reply.status
                except aiohttp.ClientError:
                    status, body = 0, {"error": "connection_error"}
                now = time.perf_counter()
                tally.latencies.append(now - started)
                tally.last_answer = max(tally.last_answer, now)
                if status == 202:
                    tally.outcomes["accepted" if attempt == 0 else "replayed (same key)"] += 1
                    tally.accepted[body["order_id"]] = token
                    tally.last_accepted = max(tally.last_accepted, now)
                    tally.last_accepted_wall = time.time()
                else:
                    tally.outcomes[str(body.get("error", status))] += 1
            progress.update(task, advance=1, info=f"accepted {len(tally.accepted)}")

        tally.first_sent = time.perf_counter()
        await asyncio.gather(*(shopper(i, t) for i, t in enumerate(tokens)))


async def _pay_some(session: aiohttp.ClientSession, base: str, tally: Tally, share: float) -> Counter[str]:
    chosen = random.Random(7).sample(sorted(tally.accepted), int(len(tally.accepted) * share))
    results: Counter[str] = Counter()

    async def pay(order_id: str) -> None:
        token = tally.accepted[order_id]
        for _ in range(100):  # a pending order answers 409 order_pending until it is written
            status, body = await _post(session, f"{base}/api/v1/orders/{order_id}/pay", token)
            if status == 409 and body.get("error") == "order_pending":
                await asyncio.sleep(0.2)
                continue
            results["paid" if status == 200 else body.get("error", str(status))] += 1
            return
        results["still pending"] += 1

    await asyncio.gather(*(pay(o) for o in chosen))
    return results


async def _wait_for(label: str, check: Callable[[], Awaitable[bool]], within: float) -> float:
    """The moment (perf_counter) the check first held, or -1 if it did not within the timeout."""
    started = time.perf_counter()
    with console.status(label):
        while time.perf_counter() - started < within:
            if await check():
                return time.perf_counter()
            await asyncio.sleep(0.05)
    return -1.0


async def run_demo(opts: DemoOptions) -> int:
    cfg: Settings = load_settings()
    env = {**os.environ, "FLASHSALE_RATE_LIMIT_ADDRESS": "0"}  # every shopper comes from this one address
    base = f"http://127.0.0.1:{opts.port}"
    procs = [
        spawn(["api", "--port", str(opts.port), "--workers", str(opts.api_workers)], env),
        spawn(["worker", "all"], env),
    ]
    console.print(
        f"[bold]flashsale demo[/]: API on {base} ({opts.api_workers} workers), relay + order writers + timeouts"
    )
    console.print(f"storefront: {base}/ (the admin page: {base}/#/admin)", soft_wrap=True)
    try:
        with StopSignals() as stop:
            finished, code = await stop.unless_stopped(_run_sale(cfg, base, procs, opts))
            if not finished or code is None:
                console.print("[bold]stopped[/] before the end of the demo")
                return 130
            if opts.serve:
                console.print(
                    f"[bold]serving the storefront at {base}/[/] until Ctrl-C or SIGTERM; an admin token for "
                    f"its admin page: `flashsale token --user ops --admin` (with this demo's settings)",
                    soft_wrap=True,
                )
                exited = await stop.until_stopped(procs)
                if exited is not None:
                    console.print(f"[bold red]a demo process exited[/] ({exited.args!r}, status {exited.returncode})")
                    return 1
            return code
    finally:
        stop_processes(procs)
        if opts.serve:
            console.print("stopped: the API and the workers have shut down")


async def _run_sale(cfg: Settings, base: str, procs: list[Process], opts: DemoOptions) -> int:
    """One flash sale from its creation to the audit: the report's exit status."""
    tokens = TokenService(cfg.jwt_secret, 3600)
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await wait_ready(session, base, procs)
        admin = tokens.issue("demo-admin", "admin")
        sale = await _create_sale(session, base, admin, opts)
        console.print(
            f"sale {sale['id']}: stock {opts.stock}, {opts.shoppers} shoppers, "
            f"payment timeout {opts.payment_timeout}s; starts {sale['starts_at']}"
        )
        shopper_tokens = [tokens.issue(f"shopper-{sale['id']}-{i}", "user") for i in range(opts.shoppers)]
        starts = datetime.fromisoformat(sale["starts_at"].replace("Z", "+00:00"))
        await asyncio.sleep(max(0.0, (starts - datetime.now(UTC)).total_seconds() + 0.05))
        tally = Tally()
        await _burst(session, base, sale["id"], shopper_tokens, tally)
        burst_seconds = tally.last_answer - tally.first_sent

        async with open_container(cfg) as c:
            sale_id = int(sale["id"])
            accepted_ids = [int(o) for o in tally.accepted]

            async def all_written() -> bool:
                async with c.db.transaction() as cur:
                    marks = ",".join(["%s"] * len(accepted_ids))
                    await cur.execute(f"SELECT COUNT(*) FROM orders WHERE id IN ({marks})", tuple(accepted_ids))
                    (count,) = await cur.fetchone()
                return bool(count == len(accepted_ids))

            drained = await _wait_for("draining the order pipeline…", all_written, 120) > 0
            drain = await _drain_figures(c.db, accepted_ids, tally.last_accepted_wall) if drained else None
            payments = await _pay_some(session, base, tally, opts.pay_share)

            async def timeouts_done() -> bool:
                async with c.db.transaction() as cur:
                    await cur.execute(
                        "SELECT COUNT(*) FROM orders WHERE sale_id = %s AND status IN ('created', 'paying')",
                        (sale_id,),
                    )
                    (open_orders,) = await cur.fetchone()
                    await cur.execute(
                        "SELECT COUNT(*) FROM stock_returns WHERE sale_id = %s AND applied_at IS NULL",
                        (sale_id,),
                    )
                    (unapplied,) = await cur.fetchone()
                return bool(open_orders == 0 and unapplied == 0)

            await _wait_for("waiting for unpaid orders to time out…", timeouts_done, opts.payment_timeout + 60)
            async with c.db.transaction() as cur:
                await cur.execute(
                    "SELECT status, COUNT(*), COALESCE(SUM(quantity), 0) FROM orders WHERE sale_id = %s "
                    "GROUP BY status",
                    (sale_id,),
                )
                by_status = {row[0]: int(row[1]) for row in await cur.fetchall()}
            view = await c.catalogue.sale(sale_id)
            state = await state_of(c, sale_id)
            checks = await audit_sale(c.db, c.cache, sale_id, state)

    _report(opts, tally, burst_seconds, drain, payments, by_status, view.stock_left)
    for check in checks:
        mark = "[green]PASS[/]" if check.ok else "[red]FAIL[/]"
        console.print(f"{mark}  {check.name:<26} {check.detail}")
    ok = all(check.ok for check in checks)
    console.print("[bold green]every invariant holds[/]" if ok else "[bold red]an invariant FAILED[/]")
    return 0 if ok else 1


def _report(
    opts: DemoOptions,
    tally: Tally,
    burst_seconds: float,
    drain: DrainFigures | None,
    payments: Counter[str],
    by_status: dict[str, int],
    stock_left: int,
) -> None:
    requests = sum(tally.outcomes.values())
    table = Table(title="flash sale report", show_header=False)
    table.add_row("requests", f"{requests} from {opts.shoppers} shoppers")
    table.add_row("accepted (202)", str(tally.outcomes["accepted"]))
    for outcome, count in sorted(tally.outcomes.items()):
        if outcome != "accepted":
            table.add_row(f"  answered {outcome}", str(count))
    table.add_row("throughput", f"{requests / burst_seconds:,.0f} requests/s over {burst_seconds:.2f} s")
    p50, p99 = (_percentile(tally.latencies, p) * 1000 for p in (0.5, 0.99))
    table.add_row("latency", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    if drain is None:
        table.add_row("pipeline drained", "NOT within 120 s")
    elif tally.accepted:
        table.add_row(
            "pipeline drained",
            f"{drain.after_last_202:.2f} s after the last 202; reservation to row p50 {drain.lag_p50 * 1000:.0f} ms, "
            f"p99 {drain.lag_p99 * 1000:.0f} ms; {drain.orders_per_second:,.0f} orders/s from the first reservation "
            "to the last row",
        )
    table.add_row("orders created", str(len(tally.accepted)))
    table.add_row("payments", ", ".join(f"{k} {v}" for k, v in sorted(payments.items())) or "none")
    table.add_row("orders paid", str(by_status.get("paid", 0)))
    table.add_row("orders cancelled (timeout)", str(by_status.get("cancelled", 0)))
    table.add_row("stock left", f"{stock_left} of {opts.stock}")
    console.print(table)
