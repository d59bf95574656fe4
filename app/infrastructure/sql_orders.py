"""SQL for orders: batch insert, the conditional state transitions, reads, and the stock-return outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import index
from typing import Any

from app.domain.models import Order, OrderStatus, StockReturn
from app.domain.timefmt import aware, naive_utc

ORDER_COLUMNS = "id, sale_id, user_id, quantity, amount_cents, status, created_at, paid_at, expires_at, cancel_reason"


@dataclass(frozen=True)
class NewOrder:
    id: int
    sale_id: int
    user_id: str
    quantity: int
    amount_cents: int
    status: str
    idempotency_key: str | None
    cache_epoch: int
    created_at: datetime
    expires_at: datetime

    def row(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.sale_id,
            self.user_id,
            self.quantity,
            self.amount_cents,
            self.status,
            self.idempotency_key,
            self.cache_epoch,
            naive_utc(self.created_at),
            naive_utc(self.expires_at),
        )


def order_from_row(row: Any) -> Order:
    return Order(
        id=int(row[0]),
        sale_id=int(row[1]),
        user_id=row[2],
        quantity=int(row[3]),
        amount_cents=int(row[4]),
        status=OrderStatus(row[5]),
        created_at=aware(row[6]),  # type: ignore[arg-type]
        paid_at=aware(row[7]),
        expires_at=aware(row[8]),
        cancel_reason=row[9],
    )


# Plain %s placeholders only: asyncmy folds executemany into one multi-row INSERT just then.
INSERT_ORDER = (
    "INSERT INTO orders (id, sale_id, user_id, quantity, amount_cents, status, idempotency_key, cache_epoch, "
    "created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


async def insert_orders(cur: Any, orders: list[NewOrder]) -> None:
    await insert_rows(cur, [o.row() for o in orders])


async def insert_rows(cur: Any, rows: list[tuple[Any, ...]]) -> None:
    """Rows in INSERT_ORDER's column order, in one multi-row INSERT."""
    await cur.executemany(INSERT_ORDER, rows)


def int_list(values: list[int]) -> str:
    """Integers as SQL text ('1, 2, 3'): int() makes each one a number, so nothing needs escaping (the driver's
    escaping costs more than the statement for a batch of ids). operator.index refuses anything that is not an
    integer (a float or a string), where int() would quietly truncate or parse it."""
    return ", ".join([str(index(v)) for v in values])


async def settle_in_flight(cur: Any, ids: list[int]) -> None:
    """The orders are written (or can never be, under an id taken by another payload): no longer in flight."""
    if ids:
        await cur.execute(f"DELETE FROM orders_in_flight WHERE order_id IN ({int_list(ids)})")


async def existing(cur: Any, ids: list[int]) -> dict[int, tuple[int, str, int, int]]:
    """(sale, user, quantity, amount) of the orders among `ids` already written."""
    if not ids:
        return {}
    await cur.execute(f"SELECT id, sale_id, user_id, quantity, amount_cents FROM orders WHERE id IN ({int_list(ids)})")
    return {int(r[0]): (int(r[1]), r[2], int(r[3]), int(r[4])) for r in await cur.fetchall()}


async def take_stock(cur: Any, sale_id: int, units: int) -> bool:
    """The conditional decrement: never below zero; False if the row had too little."""
    await cur.execute(
        "UPDATE sales SET stock_left = stock_left - %s WHERE id = %s AND stock_left >= %s",
        (units, sale_id, units),
    )
    return bool(cur.rowcount == 1)


async def by_id(cur: Any, order_id: int) -> Order | None:
    await cur.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = %s", (order_id,))
    row = await cur.fetchone()
    return order_from_row(row) if row else None


async def by_idempotency_key(cur: Any, sale_id: int, user_id: str, key: str) -> Order | None:
    await cur.execute(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE sale_id = %s AND user_id = %s AND idempotency_key = %s",
        (sale_id, user_id, key),
    )
    row = await cur.fetchone()
    return order_from_row(row) if row else None


async def by_ids(cur: Any, ids: list[int]) -> list[Order]:
    if not ids:
        return []
    marks = ", ".join(["%s"] * len(ids))
    await cur.execute(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id IN ({marks})", tuple(ids))
    return [order_from_row(r) for r in await cur.fetchall()]


async def list_for_user(cur: Any, user_id: str, sale_id: int | None, limit: int, before_id: int | None) -> list[Order]:
    where, args = ["user_id = %s"], [user_id]
    if sale_id is not None:
        where.append("sale_id = %s")
        args.append(sale_id)  # type: ignore[arg-type]
    if before_id is not None:
        where.append("id < %s")
        args.append(before_id)  # type: ignore[arg-type]
    await cur.execute(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s",
        (*args, limit),
    )
    return [order_from_row(r) for r in await cur.fetchall()]


async def claim_for_payment(cur: Any, order_id: int, user_id: str) -> bool:
    """created -> paying, only while the payment window is open."""
    await cur.execute(
        "UPDATE orders SET status = 'paying', paying_since = NOW(3) "
        "WHERE id = %s AND user_id = %s AND status = 'created' AND expires_at > NOW(3)",
        (order_id, user_id),
    )
    return bool(cur.rowcount == 1)


async def finish_payment(cur: Any, order_id: int, *, paid: bool) -> bool:
    """paying -> paid (charged) or paying -> created (the charge failed)."""
    if paid:
        await cur.execute(
            "UPDATE orders SET status = 'paid', paid_at = NOW(3), paying_since = NULL "
            "WHERE id = %s AND status = 'paying'",
            (order_id,),
        )
    else:
        await cur.execute(
            "UPDATE orders SET status = 'created', paying_since = NULL WHERE id = %s AND status = 'paying'",
            (order_id,),
        )
    return bool(cur.rowcount == 1)


async def pay_reopened(cur: Any, order_id: int) -> bool:
    """created -> paid, while the window is open: for a charge that landed after the order was given back."""
    await cur.execute(
        "UPDATE orders SET status = 'paid', paid_at = NOW(3), paying_since = NULL "
        "WHERE id = %s AND status = 'created' AND expires_at > NOW(3)",
        (order_id,),
    )
    return bool(cur.rowcount == 1)


async def cancel(cur: Any, order_id: int, reason: str, *, user_id: str | None = None) -> StockReturn | None:
    """created -> cancelled: by the owner while the payment window is open, by `timeout` once it has closed.
    Only the winner of this transition returns the stock: to the sale's row here,
    and to the cache through an outbox row written in the same transaction."""
    if reason == "timeout":
        await cur.execute(
            "UPDATE orders SET status = 'cancelled', cancel_reason = 'timeout', cancelled_at = NOW(3) "
            "WHERE id = %s AND status = 'created' AND expires_at <= NOW(3)",
            (order_id,),
        )
    else:
        await cur.execute(
            "UPDATE orders SET status = 'cancelled', cancel_reason = %s, cancelled_at = NOW(3) "
            "WHERE id = %s AND user_id = %s AND status = 'created' AND expires_at > NOW(3)",
            (reason, order_id, user_id),
        )
    if cur.rowcount != 1:
        return None
    await cur.execute("SELECT sale_id, user_id, quantity FROM orders WHERE id = %s", (order_id,))
    sale_id, owner, quantity = await cur.fetchone()
    # Lock order everywhere: the order's row, the user's holding, then the sale's row (as a `db`-strategy
    # purchase takes the holding before the sale), so the two can never deadlock.
    await cur.execute(
        "UPDATE sale_holdings SET quantity = quantity - %s WHERE sale_id = %s AND user_id = %s",
        (quantity, sale_id, owner),
    )
    await cur.execute("SELECT cache_epoch FROM sales WHERE id = %s FOR UPDATE", (sale_id,))
    (epoch,) = await cur.fetchone()
    await cur.execute("UPDATE sales SET stock_left = stock_left + %s WHERE id = %s", (quantity, sale_id))
    ret = StockReturn(int(order_id), int(sale_id), owner, int(quantity), int(epoch))
    await cur.execute(
        "INSERT INTO stock_returns (order_id, sale_id, user_id, quantity, cache_epoch) VALUES (%s, %s, %s, %s, %s)",
        (ret.order_id, ret.sale_id, ret.user_id, ret.quantity, ret.cache_epoch),
    )
    return ret


async def pending_returns(cur: Any, limit: int) -> list[StockReturn]:
    await cur.execute(
        "SELECT order_id, sale_id, user_id, quantity, cache_epoch FROM stock_returns "
        "WHERE applied_at IS NULL ORDER BY order_id LIMIT %s",
        (limit,),
    )
    return [StockReturn(int(r[0]), int(r[1]), r[2], int(r[3]), int(r[4])) for r in await cur.fetchall()]


async def lock_unapplied_return(cur: Any, order_id: int) -> bool:
    """Lock the order's stock return; whether it is there and not applied yet."""
    await cur.execute("SELECT applied_at FROM stock_returns WHERE order_id = %s FOR UPDATE", (order_id,))
    row = await cur.fetchone()
    return row is not None and row[0] is None


async def mark_returned(cur: Any, order_id: int) -> None:
    await cur.execute("UPDATE stock_returns SET applied_at = NOW(3) WHERE order_id = %s", (order_id,))


async def expired_created(cur: Any, grace_seconds: float, limit: int) -> list[int]:
    await cur.execute(
        "SELECT id FROM orders WHERE status = 'created' AND expires_at <= NOW(3) - INTERVAL %s MICROSECOND "
        "ORDER BY expires_at LIMIT %s",
        (int(grace_seconds * 1_000_000), limit),
    )
    return [int(r[0]) for r in await cur.fetchall()]


async def oldest_overdue_seconds(cur: Any) -> float:
    """How far past its expires_at the oldest unpaid (created) order is now; 0 when none is overdue."""
    await cur.execute(
        "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(expires_at), NOW(3)) FROM orders "
        "WHERE status = 'created' AND expires_at < NOW(3)"
    )
    (micros,) = await cur.fetchone()
    return max(0.0, int(micros) / 1_000_000) if micros is not None else 0.0


async def stuck_paying(cur: Any, older_than_seconds: int, limit: int) -> list[tuple[int, int]]:
    await cur.execute(
        "SELECT id, amount_cents FROM orders WHERE status = 'paying' "
        "AND paying_since <= NOW(3) - INTERVAL %s SECOND ORDER BY paying_since LIMIT %s",
        (older_than_seconds, limit),
    )
    return [(int(r[0]), int(r[1])) for r in await cur.fetchall()]


async def watch_payment(cur: Any, order_id: int, seconds: int) -> None:
    """A stalled charge of this order may still land: the sweep looks again until it is settled."""
    await cur.execute(
        "INSERT INTO payment_watch (order_id, watch_until) VALUES (%s, NOW(3) + INTERVAL %s SECOND) "
        "ON DUPLICATE KEY UPDATE watch_until = VALUES(watch_until)",
        (order_id, seconds),
    )


async def watched_final(cur: Any, limit: int) -> list[tuple[int, str, bool]]:
    """(order id, status, watch over) of the watched orders that are paid or cancelled (or gone)."""
    await cur.execute(
        "SELECT w.order_id, COALESCE(o.status, 'cancelled'), w.watch_until <= NOW(3) FROM payment_watch w "
        "LEFT JOIN orders o ON o.id = w.order_id WHERE o.id IS NULL OR o.status IN ('paid', 'cancelled') "
        "ORDER BY w.order_id LIMIT %s",
        (limit,),
    )
    return [(int(r[0]), str(r[1]), bool(r[2])) for r in await cur.fetchall()]


async def forget_watch(cur: Any, order_id: int) -> None:
    await cur.execute("DELETE FROM payment_watch WHERE order_id = %s", (order_id,))


async def counts_by_status(cur: Any, sale_id: int) -> dict[str, int]:
    """Order rows of the sale per status (an index range scan of (sale_id, status))."""
    await cur.execute("SELECT status, COUNT(*) FROM orders WHERE sale_id = %s GROUP BY status", (sale_id,))
    return {str(r[0]): int(r[1]) for r in await cur.fetchall()}
