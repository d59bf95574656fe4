"""SQL for users, commodities and sales."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.models import Commodity, Sale, User
from app.domain.timefmt import aware, naive_utc

SALE_COLUMNS = (
    "id, commodity_id, name, price_cents, stock, stock_left, starts_at, ends_at, per_user_limit, "
    "payment_timeout_seconds, paused, cache_epoch, created_at"
)
COMMODITY_COLUMNS = "id, name, description, price_cents, image_url, created_at"


def sale_from_row(row: Any) -> Sale:
    return Sale(
        id=int(row[0]),
        commodity_id=int(row[1]),
        name=row[2],
        price_cents=int(row[3]),
        stock=int(row[4]),
        stock_left=int(row[5]),
        starts_at=aware(row[6]),  # type: ignore[arg-type]
        ends_at=aware(row[7]),  # type: ignore[arg-type]
        per_user_limit=int(row[8]),
        payment_timeout_seconds=int(row[9]),
        paused=bool(row[10]),
        cache_epoch=int(row[11]),
        created_at=aware(row[12]),  # type: ignore[arg-type]
    )


def commodity_from_row(row: Any) -> Commodity:
    return Commodity(
        id=int(row[0]),
        name=row[1],
        description=row[2],
        price_cents=int(row[3]),
        image_url=row[4],
        created_at=aware(row[5]),  # type: ignore[arg-type]
    )


async def insert_user(cur: Any, username: str, password_hash: str, role: str) -> int:
    await cur.execute(
        "INSERT INTO users (username, password_hash, role) VALUES (%s, %s, %s)",
        (username, password_hash, role),
    )
    return int(cur.lastrowid)


async def user_by_name(cur: Any, username: str) -> User | None:
    await cur.execute("SELECT id, username, role, password_hash FROM users WHERE username = %s", (username,))
    row = await cur.fetchone()
    return User(id=str(row[0]), username=row[1], role=row[2], password_hash=row[3]) if row else None


async def insert_commodity(
    cur: Any,
    name: str,
    description: str | None,
    price_cents: int,
    image_url: str | None,
    external_key: str | None = None,
) -> int:
    await cur.execute(
        "INSERT INTO commodities (name, description, price_cents, image_url, external_key) VALUES (%s, %s, %s, %s, %s)",
        (name, description, price_cents, image_url, external_key),
    )
    return int(cur.lastrowid)


async def commodity_by_key(cur: Any, external_key: str) -> Commodity | None:
    await cur.execute(f"SELECT {COMMODITY_COLUMNS} FROM commodities WHERE external_key = %s", (external_key,))
    row = await cur.fetchone()
    return commodity_from_row(row) if row else None


async def commodity_by_id(cur: Any, commodity_id: int) -> Commodity | None:
    await cur.execute(f"SELECT {COMMODITY_COLUMNS} FROM commodities WHERE id = %s", (commodity_id,))
    row = await cur.fetchone()
    return commodity_from_row(row) if row else None


async def list_commodities(cur: Any, limit: int, before_id: int | None) -> list[Commodity]:
    if before_id is None:
        await cur.execute(f"SELECT {COMMODITY_COLUMNS} FROM commodities ORDER BY id DESC LIMIT %s", (limit,))
    else:
        await cur.execute(
            f"SELECT {COMMODITY_COLUMNS} FROM commodities WHERE id < %s ORDER BY id DESC LIMIT %s",
            (before_id, limit),
        )
    return [commodity_from_row(r) for r in await cur.fetchall()]


async def insert_sale(
    cur: Any,
    *,
    commodity_id: int,
    name: str,
    price_cents: int,
    stock: int,
    starts_at: datetime,
    ends_at: datetime,
    per_user_limit: int,
    payment_timeout_seconds: int,
    paused: bool = False,
    external_key: str | None = None,
) -> int:
    await cur.execute(
        "INSERT INTO sales (commodity_id, name, price_cents, stock, stock_left, starts_at, ends_at, "
        "per_user_limit, payment_timeout_seconds, paused, external_key) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            commodity_id,
            name,
            price_cents,
            stock,
            stock,
            naive_utc(starts_at),
            naive_utc(ends_at),
            per_user_limit,
            payment_timeout_seconds,
            int(paused),
            external_key,
        ),
    )
    return int(cur.lastrowid)


async def sale_by_id(cur: Any, sale_id: int, *, lock: bool = False) -> Sale | None:
    suffix = " FOR UPDATE" if lock else ""
    await cur.execute(f"SELECT {SALE_COLUMNS} FROM sales WHERE id = %s{suffix}", (sale_id,))
    row = await cur.fetchone()
    return sale_from_row(row) if row else None


async def sale_by_key(cur: Any, external_key: str) -> Sale | None:
    await cur.execute(f"SELECT {SALE_COLUMNS} FROM sales WHERE external_key = %s", (external_key,))
    row = await cur.fetchone()
    return sale_from_row(row) if row else None


async def end_sale(cur: Any, sale_id: int, at: datetime) -> None:
    """Move the sale's end to `at` if that is earlier, never before its start (a sale ended before it opened ends
    at its start: it never opens, and its window stays a window)."""
    await cur.execute(
        "UPDATE sales SET ends_at = GREATEST(starts_at, LEAST(ends_at, %s)) WHERE id = %s", (naive_utc(at), sale_id)
    )


async def list_sales(cur: Any, limit: int, before_id: int | None) -> list[Sale]:
    if before_id is None:
        await cur.execute(f"SELECT {SALE_COLUMNS} FROM sales ORDER BY id DESC LIMIT %s", (limit,))
    else:
        await cur.execute(
            f"SELECT {SALE_COLUMNS} FROM sales WHERE id < %s ORDER BY id DESC LIMIT %s", (before_id, limit)
        )
    return [sale_from_row(r) for r in await cur.fetchall()]


async def units_taken(cur: Any, sale_id: int) -> int:
    """Units in the sale's orders that are not cancelled: the database's truth of what is sold."""
    await cur.execute(
        "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE sale_id = %s AND status <> 'cancelled'",
        (sale_id,),
    )
    row = await cur.fetchone()
    return int(row[0])


async def holdings(cur: Any, sale_id: int) -> list[tuple[str, int]]:
    await cur.execute(
        "SELECT user_id, SUM(quantity) FROM orders WHERE sale_id = %s AND status <> 'cancelled' GROUP BY user_id",
        (sale_id,),
    )
    return [(r[0], int(r[1])) for r in await cur.fetchall()]


async def idempotency_keys(cur: Any, sale_id: int) -> list[tuple[str, str, int, int]]:
    """(user, key, order id, quantity) of the sale's orders that were bought with a key."""
    await cur.execute(
        "SELECT user_id, idempotency_key, id, quantity FROM orders WHERE sale_id = %s AND idempotency_key IS NOT NULL",
        (sale_id,),
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in await cur.fetchall()]


async def unapplied_returns(cur: Any, sale_id: int) -> list[int]:
    """Cancelled orders whose stock return the cache has not been given yet (the sweep still applies them)."""
    await cur.execute("SELECT order_id FROM stock_returns WHERE sale_id = %s AND applied_at IS NULL", (sale_id,))
    return [int(r[0]) for r in await cur.fetchall()]


async def orders_placed(cur: Any, sale_id: int) -> list[tuple[str, int]]:
    """Orders each user has placed in the sale, whatever became of them."""
    await cur.execute("SELECT user_id, COUNT(*) FROM orders WHERE sale_id = %s GROUP BY user_id", (sale_id,))
    return [(r[0], int(r[1])) for r in await cur.fetchall()]


async def set_cache_epoch(cur: Any, sale_id: int, epoch: int) -> None:
    await cur.execute("UPDATE sales SET cache_epoch = %s WHERE id = %s", (epoch, sale_id))


async def update_sale(cur: Any, sale_id: int, *, paused: bool, stock: int, stock_left: int) -> None:
    await cur.execute(
        "UPDATE sales SET paused = %s, stock = %s, stock_left = %s WHERE id = %s",
        (int(paused), stock, stock_left, sale_id),
    )


async def live_preheated_sales(cur: Any, limit: int) -> list[int]:
    """Sales preheated at least once that have not ended: those whose cache may be selling."""
    await cur.execute(
        "SELECT id FROM sales WHERE cache_epoch > 0 AND ends_at > NOW(3) ORDER BY id LIMIT %s",
        (limit,),
    )
    return [int(r[0]) for r in await cur.fetchall()]
