"""Purchase, strategy `db`: the classic synchronous baseline, kept for comparison.

One transaction checks the window, the user's holding (a locked row) and the idempotency key, takes the
stock with a conditional UPDATE and inserts the order as `created`. Same endpoint, same answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from app.application.purchase import Accepted, Limits, PurchaseRequest, conflict, replay_from_db
from app.domain.errors import IdempotencyKeyReused, NotFound, RateLimited, Unavailable
from app.domain.models import OrderStatus, Sale
from app.infrastructure import sql_catalogue as sql
from app.infrastructure import sql_orders
from app.infrastructure.db import Database, IntegrityError
from app.infrastructure.idgen import IdGenerator
from app.infrastructure.metrics import ORDERS_CREATED
from app.infrastructure.rate_limit import RateLimiter
from app.infrastructure.redis_client import REDIS_DOWN

OnCreated = Callable[[sql_orders.NewOrder], Awaitable[None]]


async def _nothing(_order: sql_orders.NewOrder) -> None:
    return None


class DbPurchase:
    def __init__(
        self,
        db: Database,
        ids: IdGenerator,
        rates: RateLimiter,
        limits: Limits,
        on_created: OnCreated = _nothing,
    ) -> None:
        self._db = db
        self._ids = ids
        self._rates = rates
        self._limits = limits
        self._on_created = on_created

    async def purchase(self, req: PurchaseRequest) -> tuple[Accepted, str]:
        order_id = await self._ids.next_id()
        try:
            async with self._db.transaction() as cur:
                outcome = await self._in_transaction(cur, req, order_id)
        except IntegrityError:
            # A concurrent purchase with the same key won the unique index: answer as its replay.
            async with self._db.transaction() as cur:
                found = await sql_orders.by_idempotency_key(cur, req.sale_id, req.user_id, req.idempotency_key or "")
            if found is None:
                raise
            if found.quantity != req.quantity:
                raise IdempotencyKeyReused("this Idempotency-Key was used with a different quantity") from None
            return Accepted(found.id, OrderStatus.CREATED.value), "replay"
        accepted, label, created = outcome
        if created is not None:
            ORDERS_CREATED.inc()
            await self._on_created(created)
        return accepted, label

    async def _in_transaction(
        self, cur: Any, req: PurchaseRequest, order_id: int
    ) -> tuple[Accepted, str, sql_orders.NewOrder | None]:
        sale = await sql.sale_by_id(cur, req.sale_id)
        if sale is None:
            raise NotFound("no such sale")
        replay = await replay_from_db(cur, req, OrderStatus.CREATED.value)
        if replay is not None:
            return replay, "replay", None
        await cur.execute("SELECT NOW(3)")
        (now,) = await cur.fetchone()
        now = now.replace(tzinfo=sale.ends_at.tzinfo)
        self._check_window(sale, now)
        if sale.stock_left <= 0:
            raise conflict("sold_out")
        await self._check_rates(req)
        # Lock the user's holding row (created if missing) so two purchases of one user serialise here.
        await cur.execute(
            "INSERT INTO sale_holdings (sale_id, user_id, quantity) VALUES (%s, %s, 0) "
            "ON DUPLICATE KEY UPDATE quantity = quantity",
            (req.sale_id, req.user_id),
        )
        await cur.execute(
            "SELECT quantity FROM sale_holdings WHERE sale_id = %s AND user_id = %s FOR UPDATE",
            (req.sale_id, req.user_id),
        )
        (held,) = await cur.fetchone()
        if int(held) + req.quantity > sale.per_user_limit:
            raise conflict("limit_exceeded")
        if not await sql_orders.take_stock(cur, req.sale_id, req.quantity):
            fresh = await sql.sale_by_id(cur, req.sale_id)
            raise conflict("sold_out" if fresh is None or fresh.stock_left <= 0 else "insufficient_stock")
        await cur.execute(
            "UPDATE sale_holdings SET quantity = quantity + %s WHERE sale_id = %s AND user_id = %s",
            (req.quantity, req.sale_id, req.user_id),
        )
        order = sql_orders.NewOrder(
            id=order_id,
            sale_id=req.sale_id,
            user_id=req.user_id,
            quantity=req.quantity,
            amount_cents=sale.price_cents * req.quantity,
            status=OrderStatus.CREATED.value,
            idempotency_key=req.idempotency_key,
            cache_epoch=sale.cache_epoch,
            created_at=now,
            expires_at=now + timedelta(seconds=sale.payment_timeout_seconds),
        )
        await sql_orders.insert_orders(cur, [order])
        return Accepted(order_id, OrderStatus.CREATED.value), "accepted", order

    @staticmethod
    def _check_window(sale: Sale, now: object) -> None:
        if now >= sale.ends_at:  # type: ignore[operator]
            raise conflict("ended")
        if now < sale.starts_at:  # type: ignore[operator]
            raise conflict("not_started")
        if sale.paused:
            raise conflict("paused")

    async def _check_rates(self, req: PurchaseRequest) -> None:
        try:
            if not await self._rates.allow("buy-user", req.user_id, self._limits.rate_user):
                raise RateLimited("too many purchases from this user")
            if req.address and not await self._rates.allow("buy-addr", req.address, self._limits.rate_address):
                raise RateLimited("too many purchases from this address")
        except REDIS_DOWN as exc:
            raise Unavailable("the rate-limit store (Redis) is unreachable") from exc
