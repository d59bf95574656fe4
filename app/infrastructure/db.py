"""The MariaDB/MySQL connection pool (asyncmy) and the one place that turns its failures into 503s."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncmy
from asyncmy.errors import DataError, IntegrityError, OperationalError
from asyncmy.errors import Error as MysqlError

from app.domain.errors import ServiceUnavailable, Unavailable
from app.infrastructure.mysql_url import MysqlTarget, parse_mysql_url

__all__ = ["Database", "IntegrityError", "MysqlError"]

# Error numbers that mean the server is gone or unreachable, not that the statement was wrong.
_CONNECTION_ERRNOS = {2002, 2003, 2006, 2013, 2055, 1927, 1053}

# Run first on every connection: UTC for NOW(), and READ COMMITTED. The isolation statement is the form both
# MySQL 8 (which removed the `tx_isolation` variable) and MariaDB (which lacks `transaction_isolation` before
# 11.1) accept; it cannot share a SET with a variable, so these are two statements (asyncmy enables
# multi-statements and reads every result before the next command, so an error in either refuses the connection).
SESSION_SETUP = "SET time_zone = '+00:00'; SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"


# A failed CHECK constraint: MariaDB's ER_CONSTRAINT_FAILED and MySQL's ER_CHECK_CONSTRAINT_VIOLATED.
_CHECK_ERRNOS = {4025, 3819}


def is_data_error(exc: BaseException) -> bool:
    """An error that will repeat for the same statement and data whatever the server's state: a duplicate id or
    key, a missing referenced row, a NULL or a value a column refuses, a failed CHECK. Every other error (a
    read-only server, a lock-wait timeout, a deadlock, too many connections, a missing table) says nothing about
    the data, only that the server cannot do it now."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return isinstance(exc, MysqlError) and bool(exc.args) and exc.args[0] in _CHECK_ERRNOS


def is_transient(exc: BaseException) -> bool:
    """Worth waiting out and retrying as it is: the database is unavailable, or refused for a passing reason."""
    return isinstance(exc, Unavailable) or (isinstance(exc, MysqlError) and not is_data_error(exc))


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError | ConnectionError):
        return True
    if isinstance(exc, OperationalError) and exc.args:
        return exc.args[0] in _CONNECTION_ERRNOS
    return False


class Database:
    def __init__(self, url: str, pool_size: int) -> None:
        self.target: MysqlTarget = parse_mysql_url(url)
        self.pool_size = pool_size
        self._pool: Any = None

    async def open(self) -> None:
        try:
            self._pool = await asyncmy.create_pool(
                host=self.target.host,
                port=self.target.port,
                user=self.target.user,
                password=self.target.password,
                db=self.target.database,
                minsize=1,
                maxsize=self.pool_size,
                autocommit=False,
                pool_recycle=300,
                charset="utf8mb4",
                init_command=SESSION_SETUP,
            )
        except Exception as exc:  # asyncmy raises several kinds for a server that is not there
            raise ServiceUnavailable("MySQL", "FLASHSALE_MYSQL_URL", str(exc)) from exc

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()
            self._pool = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A cursor inside one transaction: commit on success, roll back on any error.

        A lost connection becomes `Unavailable` (503) so callers never see a driver exception."""
        if self._pool is None:
            raise Unavailable("the database is not connected")
        try:
            conn = await self._pool.acquire()
        except Exception as exc:
            raise Unavailable("the database is unreachable") from exc
        discard = False
        try:
            async with conn.cursor() as cur:
                try:
                    yield cur
                    await conn.commit()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await conn.rollback()
                    raise
        except Exception as exc:
            if is_connection_error(exc):
                discard = True
                raise Unavailable("the database is unreachable") from exc
            raise
        finally:
            if discard:
                with contextlib.suppress(Exception):
                    conn.close()
            self._pool.release(conn)

    def pool_stats(self) -> tuple[int, int, int] | None:
        """(in use, idle, most allowed) connections of the pool; None before it opens."""
        if self._pool is None:
            return None
        size, free = int(self._pool.size), int(self._pool.freesize)
        return size - free, free, int(self._pool.maxsize)

    async def ping(self) -> bool:
        try:
            async with self.transaction() as cur:
                await cur.execute("SELECT 1")
                await cur.fetchone()
            return True
        except Exception:
            return False
