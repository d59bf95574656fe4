"""The system under test, on this machine, in the bench's own database, key prefix and queue names.

Nothing of another deployment is touched: the database is `<configured name>_bench` (dropped and migrated at the
start), every Redis key and RabbitMQ name starts with the bench's namespace (deleted at the start and the end), the
token secret is minted per run, and the rate limits are off (the bench says so in its report)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
import httpx
import pymysql
from redis.asyncio import Redis

from app.cli.demo import wait_ready
from app.cli.processes import Process, spawn, stop
from app.config import Settings
from app.infrastructure.migrate import migrate
from app.infrastructure.mysql_url import parse_mysql_url

NAMESPACE = "fsbench"


def bench_database_url(mysql_url: str) -> str:
    """The configured server, with the bench's own database name."""
    parts = urlsplit(mysql_url)
    name = parse_mysql_url(mysql_url).database
    return urlunsplit(parts._replace(path=f"/{name}_bench"))


@dataclass
class BenchSystem:
    """The API and worker processes of one bench run; `stop_all` ends whatever is still running."""

    base: Settings
    logs: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    procs: dict[str, Process] = field(default_factory=dict)

    @property
    def mysql_url(self) -> str:
        return bench_database_url(self.base.mysql_url)

    def env(self, strategy: str = "redis") -> dict[str, str]:

        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(
            FLASHSALE_NAMESPACE=NAMESPACE,
            FLASHSALE_MYSQL_URL=self.mysql_url,
            FLASHSALE_REDIS_URL=self.base.redis_url,
            FLASHSALE_AMQP_URL=self.base.amqp_url,
            FLASHSALE_RABBITMQ_API_URL=self.base.rabbitmq_api_url,
            FLASHSALE_JWT_SECRET=self.secret,
            FLASHSALE_STOCK_STRATEGY=strategy,
            FLASHSALE_RATE_LIMIT_USER="0",
            FLASHSALE_RATE_LIMIT_ADDRESS="0",
            FLASHSALE_WORKER_METRICS_PORT="0",
            FLASHSALE_LOG_FORMAT="text",
        )
        return env

    def settings(self) -> Settings:
        return Settings.from_env(self.env())

    async def prepare(self) -> None:
        """A fresh database and an empty namespace."""
        target = parse_mysql_url(self.mysql_url)
        conn = pymysql.connect(
            host=target.host, port=target.port, user=target.user, password=target.password, connect_timeout=5
        )
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{target.database}`")
            conn.commit()
        finally:
            conn.close()
        logging.getLogger("yoyo").setLevel(logging.WARNING)  # a fresh database: every migration, no news
        await asyncio.to_thread(migrate, self.mysql_url)
        await self.clean()

    async def clean(self) -> None:
        """Delete the namespace's Redis keys and RabbitMQ queues (only the bench's own)."""
        redis = Redis.from_url(self.base.redis_url)
        try:
            batch: list[bytes] = []
            async for key in redis.scan_iter(match=f"{NAMESPACE}:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await redis.unlink(*batch)
                    batch.clear()
            if batch:
                await redis.unlink(*batch)
        finally:
            await redis.aclose()
        await asyncio.to_thread(self._delete_queues)

    def _delete_queues(self) -> None:
        api = urlsplit(self.base.rabbitmq_api_url)
        auth = (api.username or "guest", api.password or "guest")
        root = urlunsplit(api._replace(netloc=f"{api.hostname}:{api.port or 15672}", path="")).rstrip("/")
        vhost = quote(self.base.amqp_vhost, safe="")
        with httpx.Client(auth=auth, timeout=10) as client:
            reply = client.get(f"{root}/api/queues/{vhost}", params={"columns": "name"})
            reply.raise_for_status()
            for queue in reply.json():
                if queue["name"].startswith(f"{NAMESPACE}."):
                    client.delete(f"{root}/api/queues/{vhost}/{quote(queue['name'], safe='')}")

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log = (self.logs / f"{name}.log").open("ab")
        proc = spawn(args, env, output=log)
        log.close()
        self.procs[name] = proc
        return proc

    async def start_api(self, port: int, workers: int, strategy: str = "redis") -> str:
        """`flashsale api` with `workers` processes; returns its base URL once it is ready."""
        proc = self._spawn(
            f"api-{strategy}", ["api", "--port", str(port), "--workers", str(workers)], self.env(strategy)
        )
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, base, [proc], within=90)
        return base

    def start_workers(self, order_writers: int) -> list[Process]:
        """The relay, `order_writers` order writers and the timeout worker, each a process of its own (as the
        chart deploys them), so the relay and the writers do not share one core's event loop."""
        env = self.env()
        kinds = ["relay", *["orders"] * order_writers, "timeouts"]
        return [
            self._spawn(f"worker-{kind}" + (f"-{n}" if kind == "orders" else ""), ["worker", kind], env)
            for n, kind in enumerate(kinds)
        ]

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            stop([proc])

    def stop_all(self) -> None:
        procs = list(self.procs.values())
        self.procs.clear()
        with contextlib.suppress(subprocess.SubprocessError):
            stop(procs)
