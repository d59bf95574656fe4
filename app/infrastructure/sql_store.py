"""The database as the use cases' ports see it (app/application/ports.py): each transaction an object whose methods
are the SQL statements of sql_orders and sql_catalogue, run on the transaction's cursor."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from app.domain.models import Order, Sale, StockReturn
from app.infrastructure import sql_catalogue, sql_orders
from app.infrastructure.db import Database


class SqlTx:
    """One transaction's statements (OrderTx, ReturnTx and PreheatTx at once)."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    # orders: reads, payment, the sweep's repairs
    async def by_id(self, order_id: int) -> Order | None:
        return await sql_orders.by_id(self._cur, order_id)

    async def by_ids(self, ids: list[int]) -> list[Order]:
        return await sql_orders.by_ids(self._cur, ids)

    async def list_for_user(self, user_id: str, sale_id: int | None, limit: int, before: int | None) -> list[Order]:
        return await sql_orders.list_for_user(self._cur, user_id, sale_id, limit, before)

    async def claim_for_payment(self, order_id: int, user_id: str) -> bool:
        return await sql_orders.claim_for_payment(self._cur, order_id, user_id)

    async def finish_payment(self, order_id: int, *, paid: bool) -> bool:
        return await sql_orders.finish_payment(self._cur, order_id, paid=paid)

    async def pay_reopened(self, order_id: int) -> bool:
        return await sql_orders.pay_reopened(self._cur, order_id)

    async def stuck_paying(self, older_than_seconds: int, limit: int) -> list[tuple[int, int]]:
        return await sql_orders.stuck_paying(self._cur, older_than_seconds, limit)

    async def watch_payment(self, order_id: int, seconds: int) -> None:
        await sql_orders.watch_payment(self._cur, order_id, seconds)

    async def watched_final(self, limit: int) -> list[tuple[int, str, bool]]:
        return await sql_orders.watched_final(self._cur, limit)

    async def forget_watch(self, order_id: int) -> None:
        await sql_orders.forget_watch(self._cur, order_id)

    # cancellation and stock returns
    async def cancel(self, order_id: int, reason: str, *, user_id: str | None = None) -> StockReturn | None:
        return await sql_orders.cancel(self._cur, order_id, reason, user_id=user_id)

    async def lock_unapplied_return(self, order_id: int) -> bool:
        return await sql_orders.lock_unapplied_return(self._cur, order_id)

    async def mark_returned(self, order_id: int) -> None:
        await sql_orders.mark_returned(self._cur, order_id)

    async def pending_returns(self, limit: int) -> list[StockReturn]:
        return await sql_orders.pending_returns(self._cur, limit)

    # preheat
    async def sale_by_id(self, sale_id: int, *, lock: bool = False) -> Sale | None:
        return await sql_catalogue.sale_by_id(self._cur, sale_id, lock=lock)

    async def set_cache_epoch(self, sale_id: int, epoch: int) -> None:
        await sql_catalogue.set_cache_epoch(self._cur, sale_id, epoch)

    async def units_taken(self, sale_id: int) -> int:
        return await sql_catalogue.units_taken(self._cur, sale_id)

    async def holdings(self, sale_id: int) -> list[tuple[str, int]]:
        return await sql_catalogue.holdings(self._cur, sale_id)

    async def idempotency_keys(self, sale_id: int) -> list[tuple[str, str, int, int]]:
        return await sql_catalogue.idempotency_keys(self._cur, sale_id)

    async def unapplied_returns(self, sale_id: int) -> list[int]:
        return await sql_catalogue.unapplied_returns(self._cur, sale_id)

    async def orders_placed(self, sale_id: int) -> list[tuple[str, int]]:
        return await sql_catalogue.orders_placed(self._cur, sale_id)


class SqlStore:
    """Transactions of the database (the `Transactions` port), each yielding a SqlTx."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTx]:
        async with self._db.transaction() as cur:
            yield SqlTx(cur)
