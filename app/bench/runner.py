"""One bench run, start to end: the system up, each scenario in turn, the measurements into one document."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.bench import measure
from app.bench.machine import machine, versions
from app.bench.profile import find_py_spy, record
from app.bench.scenarios import Plan
from app.bench.stats import merge_percentile
from app.bench.system import NAMESPACE, BenchSystem
from app.bench.wrk import Load, WrkResult, run_wrk
from app.bootstrap import open_container
from app.cli.loadtest import LoadtestPlan, create_sale
from app.cli.processes import exited_early
from app.config import Settings
from app.infrastructure.tokens import TokenService

Advance = Callable[[float, str], None]
TOKEN_TTL = 6 * 3600
PERCENTS = (50, 90, 99, 99.9)


@dataclass
class Timeline:
    """Samples of a running scenario: seconds since it started, then the values."""

    points: list[dict] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, **values: float | int | None) -> None:
        self.points.append({"t": round(time.monotonic() - self.started, 3), **values})


def summarize(runs: list[tuple[float, WrkResult]], generator: str) -> dict:
    """One scenario's wrk slices: totals, merged percentiles, and each slice for the time line."""
    requests = sum(r.requests for _, r in runs)
    seconds = sum(r.duration_s for _, r in runs)
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for _, r in runs:
        for status, n in r.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + n
        for kind, n in r.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    curves = [(r.requests, r.percentiles) for _, r in runs]
    return {
        "generator": generator,
        "requests": requests,
        "duration_s": round(seconds, 3),
        "rps": requests / seconds if seconds > 0 else 0.0,
        "statuses": dict(sorted(statuses.items())),
        "errors": errors,
        "latency_ms": {str(p): merge_percentile(curves, p) / 1000 for p in PERCENTS},
        "slices": [
            {
                "t": round(t, 3),
                "seconds": r.duration_s,
                "rps": r.rps,
                "p50_ms": r.percentile_ms(50),
                "p99_ms": r.percentile_ms(99),
            }
            for t, r in runs
        ],
    }


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def write_tokens(tokens: TokenService, path: Path, users: list[str]) -> Path:
    """One bearer token a line, readable by its owner only."""
    path.touch(mode=0o600)
    with path.open("w") as fh:
        fh.writelines(tokens.issue(user, "user", TOKEN_TTL) + "\n" for user in users)
    return path


class Bench:
    def __init__(
        self,
        plan: Plan,
        api_workers: int,
        out: Path,
        wrk: str,
        wrk_version: str,
        base: Settings,
        order_writers: int = 2,
    ) -> None:
        self.plan = plan
        self.api_workers = api_workers
        self.order_writers = order_writers
        self.out = out
        self.wrk = wrk
        self.wrk_version = wrk_version
        self.system = BenchSystem(base, logs=out)
        self.tokens = TokenService(self.system.secret, TOKEN_TTL)
        self.tag = secrets.token_hex(3)
        self.port = 18400
        self.generator = f"{wrk_version}, bench.lua, {plan.threads} threads, {plan.connections} connections"
        self.doc: dict = {"scenarios": {}}

    def load(self, method: str, path: str, tokens: Path | None) -> Load:
        return Load(method, path, tokens, self.plan.connections, self.plan.threads)

    async def slices(self, base: str, load: Load, count: int, advance: Advance, label: str) -> list:
        runs: list[tuple[float, WrkResult]] = []
        started, skip = time.monotonic(), 0
        for _ in range(count):
            t = time.monotonic() - started
            result = await run_wrk(self.wrk, base, load, self.plan.slice_seconds, skip)
            skip = max(result.sent, default=skip)
            runs.append((t, result))
            advance(self.plan.slice_seconds, label)
        return runs

    def sale(self, base: str, stock: int, per_user_limit: int = 1, starts_in: float = 1.0) -> dict:
        plan = LoadtestPlan(base, 0, stock, per_user_limit, starts_in, 6 * 3600, 3 * 3600, TOKEN_TTL)
        admin = self.tokens.issue(f"bench-admin-{self.tag}", "admin", TOKEN_TTL)
        with httpx.Client(base_url=base, timeout=30) as client:
            sale = create_sale(client, admin, plan, f"bench {self.tag}")
        wait = datetime.fromisoformat(sale["starts_at"].replace("Z", "+00:00")) - datetime.now(UTC)
        time.sleep(max(0.0, wait.total_seconds() + 0.1))
        return sale

    async def run(self, advance: Advance, work: Path) -> dict:
        plan, system = self.plan, self.system
        if port_in_use(self.port):
            raise RuntimeError(
                f"port {self.port} is taken: is another flashsale bench running? (they share a database)"
            )
        advance(0, "preparing the bench database and namespace")
        await system.prepare()
        settings = system.settings()
        async with open_container(settings) as c:
            self.doc["machine"] = machine()
            self.doc["versions"] = await versions(c, settings, self.wrk_version)
        self.doc["settings"] = self.settings_doc(settings)
        advance(5, "minting tokens")
        users = [f"b{self.tag}-{i}" for i in range(plan.distinct_users)]
        distinct = await asyncio.to_thread(write_tokens, self.tokens, work / "distinct.txt", users)
        storm = await asyncio.to_thread(
            write_tokens, self.tokens, work / "storm.txt", [f"s{self.tag}-{i}" for i in range(plan.storm_users)]
        )
        crowd = await asyncio.to_thread(
            write_tokens, self.tokens, work / "crowd.txt", [f"c{self.tag}-{i}" for i in range(plan.sale_users)]
        )
        advance(5, "starting the API")
        base = await system.start_api(self.port, self.api_workers)
        in_stock = await asyncio.to_thread(self.sale, base, 10_000_000)
        sold_out = await asyncio.to_thread(self.sale, base, 1)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            first = self.tokens.issue(f"first-{self.tag}", "user", TOKEN_TTL)
            await client.post(f"/api/v1/sales/{sold_out['id']}/purchase", headers={"Authorization": f"Bearer {first}"})
        await asyncio.sleep(1.5)  # the sold-out flag reaches every API process
        advance(5, "ceiling: /healthz")
        scenarios = self.doc["scenarios"]
        runs = await self.slices(base, self.load("GET", "/healthz", None), plan.ceiling_slices, advance, "ceiling")
        scenarios["ceiling"] = summarize(runs, self.generator)
        path = f"/api/v1/sales/{in_stock['id']}/purchase"
        runs = await self.slices(base, self.load("POST", path, distinct), plan.in_stock_slices, advance, "in stock")
        scenarios["in_stock"] = summarize(runs, self.generator)
        advance(0, "profile: in stock, py-spy")
        skip = max(runs[-1][1].sent, default=0) if runs else 0
        self.doc["profile"] = await self.profile(base, self.load("POST", path, distinct), skip, work)
        advance(plan.slice_seconds, "profile")
        path = f"/api/v1/sales/{sold_out['id']}/purchase"
        runs = await self.slices(base, self.load("POST", path, storm), plan.sold_out_slices, advance, "sold out")
        scenarios["sold_out"] = summarize(runs, self.generator)

        advance(0, "drain: starting the order workers")
        self.doc["drain"] = await self.drain(settings, int(in_stock["id"]), advance)

        system.stop("api-redis")
        advance(0, "baseline: the db strategy")
        base = await system.start_api(self.port, self.api_workers, strategy="db")
        baseline = await asyncio.to_thread(self.sale, base, 10_000_000)
        path = f"/api/v1/sales/{baseline['id']}/purchase"
        runs = await self.slices(base, self.load("POST", path, distinct), plan.baseline_slices, advance, "baseline")
        scenarios["baseline_db"] = summarize(runs, self.generator)
        system.stop("api-db")

        advance(0, "full sale: starting the API")
        base = await system.start_api(self.port, self.api_workers)
        self.doc["full_sale"] = await self.full_sale(settings, base, crowd, advance)
        return self.doc

    async def profile(self, base: str, load: Load, skip: int, work: Path) -> dict:
        """py-spy on every API process during one more slice of the same load, kept out of the figures (sampling
        slows what it samples)."""
        py_spy = find_py_spy()
        if py_spy is None:
            return {"taken": False, "why": "py-spy is not installed (pip install py-spy)"}
        api = self.system.procs["api-redis"]
        pids = sorted(p for p in measure.rss_of_tree(api.pid) if p != api.pid)
        seconds = self.plan.slice_seconds
        load_task = asyncio.create_task(run_wrk(self.wrk, base, load, seconds + 1, skip))
        await asyncio.sleep(0.5)  # the load is under way before the first sample
        found, why = await record(py_spy, pids, seconds, work)
        result = await load_task
        if found is None:
            return {"taken": False, "why": why}
        return {
            "taken": True,
            "generator": f"py-spy record, 100 Hz, {len(pids)} API processes (without idle), during one extra "
            f"{seconds:g} s in-stock slice not counted in the figures",
            "rps_while_sampled": result.rps,
            **found.to_json(),
        }

    async def drain(self, settings: Settings, sale_id: int, advance: Advance) -> dict:
        async with open_container(settings) as c:
            accepted = await measure.accepted(c, sale_id)
            timeline = Timeline()
            workers = self.system.start_workers(self.order_writers)
            done = 0
            while time.monotonic() - timeline.started < self.plan.drain_timeout:
                if (proc := exited_early(workers)) is not None:  # not a drain that merely never ends
                    raise RuntimeError(f"a worker exited during the drain ({proc.args!r}, status {proc.returncode})")
                done = await measure.written(c, sale_id)
                timeline.add(written=done)
                if done >= accepted:
                    break
                await asyncio.sleep(0.25)
            rows = await measure.row_times(c, sale_id)
        advance(10, "drain")
        return {
            "generator": "order rows (written_at), polled every 0.25 s",
            "backlog": accepted,
            "written": done,
            "complete": done >= accepted,
            "seconds_to_drain": timeline.points[-1]["t"] if timeline.points else None,
            "orders_per_second": rows.orders_per_second if rows else 0.0,
            "timeline": timeline.points,
        }

    async def full_sale(self, settings: Settings, base: str, crowd: Path, advance: Advance) -> dict:
        plan = self.plan
        api = self.system.procs["api-redis"]
        async with open_container(settings) as c:
            memory_before = await measure.redis_used_memory(c)
            sale = await asyncio.to_thread(self.sale, base, plan.sale_stock)
            sale_id = int(sale["id"])
            timeline = Timeline()
            rss_peak: dict[int, int] = {}
            selling = True

            async def sample() -> None:
                while selling:
                    sizes = measure.rss_of_tree(api.pid)
                    for pid, size in sizes.items():
                        rss_peak[pid] = max(rss_peak.get(pid, 0), size)
                    timeline.add(
                        stock_left=await measure.stock_left(c, sale_id),
                        written=await measure.written(c, sale_id),
                        api_rss=sum(sizes.values()),
                    )
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            load = self.load("POST", f"/api/v1/sales/{sale_id}/purchase", crowd)
            runs: list[tuple[float, WrkResult]] = []
            sent, skip, rate = 0, 0, 0.0
            while sent < plan.sale_requests and len(runs) < 1000:
                remaining = plan.sale_requests - sent
                seconds = plan.slice_seconds if rate <= 0 else min(plan.slice_seconds, max(1.0, remaining / rate))
                result = await run_wrk(self.wrk, base, load, seconds, skip)
                runs.append((time.monotonic() - timeline.started, result))
                sent += result.requests
                skip = max(result.sent, default=skip)
                rate = result.rps
                advance(plan.sale_units * result.requests / plan.sale_requests, "full sale")
            storm = summarize(runs, self.generator)
            # one unit an order; the reservations the writer has written are already dropped from Redis
            accepted = plan.sale_stock - (await measure.stock_left(c, sale_id) or 0)
            done = 0
            while time.monotonic() - timeline.started < plan.drain_timeout:
                done = await measure.written(c, sale_id)
                if done >= accepted:
                    break
                await asyncio.sleep(0.25)
            selling = False
            await sampler
            rows = await measure.row_times(c, sale_id)
            keys, key_bytes = await measure.sale_key_bytes(c, sale_id)
            memory_after = await measure.redis_used_memory(c)
            checks = await measure.audit(c, settings, sale_id)
            left = await measure.stock_left(c, sale_id)
        advance(10, "full sale: audit")
        workers = {pid: size for pid, size in rss_peak.items() if pid != api.pid} or rss_peak
        return {
            "sale_id": sale_id,
            "stock": plan.sale_stock,
            "users": plan.sale_users,
            "storm": storm,
            "accepted": accepted,
            "written": done,
            "stock_left": left,
            "rows": None
            if rows is None
            else {
                "generator": "order rows: created_at (reservation, Redis' clock) and written_at",
                "orders": rows.orders,
                "selling_seconds": rows.selling_seconds,
                "written_after_sold_out_s": rows.written_after_sold_out,
                "orders_per_second": rows.orders_per_second,
            },
            "memory": {
                "generator": "/proc VmRSS every 0.5 s; Redis MEMORY USAGE of the sale's keys and INFO used_memory",
                "api_rss_peak_per_process": max(workers.values(), default=0),
                "api_processes": len(workers),
                "redis_sale_keys": keys,
                "redis_sale_bytes": key_bytes,
                "redis_bytes_per_order": key_bytes / accepted if accepted else None,
                "redis_used_memory_delta_per_order": (memory_after - memory_before) / accepted if accepted else None,
            },
            "audit": [{"name": ch.name, "ok": ch.ok, "detail": ch.detail} for ch in checks],
            "timeline": timeline.points,
        }

    def settings_doc(self, settings: Settings) -> dict:
        plan = self.plan
        return {
            "mode": "quick" if plan.quick else "full",
            "api_workers": self.api_workers,
            "order_writers": self.order_writers,
            "connections": plan.connections,
            "wrk_threads": plan.threads,
            "slice_seconds": plan.slice_seconds,
            "rate_limits": "off (FLASHSALE_RATE_LIMIT_USER=0, FLASHSALE_RATE_LIMIT_ADDRESS=0): one address, a crowd",
            "namespace": NAMESPACE,
            "database": self.system.mysql_url.rsplit("/", 1)[-1],
            "redis_pool_size": settings.redis_pool_size,
            "mysql_pool_size": settings.mysql_pool_size,
            "order_batch_size": settings.order_batch_size,
            "order_prefetch": settings.order_prefetch,
            "relay_batch_size": settings.relay_batch_size,
            "per_user_limit": 1,
            "in_stock_users": plan.distinct_users,
            "storm_users": plan.storm_users,
            "full_sale": f"stock {plan.sale_stock}, {plan.sale_requests} requests from {plan.sale_users} users",
            "generator_on_same_machine": True,
        }


async def run_bench(
    plan: Plan, api_workers: int, out: Path, wrk: str, wrk_version: str, advance: Advance, order_writers: int = 2
) -> dict:
    """Run every scenario; the document the report is written from. Stops and cleans up whatever happens."""
    from app.config import Settings as S

    bench = Bench(plan, api_workers, out, wrk, wrk_version, S.from_env(require_secret=False), order_writers)
    work = Path(tempfile.mkdtemp(prefix="flashsale-bench-"))
    started = time.time()
    try:
        doc = await bench.run(advance, work)
    except Exception as exc:  # the figures measured so far still make a report, which names the failure
        doc = bench.doc
        doc["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        bench.system.stop_all()
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(Exception):
            await bench.system.clean()
    doc["started_at"] = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
    doc["wall_seconds"] = round(time.time() - started, 1)
    return doc
