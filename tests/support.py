"""Test support: an isolated world per session (its own database, key prefix and queue names), processes
of the real API and workers, and small HTTP helpers. Everything talks to the real services."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx

from app.config import Settings
from app.infrastructure.tokens import TokenService

ROOT = Path(__file__).resolve().parents[1]
TEST_SECRET = "test-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    """One isolated deployment on the shared services."""

    namespace: str
    database: str
    env: dict[str, str]
    settings: Settings
    tokens: TokenService
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # How to run `flashsale`: this checkout's package by default; an installed wheel or an image in tests/image.
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "app.cli"])
    cwd: Path | None = None

    @classmethod
    def create(cls, **overrides: str) -> World:
        tag = secrets.token_hex(3)
        namespace = f"t{tag}"
        database = f"fs_test_{tag}"
        env = {
            **os.environ,
            "FLASHSALE_NAMESPACE": namespace,
            "FLASHSALE_MYSQL_URL": f"mysql://root@127.0.0.1:3306/{database}",
            "FLASHSALE_JWT_SECRET": TEST_SECRET,
            "FLASHSALE_RATE_LIMIT_USER": "0",
            "FLASHSALE_RATE_LIMIT_ADDRESS": "0",
            "FLASHSALE_RATE_LIMIT_LOGIN": "0",
            "FLASHSALE_TIMEOUT_SWEEP_SECONDS": "1",
            "FLASHSALE_WORKER_METRICS_PORT": "0",
            **overrides,
        }
        env.pop("FLASHSALE_DEV", None)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        settings = Settings.from_env(env)
        return cls(namespace, database, env, settings, TokenService(settings.jwt_secret, 3600))

    def token(self, user: str, admin: bool = False) -> str:
        return self.tokens.issue(user, "admin" if admin else "user")

    def headers(self, user: str, admin: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, admin)}"}

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [*self.command, *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_api(self, port: int | None = None, workers: int = 1, env: dict[str, str] | None = None) -> str:
        port = port or free_port()
        proc = self.spawn("api", "--port", str(port), "--workers", str(workers), env=env)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc)
        return base

    def start_workers(self, kind: str = "all", env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return self.spawn("worker", kind, env=env)

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def stop_all(self) -> None:
        for proc in self.procs:
            self.stop(proc)
        self.procs.clear()


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the API exited with {proc.returncode}: {err[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the API at {base} was not ready in {timeout}s")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def window(start_offset: float = -60, length: float = 3600) -> tuple[str, str]:
    now = datetime.now(UTC)
    return iso(now + timedelta(seconds=start_offset)), iso(now + timedelta(seconds=start_offset + length))


def make_sale(
    client: httpx.Client,
    world: World,
    *,
    stock: int = 10,
    per_user_limit: int = 1,
    price_cents: int = 500,
    payment_timeout_seconds: int = 900,
    start_offset: float = -60,
    length: float = 3600,
    preheat: bool = True,
) -> dict:
    admin = world.headers("admin", admin=True)
    commodity = client.post("/api/v1/commodities", json={"name": "Widget", "price_cents": 900}, headers=admin)
    assert commodity.status_code == 201, commodity.text
    starts, ends = window(start_offset, length)
    sale = client.post(
        "/api/v1/sales",
        json={
            "commodity_id": commodity.json()["id"],
            "name": "Test sale",
            "price_cents": price_cents,
            "stock": stock,
            "starts_at": starts,
            "ends_at": ends,
            "per_user_limit": per_user_limit,
            "payment_timeout_seconds": payment_timeout_seconds,
        },
        headers=admin,
    )
    assert sale.status_code == 201, sale.text
    body = sale.json()
    if preheat:
        loaded = client.post(f"/api/v1/sales/{body['id']}/preheat", headers=admin)
        assert loaded.status_code == 200, loaded.text
        body = loaded.json()
    return body


def teardown_world(world: World) -> None:
    """Drop the world's database, Redis keys and queues."""
    import pymysql
    import redis

    world.stop_all()
    conn = pymysql.connect(host="127.0.0.1", user="root")
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{world.database}`")
    finally:
        conn.close()
    r = redis.Redis.from_url(world.settings.redis_url)
    for key in r.scan_iter(match=f"{world.namespace}:*", count=1000):
        r.delete(key)
    r.close()
    delete_queues(world)


def delete_queues(world: World) -> None:
    from app.infrastructure.amqp import all_queues
    from app.infrastructure.keys import Names

    api = f"http://127.0.0.1:15672/api/queues/{quote(world.settings.amqp_vhost, safe='')}/"
    with httpx.Client(auth=("guest", "guest"), timeout=5) as client:
        for queue in all_queues(Names(world.namespace)):
            with contextlib.suppress(httpx.HTTPError):
                client.delete(api + queue)


@contextlib.contextmanager
def world_context(**overrides: str) -> Iterator[World]:
    world = World.create(**overrides)
    result = world.cli("migrate")
    assert "applied" in result.stdout, result.stderr
    try:
        yield world
    finally:
        teardown_world(world)
