"""Commodities and sales: create, read, change. Reads combine the database with the cache's stock."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from app.domain.errors import Conflict, InvalidRequest, NotFound
from app.domain.models import Commodity, Sale, SaleStatus
from app.domain.timefmt import from_ms
from app.infrastructure import sql_catalogue as sql
from app.infrastructure.db import Database, IntegrityError
from app.infrastructure.redis_client import REDIS_DOWN
from app.infrastructure.sale_cache import SaleCache


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
    def __init__(self, db: Database, cache: SaleCache, *, use_cache: bool) -> None:
        self._db = db
        self._cache = cache
        self._use_cache = use_cache

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

        The database row stays locked while the cache is changed, so the two move together."""
        async with self._db.transaction() as cur:
            sale = await sql.sale_by_id(cur, sale_id, lock=True)
            if sale is None:
                raise NotFound("no such sale")
            new_stock = sale.stock if stock is None else stock
            delta = new_stock - sale.stock
            if sale.stock_left + delta < 0:
                raise Conflict(
                    f"stock {new_stock} is below the {sale.stock - sale.stock_left} units sold",
                    code="stock_below_sold",
                )
            new_paused = sale.paused if paused is None else paused
            if self._use_cache and (delta != 0 or paused is not None):
                code, left = await self._cache.adjust(sale_id, stock=new_stock, paused=paused)
                if code == "below_sold":
                    raise Conflict(
                        f"stock {new_stock} is below what is sold or reserved ({new_stock - delta - left})",
                        code="stock_below_sold",
                    )
            await sql.update_sale(cur, sale_id, paused=new_paused, stock=new_stock, stock_left=sale.stock_left + delta)
        return await self.sale(sale_id)
