"""Preheat: load a sale into the cache from the database truth, ahead of its start.

Stock left is recomputed from the orders (stock minus units not cancelled), so repeating a preheat never
refills what was sold; on a sale already loaded it changes nothing. A sale whose cache was lost is loaded
again only once the order pipeline has drained, so no accepted order is counted twice or missed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.application.catalogue import Catalogue, SaleView
from app.domain.errors import NotFound, NotReady
from app.infrastructure import sql_catalogue as sql
from app.infrastructure.db import Database
from app.infrastructure.sale_cache import SaleCache

# Answers whether the hand-off and the order queue are empty (nothing accepted is still on its way).
DrainCheck = Callable[[int], Awaitable[bool]]


async def _always_drained(_sale_id: int) -> bool:
    return True


class Preheater:
    def __init__(
        self, db: Database, cache: SaleCache, catalogue: Catalogue, drained: DrainCheck = _always_drained
    ) -> None:
        self._db = db
        self._cache = cache
        self._catalogue = catalogue
        self._drained = drained

    async def preheat(self, sale_id: int) -> tuple[SaleView, bool]:
        """Returns the sale and whether this call loaded it."""
        loaded = False
        if not await self._cache.is_loaded(sale_id):
            try:
                loaded = await self._load(sale_id)
            except _AlreadyLoaded:
                loaded = False
        return await self._catalogue.sale(sale_id), loaded

    async def _load(self, sale_id: int) -> bool:
        now_ms = await self._cache.now_ms()
        async with self._db.transaction() as cur:
            sale = await sql.sale_by_id(cur, sale_id, lock=True)
            if sale is None:
                raise NotFound("no such sale")
            if now_ms >= int(sale.ends_at.timestamp() * 1000):
                return False  # an ended sale: nothing to sell, nothing changes
            if sale.cache_epoch > 0 and not await self._drained(sale_id):
                raise NotReady("the sale's cache was lost; orders are still draining, preheat again shortly")
            stock_left = sale.stock - await sql.units_taken(cur, sale_id)
            epoch = sale.cache_epoch + 1
            await sql.set_cache_epoch(cur, sale_id, epoch)
            loaded = await self._cache.load(
                sale,
                epoch=epoch,
                stock_left=stock_left,
                holdings=await sql.holdings(cur, sale_id),
                idempotency=await sql.idempotency_keys(cur, sale_id),
                cancelled=await sql.unapplied_returns(cur, sale_id),
                placed=await sql.orders_placed(cur, sale_id),
            )
            if not loaded:
                raise _AlreadyLoaded
        return True


class _AlreadyLoaded(Exception):
    """Another preheat loaded the sale first; roll back the epoch bump."""
