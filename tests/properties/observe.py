"""Reads of one sale's state straight from the stores: the database in one consistent snapshot, the cache in
one transaction. The invariants compare them with the model; the order of reads (database, cache, database)
is what lets a check allow for a timeout landing in between."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pymysql
import redis

from app.infrastructure.keys import Names
from app.infrastructure.mysql_url import parse_mysql_url
from app.infrastructure.sale_cache import PLACEHOLDER
from tests.support import World


@dataclass(frozen=True)
class Row:
    status: str
    reason: str | None
    user: str
    quantity: int
    key: str | None
    expires_at: float
    charge: str | None  # the fake provider's ledger: succeeded, refunded or no charge


@dataclass(frozen=True)
class DbView:
    stock: int
    stock_left: int  # the row's
    limit: int
    paused: bool
    orders: dict[str, Row]
    returns: dict[str, bool]  # order id -> its stock return applied to the cache
    in_flight: int  # the sale's orders handed to the broker and not written

    def cancelled(self) -> set[str]:
        return {oid for oid, row in self.orders.items() if row.status == "cancelled"}


@dataclass(frozen=True)
class CacheView:
    loaded: bool
    stock: int
    stock_left: int
    paused: bool
    users: dict[str, int]  # units each user holds in orders not cancelled
    handoff: int
    reservations: int  # records of orders not yet written
    epoch: int


def epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


class Stores:
    """A connection to the world's database and one to its Redis."""

    def __init__(self, world: World) -> None:
        target = parse_mysql_url(world.settings.mysql_url)
        self._db: Any = pymysql.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password,
            database=target.database,
            autocommit=True,
            connect_timeout=5,
            read_timeout=30,
        )
        self._redis = redis.Redis.from_url(world.settings.redis_url, decode_responses=True)
        self.names = Names(world.namespace)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._db.close()
        self._redis.close()

    def db(self, sale_id: str) -> DbView:
        sid = int(sale_id)
        with self._db.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            try:
                cur.execute("SELECT stock, stock_left, per_user_limit, paused FROM sales WHERE id = %s", (sid,))
                stock, left, limit, paused = cur.fetchone()
                cur.execute(
                    "SELECT o.id, o.status, o.cancel_reason, o.user_id, o.quantity, o.idempotency_key, o.expires_at, "
                    "c.status FROM orders o LEFT JOIN fake_charges c ON c.idempotency_key = CAST(o.id AS CHAR) "
                    "WHERE o.sale_id = %s",
                    (sid,),
                )
                orders = {str(r[0]): Row(r[1], r[2], r[3], int(r[4]), r[5], epoch(r[6]), r[7]) for r in cur.fetchall()}
                cur.execute("SELECT order_id, applied_at IS NOT NULL FROM stock_returns WHERE sale_id = %s", (sid,))
                returns = {str(r[0]): bool(r[1]) for r in cur.fetchall()}
                cur.execute("SELECT COUNT(*) FROM orders_in_flight WHERE sale_id = %s", (sid,))
                (in_flight,) = cur.fetchone()
            finally:
                cur.execute("COMMIT")
        return DbView(int(stock), int(left), int(limit), bool(paused), orders, returns, int(in_flight))

    def cache(self, sale_id: str) -> CacheView:
        keys = self.names.sale(int(sale_id))
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.meta)
            pipe.hgetall(keys.users)
            pipe.xlen(keys.handoff)
            pipe.hlen(keys.res)
            meta, users, handoff, records = pipe.execute()
        held = {u: int(q) for u, q in users.items() if u != PLACEHOLDER}
        if not meta:
            return CacheView(False, 0, 0, False, held, int(handoff), max(0, int(records) - 1), 0)
        return CacheView(
            True,
            int(meta["stock"]),
            int(meta["stock_left"]),
            meta["paused"] == "1",
            held,
            int(handoff),
            max(0, int(records) - 1),
            int(meta["epoch"]),
        )

    def lose_cache(self, sale_id: str) -> None:
        """What Redis losing the sale's data does to the purchase path: its metadata is gone (not loaded)."""
        self._redis.delete(self.names.sale(int(sale_id)).meta)
