"""Settings read from the environment, once, at start-up (never at import time)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from redis.connection import parse_url as redis_parse_url

from app.domain.errors import ConfigError
from app.env_values import integer, networks, number, url
from app.infrastructure.mysql_url import parse_mysql_url

MIN_SECRET_BYTES = 32


def dev_state_dir(env: dict[str, str]) -> Path:
    """Where development state (the generated secret) lives, shared by every process of the machine."""
    base = env.get("FLASHSALE_STATE_DIR") or env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "flashsale"


def _dev_secret(env: dict[str, str]) -> str:
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
    order_batch_size: int = 100
    order_max_attempts: int = 5
    timeout_sweep_seconds: float = 1.0
    worker_metrics_port: int = 9100
    node_lease_seconds: int = 30
    relay_batch_size: int = 256
    sold_out_flag_seconds: float = 1.0
    # Proxies whose X-Forwarded-For names the client (addresses or CIDR networks, or "*"); none by default.
    forwarded_allow_ips: tuple[str, ...] = ()
    log_format: str = "text"  # or "json": one JSON object a line

    @property
    def amqp_vhost(self) -> str:
        """Where the queues are: the management API must be asked about this vhost, not the default one."""
        return vhost_of_url(self.amqp_url)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, require_secret: bool = True) -> Settings:
        env = dict(os.environ if env is None else env)
        dev = env.get("FLASHSALE_DEV", "") not in ("", "0", "false", "no")
        secret = env.get("FLASHSALE_JWT_SECRET", "")
        if secret:
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(f"FLASHSALE_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        elif dev:
            secret = _dev_secret(env)
        elif require_secret:
            raise ConfigError("FLASHSALE_JWT_SECRET is not set (set it, or FLASHSALE_DEV=1 for a generated one)")
        strategy = env.get("FLASHSALE_STOCK_STRATEGY", "redis")
        if strategy not in ("redis", "db"):
            raise ConfigError(f"FLASHSALE_STOCK_STRATEGY must be 'redis' or 'db', got {strategy!r}")
        namespace = env.get("FLASHSALE_NAMESPACE", "fs")
        if not namespace.replace("_", "").replace("-", "").isalnum() or len(namespace) > 32:
            raise ConfigError("FLASHSALE_NAMESPACE must be 1-32 characters of [A-Za-z0-9_-]")
        log_format = log_format_from_env(env)
        return cls(
            redis_url=url(env, "FLASHSALE_REDIS_URL", cls.redis_url, ("redis", "rediss", "unix"), redis_parse_url),
            amqp_url=url(env, "FLASHSALE_AMQP_URL", cls.amqp_url, ("amqp", "amqps")),
            rabbitmq_api_url=url(env, "FLASHSALE_RABBITMQ_API_URL", cls.rabbitmq_api_url, ("http", "https")),
            mysql_url=url(env, "FLASHSALE_MYSQL_URL", cls.mysql_url, ("mysql", "mariadb"), parse_mysql_url),
            jwt_secret=secret,
            token_ttl_seconds=integer(env, "FLASHSALE_TOKEN_TTL_SECONDS", 3600, 1, 30 * 86400),
            stock_strategy=strategy,
            dev=dev,
            rate_limit_user=integer(env, "FLASHSALE_RATE_LIMIT_USER", cls.rate_limit_user, 0, 10**9),
            rate_limit_address=integer(env, "FLASHSALE_RATE_LIMIT_ADDRESS", cls.rate_limit_address, 0, 10**9),
            rate_limit_login=integer(env, "FLASHSALE_RATE_LIMIT_LOGIN", cls.rate_limit_login, 0, 10**9),
            password_hash_concurrency=integer(
                env, "FLASHSALE_PASSWORD_HASH_CONCURRENCY", cls.password_hash_concurrency, 1, 64
            ),
            handoff_backlog_max=integer(env, "FLASHSALE_HANDOFF_BACKLOG_MAX", cls.handoff_backlog_max, 0, 10**12),
            orders_per_user_max=integer(env, "FLASHSALE_ORDERS_PER_USER_MAX", cls.orders_per_user_max, 0, 10**6),
            redis_pool_size=integer(env, "FLASHSALE_REDIS_POOL_SIZE", cls.redis_pool_size, 1, 10_000),
            mysql_pool_size=integer(env, "FLASHSALE_MYSQL_POOL_SIZE", cls.mysql_pool_size, 1, 1_000),
            namespace=namespace,
            order_prefetch=integer(env, "FLASHSALE_ORDER_PREFETCH", cls.order_prefetch, 1, 65_535),
            order_batch_size=integer(env, "FLASHSALE_ORDER_BATCH_SIZE", cls.order_batch_size, 1, 10_000),
            order_max_attempts=integer(env, "FLASHSALE_ORDER_MAX_ATTEMPTS", cls.order_max_attempts, 1, 100),
            timeout_sweep_seconds=number(
                env, "FLASHSALE_TIMEOUT_SWEEP_SECONDS", cls.timeout_sweep_seconds, 0, 3600, above_lo=True
            ),
            worker_metrics_port=integer(env, "FLASHSALE_WORKER_METRICS_PORT", cls.worker_metrics_port, 0, 65535),
            node_lease_seconds=integer(env, "FLASHSALE_NODE_LEASE_SECONDS", cls.node_lease_seconds, 3, 3600),
            relay_batch_size=integer(env, "FLASHSALE_RELAY_BATCH_SIZE", cls.relay_batch_size, 1, 10_000),
            sold_out_flag_seconds=number(env, "FLASHSALE_SOLD_OUT_FLAG_SECONDS", cls.sold_out_flag_seconds, 0, 60),
            forwarded_allow_ips=networks(env, "FLASHSALE_FORWARDED_ALLOW_IPS"),
            log_format=log_format,
        )


def log_format_from_env(env: Mapping[str, str]) -> str:
    """FLASHSALE_LOG_FORMAT alone: every command sets its logging up before it reads (or needs) the rest."""
    log_format = env.get("FLASHSALE_LOG_FORMAT") or Settings.log_format
    if log_format not in ("text", "json"):
        raise ConfigError(f"FLASHSALE_LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
    return log_format
