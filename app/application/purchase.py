"""Purchase, strategy `redis`: one Lua call reserves the stock and hands the order off durably.

Checks follow the contract's order. A process that knows a sale is sold out answers without a round trip
(unless the request carries an Idempotency-Key, which must always reach Redis so a replay gets its 202)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from app.domain.errors import Conflict, IdempotencyKeyReused, NotFound, NotReady, RateLimited, Unavailable
from app.domain.timefmt import to_ms
from app.infrastructure import sql_catalogue as sql
from app.infrastructure import sql_orders
from app.infrastructure.db import Database
from app.infrastructure.idgen import IdGenerator
from app.infrastructure.metrics import SOLD_OUT_SHORTCUTS
from app.infrastructure.redis_client import REDIS_DOWN
from app.infrastructure.sale_cache import SaleCache
from app.infrastructure.script_batch import NotSent
from app.infrastructure.sold_out import SoldOutFlags

log = logging.getLogger(__name__)
ID_ATTEMPTS = 3  # fresh order ids tried when one collides with another purchase's
# A reservation whose reply was lost is settled by its record: looked up for this long, a short pause between tries.
RECORD_CHECK_SECONDS = 1.0
RECORD_CHECK_PAUSE = 0.2
_CONFLICTS = {"ended", "not_started", "paused", "sold_out", "limit_exceeded", "insufficient_stock"}
_MESSAGES = {
    "ended": "the sale has ended",
    "not_started": "the sale has not started yet",
    "paused": "the sale is paused",
    "sold_out": "the sale is sold out",
    "limit_exceeded": "this quantity would take you past the per-user limit",
    "insufficient_stock": "fewer units are left than you asked for",
}


_NOT_RESERVED = "the stock store (Redis) did not answer; nothing was reserved"
# Redis (or the database) stayed unreachable after a lost reply: the contract's other 503, for a keyed purchase.
_UNKNOWN_WHETHER = "the stock store (Redis) did not answer and whether this purchase was reserved is unknown; "
_UNKNOWN = _UNKNOWN_WHETHER + "a retry with the same Idempotency-Key returns the real outcome"
_UNKNOWN_KEYLESS = _UNKNOWN_WHETHER + "it had no Idempotency-Key, so check GET /api/v1/orders before buying again"


def _record_is(record: str, req: PurchaseRequest) -> bool:
    """Whether a reservation record (lua/reserve.lua's JSON) is this request's: same user, same quantity."""
    try:
        data = json.loads(record)
    except (ValueError, OverflowError, RecursionError):
        data = None
    if not isinstance(data, dict):
        log.error("unreadable reservation record %r", record[:200])
        return False
    quantity = data.get("q")
    return data.get("u") == req.user_id and type(quantity) is int and quantity == req.quantity


@dataclass(frozen=True)
class PurchaseRequest:
    sale_id: int
    user_id: str
    quantity: int
    idempotency_key: str | None
    address: str | None


@dataclass(frozen=True)
class Accepted:
    order_id: int
    status: str


@dataclass(frozen=True)
class Limits:
    rate_user: int
    rate_address: int
    backlog_max: int
    orders_per_user: int = 0  # orders one user may place in one sale (0: no cap; never below its limit)


def conflict(code: str) -> Conflict:
    return Conflict(_MESSAGES[code], code=code)


async def replay_from_db(cur: Any, req: PurchaseRequest, status: str) -> Accepted | None:
    """The 202 of an earlier purchase with the same Idempotency-Key, found in the database."""
    if req.idempotency_key is None:
        return None
    found = await sql_orders.by_idempotency_key(cur, req.sale_id, req.user_id, req.idempotency_key)
    if found is None:
        return None
    if found.quantity != req.quantity:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different quantity")
    return Accepted(found.id, status)


class RedisPurchase:
    def __init__(self, db: Database, cache: SaleCache, ids: IdGenerator, flags: SoldOutFlags, limits: Limits) -> None:
        self._db = db
        self._cache = cache
        self._ids = ids
        self._flags = flags
        self._limits = limits
        self._clock_offset_ms = 0  # Redis' clock minus ours, learnt from every reply

    async def purchase(self, req: PurchaseRequest) -> tuple[Accepted, str]:
        """Returns the accepted order and the outcome label for metrics ('accepted' or 'replay')."""
        if req.idempotency_key is None and self._flags.is_sold_out(
            req.sale_id, int(time.time() * 1000) + self._clock_offset_ms
        ):
            SOLD_OUT_SHORTCUTS.inc()
            raise conflict("sold_out")
        for _attempt in range(ID_ATTEMPTS):
            order_id = await self._ids.next_id()
            try:
                result = await self._cache.reserve(
                    req.sale_id,
                    user_id=req.user_id,
                    quantity=req.quantity,
                    order_id=order_id,
                    idempotency_key=req.idempotency_key,
                    rate_user=self._limits.rate_user,
                    address=req.address,
                    rate_address=self._limits.rate_address,
                    backlog_max=self._limits.backlog_max,
                    orders_max=self._limits.orders_per_user,
                )
            except NotSent as exc:
                raise Unavailable(_NOT_RESERVED) from exc
            except REDIS_DOWN as exc:
                # The script may have run before the reply was lost, or may still run: settling the order id
                # either finds its record or fences the id, so that a late call reserves nothing.
                settled = await self._settled(req, order_id)
                if settled is None:
                    raise Unavailable(_UNKNOWN if req.idempotency_key else _UNKNOWN_KEYLESS) from exc
                if settled:
                    return Accepted(order_id, "pending"), "accepted"
                raise Unavailable(_NOT_RESERVED) from exc
            if result.code not in ("collision", "fenced"):
                break
            # Another purchase holds this id, or settled it as fenced (two processes minted on one node): nothing
            # was reserved.
            log.error("order id %s collides with another purchase; minting a new one", order_id)
        else:
            raise Unavailable("order ids collide with other purchases; nothing was reserved, try again")
        self._clock_offset_ms = result.now_ms - int(time.time() * 1000)
        code = result.code
        if code == "ok":
            return Accepted(int(result.value), "pending"), "accepted"
        if code == "replay":
            return Accepted(int(result.value), "pending"), "replay"
        if code == "reused":
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different quantity")
        if code == "too_many_orders":
            raise Conflict(f"you have placed the most orders one user may place in this sale ({result.value})",
                           code="limit_exceeded")  # fmt: skip
        if code == "sold_out":
            self._flags.mark(req.sale_id, int(result.value))
        if code in _CONFLICTS:
            raise conflict(code)
        if code == "rate_limited":
            raise RateLimited(f"too many purchases from this {result.value}")
        if code == "backlog":
            raise Unavailable("too many accepted orders are waiting to be written; try again shortly")
        if code == "not_loaded":
            return await self._not_loaded(req, result.now_ms)
        raise RuntimeError(f"unexpected reservation result {code!r}")

    async def _settled(self, req: PurchaseRequest, order_id: int) -> bool | None:
        """Whether this purchase was reserved under this order id, once Redis answers again (a few short tries
        within RECORD_CHECK_SECONDS): its record, or its row once written (the record is dropped then), of the
        same sale, user and quantity. False: it was not, and now cannot be (the id is fenced). None: nobody can
        tell (Redis stayed unreachable, or the database did not answer)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECORD_CHECK_SECONDS
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    record = await self._cache.settle(req.sale_id, order_id)
                break
            except REDIS_DOWN:  # TimeoutError, the deadline's too, is an OSError
                if loop.time() + RECORD_CHECK_PAUSE >= deadline:
                    return None
                await asyncio.sleep(RECORD_CHECK_PAUSE)
        if record is not None:
            return _record_is(record, req)
        try:
            async with self._db.transaction() as cur:
                row = await sql_orders.by_id(cur, order_id)
        except Exception:  # unreachable (Unavailable) or failing: either way nobody can tell
            log.warning("the database did not answer while settling order %s", order_id, exc_info=True)
            return None
        return row is not None and (row.sale_id, row.user_id, row.quantity) == (req.sale_id, req.user_id, req.quantity)

    async def _not_loaded(self, req: PurchaseRequest, now_ms: int) -> tuple[Accepted, str]:
        """The cache has no such sale: tell 404 from a sale that is not (or no longer) loaded."""
        async with self._db.transaction() as cur:
            sale = await sql.sale_by_id(cur, req.sale_id)
            if sale is None:
                raise NotFound("no such sale")
            replay = await replay_from_db(cur, req, "pending")
            if replay is not None:
                return replay, "replay"
        if now_ms >= to_ms(sale.ends_at):
            raise conflict("ended")
        if now_ms < to_ms(sale.starts_at):
            raise conflict("not_started")
        if sale.paused:
            raise conflict("paused")
        raise NotReady("the sale is not loaded into the cache yet; try again shortly", retry_after=1)
