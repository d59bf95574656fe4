"""`flashsale` subcommands. Each is a thin shell over a use case or an entry point."""

from __future__ import annotations

import os
import tempfile
from typing import TextIO

import click

from app.cli.runtime import config_failure, run, settings, setup_command_logging


@click.group()
def main() -> None:
    """flashsale: a flash-sale backend (Redis Lua reservation, RabbitMQ order pipeline, MariaDB truth)."""
    setup_command_logging()


@main.command()
def migrate() -> None:
    """Create the database if missing and apply the schema migrations."""
    from app.domain.errors import ServiceUnavailable
    from app.infrastructure.migrate import migrate as apply

    cfg = settings(require_secret=False)
    try:
        applied = apply(cfg.mysql_url)
    except ServiceUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else " (up to date)"))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def api(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (uvicorn, uvloop, httptools, no access log)."""
    import uvicorn

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker process writes its metrics here; /metrics merges them. Set before anything imports the
        # metrics module, or this process (the only server process with --workers 1) would count in memory.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="flashsale-metrics-")
    from app.bootstrap import check_stores

    cfg = settings()
    run(check_stores(cfg))
    uvicorn.run(
        "app.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,  # our handlers (text or JSON, scrubbed) take uvicorn's records too
        lifespan="on",
        timeout_graceful_shutdown=20,
        log_level="warning",
        # X-Forwarded-For/-Proto count only from the configured proxies; with none, never (not even from
        # 127.0.0.1, uvicorn's default), so a client cannot choose its address for the per-address limit.
        proxy_headers=bool(cfg.forwarded_allow_ips),
        forwarded_allow_ips=list(cfg.forwarded_allow_ips) or None,
    )


@main.command()
@click.argument("kind", type=click.Choice(["orders", "timeouts", "relay", "all"]), default="all")
def worker(kind: str) -> None:
    """Run the order pipeline's workers: the relay, the order writers, the payment timeouts, or all."""
    from app.workers.runner import run_workers

    run(run_workers(settings(require_secret=False), kind))


@main.command("operator")
@click.option("--namespace", default=None, help="Serve the FlashSales of this namespace only (default: all).")
@click.option(
    "--webhook",
    default=None,
    metavar="ADDRESS:PORT",
    help="Serve the validating admission webhook there (default: FLASHSALE_OPERATOR_WEBHOOK; empty: off).",
)
def operator_command(namespace: str | None, webhook: str | None) -> None:
    """Run the FlashSale operator: each FlashSale resource becomes a sale, run through its phases."""
    from app.bootstrap import check_stores
    from app.domain.errors import ConfigError
    from flashsale_operator.config import OperatorConfig
    from flashsale_operator.main import run_operator

    cfg = settings(require_secret=False)
    try:
        config = OperatorConfig.from_env(webhook=webhook)
    except ConfigError as exc:
        raise config_failure(exc) from None
    run(check_stores(cfg))
    run(run_operator(cfg, config, namespace))


@main.group()
def users() -> None:
    """Manage local users."""


@users.command("create")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--admin", is_flag=True, help="Give the user the admin role.")
def users_create(name: str, password: str, admin: bool) -> None:
    """Create a user (an admin with --admin)."""
    from app.cli.commands import create_user

    user_id = run(create_user(settings(require_secret=False), name, password, admin))
    click.echo(user_id)


@main.command()
@click.option("--user", "user_id", required=True, help="Any user id: identity may come from elsewhere.")
@click.option("--admin", is_flag=True)
@click.option("--ttl", type=click.IntRange(1, 30 * 86400), default=None, help="Lifetime in seconds.")
def token(user_id: str, admin: bool, ttl: int | None) -> None:
    """Mint a token from the configured secret."""
    from app.infrastructure.tokens import TokenService

    cfg = settings()
    try:
        click.echo(
            TokenService(cfg.jwt_secret, cfg.token_ttl_seconds).issue(user_id, "admin" if admin else "user", ttl)
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("sale_id", type=click.IntRange(1))
def preheat(sale_id: int) -> None:
    """Load a sale into the cache from the database truth."""
    from app.cli.commands import preheat_sale

    click.echo(run(preheat_sale(settings(require_secret=False), sale_id)))


@main.command()
@click.argument("sale_id", type=click.IntRange(1))
@click.option(
    "--accepted",
    type=click.File("r"),
    default=None,
    help="A file of the order ids of the 202s a client received, one a line: each must have its order (those "
    "lost with a cache that lost its data are counted as lost).",
)
def audit(sale_id: int, accepted: TextIO | None) -> None:
    """Check every invariant of a sale (read-only); exit 1 if one fails."""
    from app.cli.commands import audit_sale

    replies = None
    if accepted is not None:
        try:
            replies = {int(line) for line in accepted if line.strip()}
        except ValueError as exc:
            raise click.BadParameter(f"not an order id: {exc}", param_hint="--accepted") from None
    ok = run(audit_sale(settings(require_secret=False), sale_id, replies))
    raise SystemExit(0 if ok else 1)


@main.group()
def dlq() -> None:
    """Dead-lettered messages."""


@dlq.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def dlq_list(limit: int) -> None:
    """Show dead-lettered messages (they stay in the queue)."""
    from app.cli.commands import list_dead_letters

    run(list_dead_letters(settings(require_secret=False), limit))


@dlq.command("replay")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=1_000_000)
def dlq_replay(limit: int) -> None:
    """Send dead-lettered messages back to the queue they came from."""
    from app.cli.commands import replay_dead_letters

    click.echo(f"replayed {run(replay_dead_letters(settings(require_secret=False), limit))} message(s)")


@main.command()
@click.option("--shoppers", type=click.IntRange(1, 1_000_000), default=5000, show_default=True)
@click.option("--stock", type=click.IntRange(1, 10_000_000), default=1000, show_default=True)
@click.option("--pay-share", type=click.FloatRange(0, 1), default=0.3, show_default=True)
@click.option("--payment-timeout", type=click.IntRange(1, 86400), default=20, show_default=True)
@click.option("--api-workers", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--serve", is_flag=True, help="After the report, keep serving the storefront until Ctrl-C or SIGTERM.")
def demo(
    shoppers: int, stock: int, pay_share: float, payment_timeout: int, api_workers: int, port: int, serve: bool
) -> None:
    """Run the whole system locally: one sale, a live progress view, a closing report and the audit."""
    try:
        from app.cli.demo import DemoOptions, run_demo
    except ModuleNotFoundError as exc:  # the services never need the demo's packages
        raise click.ClickException(
            f"the demo needs the `demo` extra ({exc.name} is missing): pip install 'flashsale[demo]'"
        ) from None

    options = DemoOptions(shoppers, stock, pay_share, payment_timeout, api_workers, port, serve)
    raise SystemExit(run(run_demo(options)))


def _register() -> None:
    from app.cli.bench import bench
    from app.cli.loadtest import loadtest

    main.add_command(loadtest)
    main.add_command(bench)


_register()
