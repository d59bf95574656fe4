"""Every pooled database connection runs its transactions READ COMMITTED and in UTC (on the real MariaDB;
MySQL 8 cannot run here, see tests/unit/test_db_session.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.infrastructure.db import Database
from tests.support import World


@pytest.fixture
async def db(world: World) -> AsyncIterator[Database]:
    database = Database(world.settings.mysql_url, 4)
    await database.open()
    yield database
    await database.close()


async def _session(db: Database) -> tuple[str, str]:
    async with db.transaction() as cur:
        await cur.execute("SELECT @@session.tx_isolation, @@session.time_zone")
        isolation, zone = await cur.fetchone()
        await asyncio.sleep(0.05)  # hold the connection, so the pool opens several
    return isolation, zone


async def test_every_pooled_connection_is_read_committed_in_utc(db: Database) -> None:
    sessions = await asyncio.gather(*(_session(db) for _ in range(4)))
    assert set(sessions) == {("READ-COMMITTED", "+00:00")}


async def test_a_transaction_sees_rows_committed_after_it_began(db: Database) -> None:
    """READ COMMITTED for real: a second read in one transaction sees a row committed in between (under
    REPEATABLE READ, MariaDB's default, it would not)."""
    async with db.transaction() as cur:
        await cur.execute("CREATE TABLE IF NOT EXISTS isolation_probe (id INT PRIMARY KEY)")
        await cur.execute("DELETE FROM isolation_probe")
    async with db.transaction() as reader:
        await reader.execute("SELECT COUNT(*) FROM isolation_probe")
        assert (await reader.fetchone())[0] == 0
        async with db.transaction() as writer:
            await writer.execute("INSERT INTO isolation_probe VALUES (1)")
        await reader.execute("SELECT COUNT(*) FROM isolation_probe")
        assert (await reader.fetchone())[0] == 1
    async with db.transaction() as cur:
        await cur.execute("DROP TABLE isolation_probe")
