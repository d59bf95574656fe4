"""Apply the versioned SQL migrations (yoyo-migrations), creating the database first if it is missing."""

from __future__ import annotations

from pathlib import Path

import pymysql
from yoyo import get_backend, read_migrations

from app.domain.errors import ServiceUnavailable
from app.infrastructure.mysql_url import parse_mysql_url

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(url: str) -> list[str]:
    """Returns the ids of the migrations it applied (empty when the schema was current)."""
    target = parse_mysql_url(url)
    try:
        conn = pymysql.connect(
            host=target.host, port=target.port, user=target.user, password=target.password, connect_timeout=5
        )
    except pymysql.err.OperationalError as exc:
        raise ServiceUnavailable("MySQL", "FLASHSALE_MYSQL_URL", str(exc.args[-1])) from exc
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{target.database}` CHARACTER SET utf8mb4")
        conn.commit()
    finally:
        conn.close()
    backend = get_backend(f"mysql://{target.user}:{target.password}@{target.host}:{target.port}/{target.database}")
    migrations = read_migrations(str(MIGRATIONS))
    with backend.lock():
        todo = backend.to_apply(migrations)
        backend.apply_migrations(todo)
    return [m.id for m in todo]
