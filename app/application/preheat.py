"""Preheat: load a sale into the cache from the database truth, ahead of its start.

Stock left is recomputed from the orders (stock minus units not cancelled), so repeating a preheat never
refills what was sold; on a sale already loaded it changes nothing. A sale whose cache was lost is loaded
again only once none of its accepted orders is on its way (in the hand-off, the order queue, a writer's hands or
the dead-letter queue), so no accepted order is counted twice or missed."""

from __future__ import annotations

from typing import Protocol

from app.application.catalogue import SaleView
from app.application.drain import DrainCheck, always_drained, not_drained
from app.application.ports import PreheatCache, PreheatTx, Transactions
from app.domain.errors import NotFound


class SaleViews(Protocol):
    """The sale as the API shows it (the Catalogue)."""

    async def sale(self, sale_id: int) -> SaleView: ...


class Preheater:
    def __init__(
        self,
        store: Transactions[PreheatTx],
        cache: PreheatCache,
        catalogue: SaleViews,
        drained: DrainCheck = always_drained,
    ) -> None:
        self._store = store
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
        async with self._store.transaction() as tx:
            sale = await tx.sale_by_id(sale_id, lock=True)
            if sale is None:
                raise NotFound("no such sale")
            if now_ms >= int(sale.ends_at.timestamp() * 1000):
                return False  # an ended sale: nothing to sell, nothing changes
            if sale.cache_epoch > 0:
                backlog = await self._drained(sale_id)
                if not backlog.drained:
                    raise not_drained(backlog, "preheat again")
            await tx.set_cache_epoch(sale_id, sale.cache_epoch + 1)
        # The epoch is committed BEFORE the cache is written: if the write's reply is lost or this process dies
        # after it, the database still knows the sale may be selling from a cache, so the preheat after a later
        # loss waits for the orders on their way instead of taking the sale for one never loaded.
        async with self._store.transaction() as tx:
            sale = await tx.sale_by_id(sale_id, lock=True)
            if sale is None:
                raise NotFound("no such sale")
            loaded = await self._cache.load(
                sale,
                epoch=sale.cache_epoch,
                stock_left=sale.stock - await tx.units_taken(sale_id),
                holdings=await tx.holdings(sale_id),
                idempotency=await tx.idempotency_keys(sale_id),
                cancelled=await tx.unapplied_returns(sale_id),
                placed=await tx.orders_placed(sale_id),
            )
            if not loaded:
                raise _AlreadyLoaded
        return True


class _AlreadyLoaded(Exception):
    """Another preheat loaded the sale first (its epoch bump, or ours, is harmless: epochs only grow)."""
