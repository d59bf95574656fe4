"""Settings read from the environment, once, at start-up (never at import time)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar, cast
from urllib.parse import unquote, urlsplit

from redis.connection import parse_url as redis_parse_url

from app.domain.errors import ConfigError
from app.env_values import choice, flag, integer, networks, number, url
from app.infrastructure.mysql_url import parse_mysql_url

MIN_SECRET_BYTES = 32
P = ParamSpec("P")
T = TypeVar("T")

# Each number's range, lowest and highest allowed (the chart's values.schema.json must agree: tests/chart check it).
# Every period has a floor: a sweep of 0 s would spin; a token that lives under a minute is a typo.
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "FLASHSALE_TOKEN_TTL_SECONDS": (60, 30 * 86400),
    "FLASHSALE_RATE_LIMIT_USER": (0, 10**9),  # requests a second; 0: off
    "FLASHSALE_RATE_LIMIT_ADDRESS": (0, 10**9),  # 0: off
    "FLASHSALE_RATE_LIMIT_LOGIN": (0, 10**9),  # 0: off
    "FLASHSALE_PASSWORD_HASH_CONCURRENCY": (1, 64),
    "FLASHSALE_HANDOFF_BACKLOG_MAX": (0, 10**12),  # 0: no cap
    "FLASHSALE_ORDERS_PER_USER_MAX": (0, 10**6),  # 0: no cap
    "FLASHSALE_REDIS_POOL_SIZE": (1, 10_000),
    "FLASHSALE_MYSQL_POOL_SIZE": (1, 1_000),
    "FLASHSALE_ORDER_PREFETCH": (1, 65_535),
    "FLASHSALE_ORDER_BATCH_SIZE": (1, 10_000),
    "FLASHSALE_ORDER_MAX_ATTEMPTS": (1, 100),
    "FLASHSALE_WORKER_METRICS_PORT": (0, 65_535),  # 0: no /metrics
    "FLASHSALE_NODE_LEASE_SECONDS": (3, 3600),  # a holder trusts each renewal for min(3, lease - 1) s
    "FLASHSALE_RELAY_BATCH_SIZE": (1, 10_000),
}
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "FLASHSALE_TIMEOUT_SWEEP_SECONDS": (0.1, 3600.0),
    "FLASHSALE_SOLD_OUT_FLAG_SECONDS": (0.0, 60.0),  # how long a sold-out flag is trusted; 0: no flag
}


def dev_state_dir(env: Mapping[str, str]) -> Path:
    """Where development state (the generated secret) lives, shared by every process of the machine."""
    base = env.get("FLASHSALE_STATE_DIR") or env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "flashsale"


def _dev_secret(env: Mapping[str, str]) -> str:
    """Generate the development secret once into a 0600 file; every process reads the same one."""
    directory = dev_state_dir(env)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "jwt-secret"
    if not path.exists():
        # Write a private (0600) temporary file, then link it into place: the link is atomic and fails if
        # another process got there first, so no process ever reads a half-written secret.
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".jwt-secret.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"the development secret in {path} is too short; delete the file to regenerate it")
    return secret


def vhost_of_url(url: str) -> str:
    """The virtual host an AMQP URL names, read as aio-pika reads it: no path (or `/`) is the default vhost `/`,
    otherwise the percent-decoded path without its leading slash (`/%2F` is `/` too)."""
    path = urlsplit(url).path
    return "/" if path in ("", "/") else unquote(path[1:])


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    rabbitmq_api_url: str = "http://guest:guest@127.0.0.1:15672/"
    mysql_url: str = "mysql://root@127.0.0.1:3306/flashsale"
    jwt_secret: str = field(default="", repr=False)
    token_ttl_seconds: int = 3600
    stock_strategy: str = "redis"
    dev: bool = False
    rate_limit_user: int = 20
    rate_limit_address: int = 2000
    # Sign-ups and sign-ins per second, per client address and per username: each costs an argon2 hash.
    rate_limit_login: int = 5
    password_hash_concurrency: int = 2
    handoff_backlog_max: int = 1_000_000
    orders_per_user_max: int = 100
    redis_pool_size: int = 64
    mysql_pool_size: int = 20
    # Every Redis key and RabbitMQ name starts with this; tests give each run its own.
    namespace: str = "fs"
    order_prefetch: int = 50
    order_batch_size: int = 500
    order_max_attempts: int = 5
    timeout_sweep_seconds: float = 1.0
    worker_metrics_port: int = 9100
    node_lease_seconds: int = 30
    relay_batch_size: int = 1000
    sold_out_flag_seconds: float = 1.0
    # Proxies whose X-Forwarded-For names the client (addresses or CIDR networks, or "*"); none by default.
    forwarded_allow_ips: tuple[str, ...] = ()
    log_format: str = "text"  # or "json": one JSON object a line

    @property
    def amqp_vhost(self) -> str:
        """Where the queues are: the management API must be asked about this vhost, not the default one."""
        return vhost_of_url(self.amqp_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, require_secret: bool = True) -> Settings:
        """Every setting read and checked; ConfigError lists every problem found, one line each (not only the
        first, so one restart fixes them all)."""
        env = dict(os.environ if env is None else env)
        p = _Problems()

        def whole(name: str, default: int) -> int:
            lo, hi = INTEGER_RANGES[name]
            return p.read(integer, env, name, default, lo, hi)

        def real(name: str, default: float) -> float:
            lo, hi = NUMBER_RANGES[name]
            return p.read(number, env, name, default, lo, hi)

        dev = p.read(flag, env, "FLASHSALE_DEV")
        secret = p.read(_secret, env, dev, require_secret)
        settings = cls(
            redis_url=p.read(
                url, env, "FLASHSALE_REDIS_URL", cls.redis_url, ("redis", "rediss", "unix"), redis_parse_url
            ),
            amqp_url=p.read(url, env, "FLASHSALE_AMQP_URL", cls.amqp_url, ("amqp", "amqps")),
            rabbitmq_api_url=p.read(url, env, "FLASHSALE_RABBITMQ_API_URL", cls.rabbitmq_api_url, ("http", "https")),
            mysql_url=p.read(url, env, "FLASHSALE_MYSQL_URL", cls.mysql_url, ("mysql", "mariadb"), parse_mysql_url),
            jwt_secret=secret,
            token_ttl_seconds=whole("FLASHSALE_TOKEN_TTL_SECONDS", cls.token_ttl_seconds),
            stock_strategy=p.read(choice, env, "FLASHSALE_STOCK_STRATEGY", cls.stock_strategy, ("redis", "db")),
            dev=dev,
            rate_limit_user=whole("FLASHSALE_RATE_LIMIT_USER", cls.rate_limit_user),
            rate_limit_address=whole("FLASHSALE_RATE_LIMIT_ADDRESS", cls.rate_limit_address),
            rate_limit_login=whole("FLASHSALE_RATE_LIMIT_LOGIN", cls.rate_limit_login),
            password_hash_concurrency=whole("FLASHSALE_PASSWORD_HASH_CONCURRENCY", cls.password_hash_concurrency),
            handoff_backlog_max=whole("FLASHSALE_HANDOFF_BACKLOG_MAX", cls.handoff_backlog_max),
            orders_per_user_max=whole("FLASHSALE_ORDERS_PER_USER_MAX", cls.orders_per_user_max),
            redis_pool_size=whole("FLASHSALE_REDIS_POOL_SIZE", cls.redis_pool_size),
            mysql_pool_size=whole("FLASHSALE_MYSQL_POOL_SIZE", cls.mysql_pool_size),
            namespace=p.read(_namespace, env),
            order_prefetch=whole("FLASHSALE_ORDER_PREFETCH", cls.order_prefetch),
            order_batch_size=whole("FLASHSALE_ORDER_BATCH_SIZE", cls.order_batch_size),
            order_max_attempts=whole("FLASHSALE_ORDER_MAX_ATTEMPTS", cls.order_max_attempts),
            timeout_sweep_seconds=real("FLASHSALE_TIMEOUT_SWEEP_SECONDS", cls.timeout_sweep_seconds),
            worker_metrics_port=whole("FLASHSALE_WORKER_METRICS_PORT", cls.worker_metrics_port),
            node_lease_seconds=whole("FLASHSALE_NODE_LEASE_SECONDS", cls.node_lease_seconds),
            relay_batch_size=whole("FLASHSALE_RELAY_BATCH_SIZE", cls.relay_batch_size),
            sold_out_flag_seconds=real("FLASHSALE_SOLD_OUT_FLAG_SECONDS", cls.sold_out_flag_seconds),
            forwarded_allow_ips=p.read(networks, env, "FLASHSALE_FORWARDED_ALLOW_IPS"),
            log_format=p.read(log_format_from_env, env),
        )
        p.raise_any()
        return settings


class _Problems:
    """Collects the one-line error of each setting that is wrong, to report them all together."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def read(self, reader: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return reader(*args, **kwargs)
        except ConfigError as exc:
            self.lines.extend(exc.problems)
            # A placeholder: raise_any() refuses the settings before anything reads it.
            return cast(T, None)

    def raise_any(self) -> None:
        if self.lines:
            raise ConfigError(*self.lines)


def _secret(env: Mapping[str, str], dev: bool | None, require_secret: bool) -> str:
    secret = env.get("FLASHSALE_JWT_SECRET", "")
    if secret:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"FLASHSALE_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return secret
    if dev:
        return _dev_secret(env)
    if require_secret and dev is not None:  # (a malformed FLASHSALE_DEV is reported on its own)
        raise ConfigError("FLASHSALE_JWT_SECRET is not set (set it, or FLASHSALE_DEV=1 for a generated one)")
    return ""


def _namespace(env: Mapping[str, str]) -> str:
    namespace = env.get("FLASHSALE_NAMESPACE", "fs")
    if not namespace.replace("_", "").replace("-", "").isalnum() or not namespace.isascii() or len(namespace) > 32:
        raise ConfigError(f"FLASHSALE_NAMESPACE must be 1-32 characters of [A-Za-z0-9_-], got {namespace!r}")
    return namespace


def log_format_from_env(env: Mapping[str, str]) -> str:
    """FLASHSALE_LOG_FORMAT alone: every command sets its logging up before it reads (or needs) the rest."""
    return choice(env, "FLASHSALE_LOG_FORMAT", Settings.log_format, ("text", "json"))
