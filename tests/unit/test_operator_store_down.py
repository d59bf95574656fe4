"""While a store is down the clock still moves the phase: a tick whose reads fail (a preheat against a Redis that
is down, or the sale's view itself) reports StoresReachable=False and the phase the sale last seen has by the
operator's clock, with the last stock known, so a sale down in its live window still reaches Ended at endsAt.
Fakes stand in for the stores; the lifecycle functions are the real ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.application.catalogue import SaleView
from app.application.sale_orders import OrderCounts
from app.domain.errors import ServiceUnavailable
from app.domain.models import Sale
from flashsale_operator import lifecycle
from flashsale_operator.config import OperatorConfig
from flashsale_operator.context import Operator
from flashsale_operator.spec import Resource

STARTS = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(minutes=10)
SALE = Sale(
    id=7,
    commodity_id=1,
    name="lamps",
    price_cents=1500,
    stock=6,
    stock_left=3,
    starts_at=STARTS,
    ends_at=ENDS,
    per_user_limit=2,
    payment_timeout_seconds=60,
    paused=False,
    cache_epoch=1,
    created_at=STARTS - timedelta(hours=1),
)
REF = Resource("shop", "lamps", "uid-1")
SPEC = {"preheatLeadSeconds": 30}


@dataclass
class Stores:
    """The catalogue, preheater and order counts the lifecycle reads, with switches to take them down."""

    now: datetime = STARTS
    cache_lost: bool = False  # the sale's keys are gone from Redis: a preheat is due
    redis_down: bool = False  # a preheat fails
    catalogue_down: bool = False  # the sale's view cannot be read at all

    async def sale_by_key(self, key: str) -> SaleView:
        if self.catalogue_down:
            raise ServiceUnavailable("Redis", "FLASHSALE_REDIS_URL", "connection refused")
        return SaleView(SALE, 3, not self.cache_lost, SALE.status_at(self.now, 3), self.now)

    async def preheat(self, sale_id: int) -> tuple[SaleView, bool]:
        if self.redis_down:
            raise RedisConnectionError("connection refused")
        self.cache_lost = False
        return await self.sale_by_key(""), True

    async def counts(self, sale_id: int) -> OrderCounts:
        return OrderCounts(written=3, paid=1, awaiting_payment=0)


@dataclass
class Sink:
    written: list[dict[str, Any]] = field(default_factory=list)

    async def write(self, ref: Resource, status: dict[str, Any]) -> bool:
        self.written.append(status)
        return True


def stores_condition(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "StoresReachable")


async def test_a_store_down_in_the_live_window_does_not_stall_the_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    stores, sink = Stores(now=STARTS + timedelta(seconds=5)), Sink()
    monkeypatch.setattr(lifecycle, "_now", lambda: stores.now)
    fake = cast(Any, stores)
    op = Operator(fake, fake, fake, cast(Any, None), cast(Any, None), sink, OperatorConfig(), use_cache=True)

    await lifecycle.tick(op, REF, SPEC, None)
    assert sink.written[-1]["phase"] == "Active" and sink.written[-1]["stockLeft"] == 3

    # Redis goes down and the sale's keys with it: the preheat raises, the sale is still live.
    stores.cache_lost = stores.redis_down = True
    stores.now = ENDS - timedelta(seconds=0.5)
    delay = await lifecycle.tick(op, REF, SPEC, None)
    status = sink.written[-1]
    assert status["phase"] == "Active" and stores_condition(status)["status"] == "False"
    assert 0.5 <= delay <= 0.51  # the next tick just past endsAt, not a whole tick later

    # Past endsAt, with nothing readable: Ended by the clock, the last stock and counts kept.
    stores.catalogue_down = True
    stores.now = ENDS + timedelta(seconds=0.01)
    await lifecycle.tick(op, REF, SPEC, None)
    status = sink.written[-1]
    assert (status["phase"], status["stockLeft"], status["ordersCreated"]) == ("Ended", 3, 3), status
    assert stores_condition(status)["reason"] == "Unreachable"

    # The stores come back: the tick agrees, and says they answer.
    stores.catalogue_down = stores.redis_down = False
    await lifecycle.tick(op, REF, SPEC, None)
    status = sink.written[-1]
    assert status["phase"] == "Ended" and stores_condition(status)["status"] == "True"


async def test_a_store_down_before_the_preheat_leaves_the_sale_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not preheated yet when the stores went down: Pending until startsAt (never Preheated without a cache),
    then Active by the clock."""
    stores, sink = Stores(now=STARTS - timedelta(seconds=60), catalogue_down=True), Sink()
    monkeypatch.setattr(lifecycle, "_now", lambda: stores.now)
    fake = cast(Any, stores)
    op = Operator(fake, fake, fake, cast(Any, None), cast(Any, None), sink, OperatorConfig(), use_cache=True)
    stores.catalogue_down = False
    await lifecycle.tick(op, REF, SPEC, None)
    assert sink.written[-1]["phase"] == "Pending"
    stores.catalogue_down = True
    stores.now = STARTS - timedelta(seconds=10)  # preheat time, nothing readable
    await lifecycle.tick(op, REF, SPEC, None)
    assert sink.written[-1]["phase"] == "Pending"
    stores.now = STARTS + timedelta(seconds=1)
    await lifecycle.tick(op, REF, SPEC, None)
    assert sink.written[-1]["phase"] == "Active"
