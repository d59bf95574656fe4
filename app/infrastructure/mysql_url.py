"""Parse FLASHSALE_MYSQL_URL into connection arguments."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from app.domain.errors import ConfigError


@dataclass(frozen=True)
class MysqlTarget:
    host: str
    port: int
    user: str
    password: str
    database: str

    def server_url(self) -> str:
        """The same server without a database, for CREATE DATABASE."""
        return f"mysql://{self.user}:{self.password}@{self.host}:{self.port}/"


def parse_mysql_url(url: str) -> MysqlTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ConfigError(f"FLASHSALE_MYSQL_URL must start with mysql://, got {url.split(':')[0]!r}")
    database = parts.path.lstrip("/")
    if not database or not database.replace("_", "").isalnum() or len(database) > 64:
        raise ConfigError("FLASHSALE_MYSQL_URL must name a database of [A-Za-z0-9_] (e.g. /flashsale)")
    return MysqlTarget(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=database,
    )
