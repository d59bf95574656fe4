"""A reservation whose reply was lost is settled by its record: looked up again for a short while, and when
nobody can tell, the 503 says the outcome is unknown instead of claiming nothing was reserved."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.application import purchase as module
from app.application.purchase import Limits, PurchaseRequest, RedisPurchase
from app.domain.errors import Unavailable
from app.infrastructure.sold_out import SoldOutFlags

ORDER_ID = 4242


class Ids:
    async def next_id(self) -> int:
        return ORDER_ID


class Cache:
    """The reply of the reservation is lost; the record lookups fail `down_for` times, then answer `record`."""

    def __init__(self, down_for: int, record: str | None) -> None:
        self.down_for = down_for
        self.record = record
        self.lookups = 0

    async def reserve(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RedisConnectionError("the reply to a batched script call was lost")

    async def reservation(self, _sale_id: int, order_id: int) -> str | None:
        assert order_id == ORDER_ID
        self.lookups += 1
        if self.lookups <= self.down_for:
            raise RedisConnectionError("Redis is down")
        return self.record


class Db:
    """No order row: the order writer has not written it."""

    def __init__(self) -> None:
        self.opened = 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[object]:
        self.opened += 1
        yield object()


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "RECORD_CHECK_SECONDS", 0.05)
    monkeypatch.setattr(module, "RECORD_CHECK_PAUSE", 0.001)

    async def no_row(_cur: object, _order_id: int) -> None:
        return None

    monkeypatch.setattr(module.sql_orders, "by_id", no_row)


def buyer(cache: Cache, db: Db) -> RedisPurchase:
    return RedisPurchase(db, cache, Ids(), SoldOutFlags(1), Limits(0, 0, 0))  # type: ignore[arg-type]


REQUEST = PurchaseRequest(sale_id=7, user_id="u1", quantity=1, idempotency_key="k1", address=None)


async def test_a_record_found_once_redis_answers_again_is_the_accepted_order() -> None:
    cache = Cache(down_for=2, record='{"o": "4242"}')
    accepted, outcome = await buyer(cache, Db()).purchase(REQUEST)
    assert (accepted.order_id, accepted.status, outcome) == (ORDER_ID, "pending", "accepted")
    assert cache.lookups == 3


async def test_no_record_and_no_row_means_nothing_was_reserved() -> None:
    cache, db = Cache(down_for=1, record=None), Db()
    with pytest.raises(Unavailable, match="nothing was reserved"):
        await buyer(cache, db).purchase(REQUEST)
    assert db.opened == 1


async def test_when_redis_stays_down_the_outcome_is_said_to_be_unknown() -> None:
    cache, db = Cache(down_for=10**9, record=None), Db()
    with pytest.raises(Unavailable) as raised:
        await buyer(cache, db).purchase(REQUEST)
    message = raised.value.message
    assert "unknown" in message and "same Idempotency-Key" in message
    assert "nothing was reserved" not in message
    assert cache.lookups > 1  # tried again before answering
    assert db.opened == 0
