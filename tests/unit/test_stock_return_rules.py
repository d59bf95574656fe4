"""The rules of returning a cancelled order's stock (StockReturns), on fakes of its ports: only the cancellation's
winner returns it, exactly once, to the cache under the return's row lock; a Redis outage leaves it to the sweep.
Against MariaDB and Redis: tests/pipeline/test_stock_sync.py, test_user_state.py and the fault tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from app.application.stock_return import StockReturns
from app.domain.models import StockReturn

RET = StockReturn(order_id=7, sale_id=1, user_id="u1", quantity=2, cache_epoch=1)


class Outbox:
    """The stock_returns outbox: which returns are applied; whether a transaction is open (the row lock held)."""

    def __init__(self, *owed: StockReturn, won: bool = True) -> None:
        self.owed, self.applied, self.won, self.in_tx = list(owed), set[int](), won, False

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Outbox]:
        self.in_tx = True
        try:
            yield self
        finally:
            self.in_tx = False

    async def cancel(self, order_id: int, reason: str, *, user_id: str | None = None) -> StockReturn | None:
        return RET if self.won else None

    async def lock_unapplied_return(self, order_id: int) -> bool:
        return order_id not in self.applied

    async def mark_returned(self, order_id: int) -> None:
        self.applied.add(order_id)

    async def pending_returns(self, limit: int) -> list[StockReturn]:
        return [r for r in self.owed if r.order_id not in self.applied][:limit]


class Cache:
    """Releases units; `down` names the calls that fail as an unreachable Redis does."""

    def __init__(self, outbox: Outbox, *down: str) -> None:
        self.outbox, self.down = outbox, set(down)
        self.released: list[tuple[int, int]] = []
        self.forgotten: list[int] = []

    async def release(self, sale_id: int, *, order_id: int, user_id: str, quantity: int) -> str:
        assert self.outbox.in_tx, "released outside the return's row lock"
        if "release" in self.down:
            raise ConnectionError("redis is down")
        self.released.append((order_id, quantity))
        return "released"

    async def forget_returned(self, sale_id: int, order_id: int) -> None:
        if "forget" in self.down:
            raise ConnectionError("redis is down")
        self.forgotten.append(order_id)


async def test_the_winner_returns_the_units_once_and_the_guard_entry_goes() -> None:
    outbox = Outbox()
    cache = Cache(outbox)
    assert await StockReturns(outbox, cache).cancel(7, "user", user_id="u1") == RET
    assert cache.released == [(7, 2)] and outbox.applied == {7} and cache.forgotten == [7]


async def test_the_loser_of_a_cancellation_returns_nothing() -> None:
    outbox = Outbox(won=False)
    cache = Cache(outbox)
    assert await StockReturns(outbox, cache).cancel(7, "timeout") is None
    assert cache.released == [] and outbox.applied == set()


async def test_a_return_applied_meanwhile_releases_nothing() -> None:
    outbox = Outbox()
    outbox.applied.add(7)
    cache = Cache(outbox)
    assert await StockReturns(outbox, cache).apply(RET) is True
    assert cache.released == []


async def test_with_redis_down_the_return_waits_for_the_sweep_which_applies_it_once() -> None:
    outbox = Outbox(RET)
    returns = StockReturns(outbox, Cache(outbox, "release"))
    assert await returns.apply(RET) is False
    assert outbox.applied == set()
    cache = Cache(outbox)  # Redis is back
    returns = StockReturns(outbox, cache)
    assert await returns.apply_pending() == 1
    assert await returns.apply_pending() == 0
    assert cache.released == [(7, 2)] and outbox.applied == {7}


async def test_a_guard_entry_that_cannot_be_dropped_does_not_undo_the_return() -> None:
    outbox = Outbox()
    cache = Cache(outbox, "forget")
    assert await StockReturns(outbox, cache).apply(RET) is True
    assert cache.released == [(7, 2)] and outbox.applied == {7} and cache.forgotten == []
