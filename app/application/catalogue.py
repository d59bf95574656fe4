"""Commodities and sales: create, read, change. Reads combine the database with the cache's stock.

A change of a loaded sale touches two stores that cannot commit together, so the order is chosen to be safe:
what lets the cache sell less (less stock, a pause) reaches the cache before the database commits; what lets it
sell more (more stock, a resume) commits to the database first, and the cache is then set from the database.
Whatever fails in between (a crash, a failed commit, a lost reply) leaves the cache selling less than the
database allows, never more, and `sync_cache`, which the timeout worker's sweep runs for every live sale, sets
the cache from the database again (adjust.lua sets values, so repeating it is harmless)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from app.application.drain import DrainCheck, always_drained, not_drained
from app.domain.errors import Conflict, InvalidRequest, NotFound
from app.domain.models import Commodity, Sale, SaleStatus
from app.domain.timefmt import from_ms
from app.infrastructure import sql_catalogue as sql
from app.infrastructure.db import Database, IntegrityError
from app.infrastructure.redis_client import REDIS_DOWN
from app.infrastructure.sale_cache import SaleCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaleView:
    sale: Sale
    stock_left: int
    preheated: bool
    status: SaleStatus
    server_time: datetime


@dataclass(frozen=True)
class NewSale:
    commodity_id: int
    name: str
    price_cents: int
    stock: int
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int = 1
    payment_timeout_seconds: int = 900
    paused: bool = False


T = TypeVar("T")


async def _found_or_made(
    find: Callable[[], Awaitable[T | None]], make: Callable[[], Awaitable[T]], key: str
) -> tuple[T, bool]:
    """What `find` finds, else what `make` makes; whether it was made. Two racing calls end with one thing: the
    loser's insert hits the unique key, and it finds the winner's."""
    for _ in range(2):
        found = await find()
        if found is not None:
            return found, False
        try:
            return await make(), True
        except IntegrityError:
            continue
    raise Conflict(f"what belongs to {key} could be neither found nor made", code="conflict")


class Catalogue:
    def __init__(
        self, db: Database, cache: SaleCache, *, use_cache: bool, drained: DrainCheck = always_drained
    ) -> None:
        self._db = db
        self._cache = cache
        self._use_cache = use_cache
        self._drained = drained

    async def create_commodity(
        self, name: str, description: str | None, price_cents: int, image_url: str | None
    ) -> Commodity:
        async with self._db.transaction() as cur:
            cid = await sql.insert_commodity(cur, name, description, price_cents, image_url)
            commodity = await sql.commodity_by_id(cur, cid)
        assert commodity is not None
        return commodity

    async def commodity(self, commodity_id: int) -> Commodity:
        async with self._db.transaction() as cur:
            commodity = await sql.commodity_by_id(cur, commodity_id)
        if commodity is None:
            raise NotFound("no such commodity")
        return commodity

    async def commodity_for(self, key: str, name: str, description: str | None, price_cents: int) -> Commodity:
        """The commodity made for an external key (a FlashSale resource), made now if there is none."""

        async def find() -> Commodity | None:
            async with self._db.transaction() as cur:
                return await sql.commodity_by_key(cur, key)

        async def make() -> Commodity:
            async with self._db.transaction() as cur:
                cid = await sql.insert_commodity(cur, name, description, price_cents, None, external_key=key)
                made = await sql.commodity_by_id(cur, cid)
            assert made is not None
            return made

        return (await _found_or_made(find, make, key))[0]

    async def commodities(self, limit: int, before: int | None) -> list[Commodity]:
        async with self._db.transaction() as cur:
            return await sql.list_commodities(cur, limit, before)

    async def create_sale(self, new: NewSale, external_key: str | None = None) -> SaleView:
        if new.ends_at <= new.starts_at:
            raise InvalidRequest("ends_at must be after starts_at")
        async with self._db.transaction() as cur:
            if await sql.commodity_by_id(cur, new.commodity_id) is None:
                raise InvalidRequest("commodity_id names no commodity")
            sale_id = await sql.insert_sale(
                cur,
                commodity_id=new.commodity_id,
                name=new.name,
                price_cents=new.price_cents,
                stock=new.stock,
                starts_at=new.starts_at,
                ends_at=new.ends_at,
                per_user_limit=new.per_user_limit,
                payment_timeout_seconds=new.payment_timeout_seconds,
                paused=new.paused,
                external_key=external_key,
            )
        return await self.sale(sale_id)

    async def sale_for(self, key: str, new: NewSale) -> tuple[SaleView, bool]:
        """The sale made for an external key, made now from `new` if there is none; whether this call made
        it. A re-run after a crash finds the sale it made: no duplicate, no unique-key error."""
        return await _found_or_made(lambda: self.sale_by_key(key), lambda: self.create_sale(new, external_key=key), key)

    async def sale_by_key(self, key: str) -> SaleView | None:
        async with self._db.transaction() as cur:
            sale = await sql.sale_by_key(cur, key)
        return None if sale is None else (await self.views([sale]))[0]

    async def end_sale(self, sale_id: int) -> SaleView:
        """End the sale now (a sale that ended already keeps its end): purchases answer `ended` from then on.
        The row stays locked while the cache changes, as in `change_sale`."""
        now_ms = await self._cache.now_ms() if self._use_cache else int(time.time() * 1000)
        async with self._db.transaction() as cur:
            if await sql.sale_by_id(cur, sale_id, lock=True) is None:
                raise NotFound("no such sale")
            await sql.end_sale(cur, sale_id, from_ms(now_ms))
            if self._use_cache:
                await self._cache.end(sale_id, now_ms)
        return await self.sale(sale_id)

    async def sale(self, sale_id: int) -> SaleView:
        async with self._db.transaction() as cur:
            sale = await sql.sale_by_id(cur, sale_id)
        if sale is None:
            raise NotFound("no such sale")
        return (await self.views([sale]))[0]

    async def sales(self, limit: int, before: int | None) -> list[SaleView]:
        async with self._db.transaction() as cur:
            sales = await sql.list_sales(cur, limit, before)
        return await self.views(sales)

    async def views(self, sales: list[Sale]) -> list[SaleView]:
        """Stock from the cache where the sale is loaded; time from the clock the reservation uses."""
        cached: dict[int, int | None] = {}
        now_ms = int(time.time() * 1000)
        if self._use_cache:
            try:
                now_ms = await self._cache.now_ms()
                cached = await self._cache.stock_left([s.id for s in sales])
            except REDIS_DOWN:
                cached = {}
        now = from_ms(now_ms)
        views = []
        for sale in sales:
            value = cached.get(sale.id)
            left = sale.stock_left if value is None else value
            views.append(SaleView(sale, left, value is not None, sale.status_at(now, left), now))
        return views

    async def change_sale(self, sale_id: int, *, paused: bool | None, stock: int | None) -> SaleView:
        """Pause, resume or change stock. Stock never drops below what is sold; on refusal nothing changes.
        A stock change of a sale whose cache was lost waits (503) until none of its orders is on its way: until
        then the database's count of what is sold is short."""
        async with self._db.transaction() as cur:
            sale = await sql.sale_by_id(cur, sale_id, lock=True)
            if sale is None:
                raise NotFound("no such sale")
            new_stock = sale.stock if stock is None else stock
            delta = new_stock - sale.stock
            new_paused = sale.paused if paused is None else paused
            if self._use_cache and delta != 0 and sale.cache_epoch > 0 and not await self._cache.is_loaded(sale_id):
                backlog = await self._drained(sale_id)
                if not backlog.drained:
                    raise not_drained(backlog, "change its stock")
            if sale.stock_left + delta < 0:
                raise Conflict(
                    f"stock {new_stock} is below the {sale.stock - sale.stock_left} units sold",
                    code="stock_below_sold",
                )
            less = delta < 0
            pausing = new_paused and not sale.paused
            if self._use_cache and (less or pausing):
                # Restrictions first, while the row is locked: a failure after this leaves the cache stricter.
                code, left = await self._cache.adjust(
                    sale_id, stock=new_stock if less else None, paused=True if pausing else None
                )
                if code == "below_sold":
                    raise Conflict(
                        f"stock {new_stock} is below what is sold or reserved ({sale.stock - left})",
                        code="stock_below_sold",
                    )
                if code == "not_loaded" and less and sale.cache_epoch > 0:
                    # The cache went between the check above and this call: its orders may still be on their way.
                    backlog = await self._drained(sale_id)
                    if not backlog.drained:
                        raise not_drained(backlog, "change its stock")
            await sql.update_sale(cur, sale_id, paused=new_paused, stock=new_stock, stock_left=sale.stock_left + delta)
        if self._use_cache and (delta != 0 or paused is not None):
            await self.sync_cache(sale_id)  # committed: now the cache may follow (more stock, a resume)
        return await self.sale(sale_id)

    async def sync_cache(self, sale_id: int) -> str:
        """Set a loaded sale's cached stock and pause from its database row, under the row lock (so no change
        runs at once). Returns the script's code: 'ok', 'not_loaded' or 'below_sold' (the cache has reserved
        more than the database's stock, which the order of `change_sale` never leaves). Redis is asked first,
        outside the lock: with Redis down or hung the sweep fails here, never holding the row that the order
        writers' stock takes and the admin's changes wait on."""
        if not await self._cache.is_loaded(sale_id):
            return "not_loaded"
        async with self._db.transaction() as cur:
            sale = await sql.sale_by_id(cur, sale_id, lock=True)
            if sale is None:
                return "not_loaded"
            code, _left = await self._cache.adjust(sale_id, stock=sale.stock, paused=sale.paused)
        if code == "below_sold":
            log.error("sale %s: the cache has reserved more than the database's stock of %s", sale_id, sale.stock)
        return code

    async def sync_live_caches(self, limit: int = 500) -> int:
        """`sync_cache` for every sale that was preheated and has not ended; how many it set."""
        if not self._use_cache:
            return 0
        async with self._db.transaction() as cur:
            ids = await sql.live_preheated_sales(cur, limit)
        done = 0
        for sale_id in ids:
            done += int(await self.sync_cache(sale_id) == "ok")
        return done
