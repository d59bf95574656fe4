"""The machine and the versions a bench ran on, for the report."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import httpx

from app.bootstrap import Container
from app.config import Settings


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_bytes": memory_total(),
        "kernel": platform.release(),
        "system": platform.system(),
    }


def _package(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


async def versions(c: Container, settings: Settings, wrk: str) -> dict:
    redis_info = await c.redis.info("server")
    async with c.db.transaction() as cur:
        await cur.execute("SELECT VERSION()")
        row = await cur.fetchone()
    rabbit = None
    try:
        api = httpx.URL(settings.rabbitmq_api_url)
        async with httpx.AsyncClient(auth=(api.username or "guest", api.password or "guest"), timeout=5) as client:
            reply = await client.get(str(api.copy_with(username=None, password=None).join("/api/overview")))
            rabbit = reply.json().get("rabbitmq_version")
    except (httpx.HTTPError, ValueError):
        pass
    return {
        "flashsale": _package("flashsale"),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "uvicorn": _package("uvicorn"),
        "starlette": _package("starlette"),
        "redis_py": _package("redis"),
        "redis_server": redis_info.get("redis_version"),
        "mariadb": str(row[0]) if row else None,
        "rabbitmq": rabbit,
        "wrk": wrk,
    }
