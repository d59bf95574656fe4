"""The rules of preheating a sale (Preheater), on fakes of its ports: a loaded sale is left alone, an ended one is
never loaded, a sale whose cache was lost is reloaded only once drained, stock is recomputed from the orders, and
the epoch bump is committed before the cache is written. Against MariaDB and Redis:
tests/integration/test_preheat.py."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.application.preheat import Preheater
from app.domain.errors import NotFound, NotReady
from app.domain.models import Backlog, Sale

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SALE = Sale(1, 1, "s", 100, 10, 10, NOW, NOW + timedelta(hours=1), 1, 60, False, 0, NOW)


class Rows:
    """The sale's row and its orders; a transaction's epoch bump is committed when its block ends without error."""

    def __init__(self, sale: Sale | None = SALE, taken: int = 3) -> None:
        self.sale, self.taken, self.staged = sale, taken, sale

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Rows]:
        self.staged = self.sale
        yield self
        self.sale = self.staged

    async def sale_by_id(self, sale_id: int, *, lock: bool = False) -> Sale | None:
        return self.staged

    async def set_cache_epoch(self, sale_id: int, epoch: int) -> None:
        assert self.staged is not None
        self.staged = replace(self.staged, cache_epoch=epoch)

    async def units_taken(self, sale_id: int) -> int:
        return self.taken

    async def holdings(self, sale_id: int) -> list[tuple[str, int]]:
        return [("u1", 3)]

    async def idempotency_keys(self, sale_id: int) -> list[tuple[str, str, int, int]]:
        return []

    async def unapplied_returns(self, sale_id: int) -> list[int]:
        return [9]

    async def orders_placed(self, sale_id: int) -> list[tuple[str, int]]:
        return [("u1", 2)]


class Cache:
    def __init__(self, rows: Rows, *, loaded: bool = False, now: datetime = NOW, wins: bool = True) -> None:
        self.rows, self.loaded, self.now, self.wins = rows, loaded, now, wins
        self.loads: list[dict[str, Any]] = []

    async def now_ms(self) -> int:
        return int(self.now.timestamp() * 1000)

    async def is_loaded(self, sale_id: int) -> bool:
        return self.loaded

    async def load(self, sale: Sale, **snapshot: Any) -> bool:
        assert self.rows.sale is not None
        self.loads.append({**snapshot, "committed_epoch": self.rows.sale.cache_epoch})
        return self.wins


class Views:
    async def sale(self, sale_id: int) -> str:
        return f"view of {sale_id}"


DRAINED = Backlog(0, 0)


def preheater(rows: Rows, cache: Cache, backlog: Backlog = DRAINED) -> Preheater:
    async def drained(sale_id: int) -> Backlog:
        return backlog

    return Preheater(rows, cache, Views(), drained)


async def test_a_first_preheat_loads_the_stock_left_by_the_orders_after_committing_the_epoch() -> None:
    rows = Rows()
    cache = Cache(rows)
    assert await preheater(rows, cache).preheat(1) == ("view of 1", True)
    (load,) = cache.loads
    assert load["stock_left"] == 10 - 3 and load["holdings"] == [("u1", 3)]
    assert load["cancelled"] == [9] and load["placed"] == [("u1", 2)]
    assert load["epoch"] == 1 and load["committed_epoch"] == 1  # the bump was committed before the write
    assert rows.sale is not None and rows.sale.cache_epoch == 1


async def test_a_loaded_sale_is_left_alone() -> None:
    rows = Rows()
    cache = Cache(rows, loaded=True)
    assert await preheater(rows, cache).preheat(1) == ("view of 1", False)
    assert cache.loads == [] and rows.sale == SALE


async def test_an_ended_sale_is_never_loaded() -> None:
    rows = Rows()
    cache = Cache(rows, now=SALE.ends_at)
    assert await preheater(rows, cache).preheat(1) == ("view of 1", False)
    assert cache.loads == [] and rows.sale == SALE


async def test_an_unknown_sale_is_not_found() -> None:
    rows = Rows(sale=None)
    with pytest.raises(NotFound):
        await preheater(rows, Cache(Rows())).preheat(1)


async def test_a_lost_cache_is_reloaded_only_once_every_accepted_order_is_written() -> None:
    rows = Rows(sale=replace(SALE, cache_epoch=4))
    cache = Cache(rows)
    with pytest.raises(NotReady) as caught:
        await preheater(rows, cache, Backlog(handoff=2, unwritten=1)).preheat(1)
    assert "3 of its accepted orders are not written" in caught.value.message
    assert cache.loads == [] and rows.sale is not None and rows.sale.cache_epoch == 4
    assert await preheater(rows, cache).preheat(1) == ("view of 1", True)
    assert cache.loads[0]["epoch"] == 5


async def test_a_preheat_that_another_one_beat_reports_nothing_loaded() -> None:
    rows = Rows()
    assert await preheater(rows, Cache(rows, wins=False)).preheat(1) == ("view of 1", False)
