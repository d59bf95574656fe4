"""`flashsale loadtest setup`: a sale and offline-minted tokens for the k6 scripts in loadtests/.

It creates a commodity and a sale through the public API (with an admin token minted from the configured secret),
preheats the sale, mints one user token per simulated shopper (users that were never registered: the contract lets
identity come from elsewhere) and writes everything the scripts need to one JSON file, so a load test has no login
storm and no setup traffic of its own."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import httpx

from app.domain.timefmt import format_time
from app.infrastructure.tokens import TokenService


@dataclass(frozen=True)
class LoadtestPlan:
    base_url: str
    users: int
    stock: int
    per_user_limit: int
    starts_in_seconds: float
    duration_seconds: int
    payment_timeout_seconds: int
    token_ttl_seconds: int


def _call(client: httpx.Client, method: str, path: str, token: str, expected: int, **kw: object) -> dict:
    reply = client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)  # type: ignore[arg-type]
    if reply.status_code != expected:
        raise RuntimeError(f"{method} {path} answered {reply.status_code}, not {expected}: {reply.text[:300]}")
    body: dict = reply.json()
    return body


def create_sale(client: httpx.Client, admin: str, plan: LoadtestPlan, tag: str) -> dict:
    """A commodity and a preheated sale, through the API as an admin would."""
    commodity = _call(
        client, "POST", "/api/v1/commodities", admin, 201, json={"name": f"Load test {tag}", "price_cents": 4_900}
    )
    now = datetime.now(UTC)
    sale = _call(
        client,
        "POST",
        "/api/v1/sales",
        admin,
        201,
        json={
            "commodity_id": commodity["id"],
            "name": f"Load test {tag}",
            "price_cents": 1_900,
            "stock": plan.stock,
            "starts_at": format_time(now + timedelta(seconds=plan.starts_in_seconds)),
            "ends_at": format_time(now + timedelta(seconds=plan.starts_in_seconds + plan.duration_seconds)),
            "per_user_limit": plan.per_user_limit,
            "payment_timeout_seconds": plan.payment_timeout_seconds,
        },
    )
    return _call(client, "POST", f"/api/v1/sales/{sale['id']}/preheat", admin, 200)


def setup_loadtest(tokens: TokenService, plan: LoadtestPlan) -> dict:
    """Create the sale and mint the tokens; the document the k6 scripts read."""
    tag = secrets.token_hex(4)
    admin = tokens.issue(f"loadtest-admin-{tag}", "admin", plan.token_ttl_seconds)
    with httpx.Client(base_url=plan.base_url, timeout=30) as client:
        sale = create_sale(client, admin, plan, tag)
    users = [f"lt-{tag}-{i}" for i in range(plan.users)]
    return {
        "base_url": plan.base_url,
        "sale_id": sale["id"],
        "starts_at": sale["starts_at"],
        "ends_at": sale["ends_at"],
        "stock": sale["stock"],
        "per_user_limit": sale["per_user_limit"],
        "tokens": [tokens.issue(user, "user", plan.token_ttl_seconds) for user in users],
    }


def write_setup(document: dict, out: Path) -> None:
    """Write the document readable by its owner only: it holds bearer tokens."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.touch(mode=0o600, exist_ok=True)
    out.chmod(0o600)
    out.write_text(json.dumps(document))


@click.group()
def loadtest() -> None:
    """Prepare the k6 load tests (loadtests/)."""


@loadtest.command("setup")
@click.option("--url", "base_url", default="http://127.0.0.1:8000", show_default=True, help="The API's base URL.")
@click.option("--users", type=click.IntRange(1, 1_000_000), default=2000, show_default=True)
@click.option("--stock", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True)
@click.option("--per-user-limit", type=click.IntRange(1, 1000), default=1, show_default=True)
@click.option("--starts-in", type=click.FloatRange(0, 86400), default=5.0, show_default=True, help="Seconds.")
@click.option("--duration", type=click.IntRange(60, 30 * 86400), default=3600, show_default=True, help="Seconds.")
@click.option("--payment-timeout", type=click.IntRange(1, 86400), default=900, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("loadtests/.setup.json"))
def setup_command(
    base_url: str,
    users: int,
    stock: int,
    per_user_limit: int,
    starts_in: float,
    duration: int,
    payment_timeout: int,
    out: Path,
) -> None:
    """Create a preheated sale and mint user tokens into a JSON file for the k6 scripts (SETUP=...)."""
    from app.cli.runtime import settings

    cfg = settings()
    ttl = max(cfg.token_ttl_seconds, int(starts_in) + duration)
    plan = LoadtestPlan(base_url.rstrip("/"), users, stock, per_user_limit, starts_in, duration, payment_timeout, ttl)
    try:
        document = setup_loadtest(TokenService(cfg.jwt_secret, ttl), plan)
    except (httpx.HTTPError, RuntimeError) as exc:
        raise click.ClickException(f"load test setup against {base_url}: {exc}") from None
    write_setup(document, out)
    click.echo(f"sale {document['sale_id']} starts {document['starts_at']}; {users} tokens in {out}")
