"""A reservation whose reply was lost is settled by its record: looked up again for a short while; a record of
this user and quantity is the accepted order, and anything else is a 503 that says the outcome is unknown (the
script may still run), never that nothing was reserved. Only a call that was never sent says that."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.application import purchase as module
from app.application.purchase import Limits, PurchaseRequest, RedisPurchase
from app.domain.errors import Unavailable
from app.infrastructure.script_batch import NotSent, ReplyLost
from app.infrastructure.sold_out import SoldOutFlags

ORDER_ID = 4242


class Ids:
    async def next_id(self) -> int:
        return ORDER_ID


class Cache:
    """The reply of the reservation is lost; the record lookups fail `down_for` times, then answer `record`."""

    def __init__(self, down_for: int, record: str | None, error: Exception | None = None) -> None:
        self.down_for = down_for
        self.record = record
        self.error = error or ReplyLost("the reply to a batched script call was lost")
        self.lookups = 0

    async def reserve(self, *_args: Any, **_kwargs: Any) -> Any:
        raise self.error

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


def row_is(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> None:
    """The order writer has written order ORDER_ID with these fields (the record is gone then)."""

    async def found(_cur: object, order_id: int) -> Any:
        assert order_id == ORDER_ID
        return SimpleNamespace(**{"sale_id": 7, "user_id": "u1", "quantity": 1, **fields})

    monkeypatch.setattr(module.sql_orders, "by_id", found)


def buyer(cache: Cache, db: Db) -> RedisPurchase:
    return RedisPurchase(db, cache, Ids(), SoldOutFlags(1), Limits(0, 0, 0))  # type: ignore[arg-type]


REQUEST = PurchaseRequest(sale_id=7, user_id="u1", quantity=1, idempotency_key="k1", address=None)
KEYLESS = PurchaseRequest(sale_id=7, user_id="u1", quantity=1, idempotency_key=None, address=None)
RECORD = '{"o": "4242", "s": "7", "u": "u1", "q": 1}'


def unknown(raised: pytest.ExceptionInfo[Unavailable]) -> str:
    message = raised.value.message
    assert "unknown" in message and "nothing was reserved" not in message, message
    assert isinstance(raised.value.__cause__, RedisConnectionError)
    return message


async def test_a_record_found_once_redis_answers_again_is_the_accepted_order() -> None:
    cache = Cache(down_for=2, record=RECORD)
    accepted, outcome = await buyer(cache, Db()).purchase(REQUEST)
    assert (accepted.order_id, accepted.status, outcome) == (ORDER_ID, "pending", "accepted")
    assert cache.lookups == 3


async def test_a_call_never_sent_means_nothing_was_reserved_without_a_lookup() -> None:
    cache, db = Cache(down_for=0, record=RECORD, error=NotSent("no connection")), Db()
    with pytest.raises(Unavailable, match="nothing was reserved"):
        await buyer(cache, db).purchase(REQUEST)
    assert (cache.lookups, db.opened) == (0, 0)


async def test_no_record_and_no_row_is_unknown_since_the_script_may_still_run() -> None:
    cache, db = Cache(down_for=1, record=None), Db()
    with pytest.raises(Unavailable) as raised:
        await buyer(cache, db).purchase(REQUEST)
    assert "same Idempotency-Key" in unknown(raised)
    assert db.opened == 1


@pytest.mark.parametrize(
    "record",
    [
        '{"o": "4242", "s": "7", "u": "someone-else", "q": 1}',  # another purchase holds this id
        '{"o": "4242", "s": "7", "u": "u1", "q": 2}',
        '{"o": "4242"}',
        "not json",
    ],
)
async def test_a_record_of_another_purchase_is_not_this_ones(record: str) -> None:
    with pytest.raises(Unavailable) as raised:
        await buyer(Cache(down_for=0, record=record), Db()).purchase(REQUEST)
    unknown(raised)


async def test_a_written_row_of_this_purchase_is_the_accepted_order(monkeypatch: pytest.MonkeyPatch) -> None:
    row_is(monkeypatch)
    accepted, outcome = await buyer(Cache(down_for=0, record=None), Db()).purchase(REQUEST)
    assert (accepted.order_id, outcome) == (ORDER_ID, "accepted")


@pytest.mark.parametrize("fields", [{"user_id": "someone-else"}, {"quantity": 3}, {"sale_id": 8}])
async def test_a_written_row_of_another_purchase_is_not_this_ones(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any]
) -> None:
    row_is(monkeypatch, **fields)
    with pytest.raises(Unavailable) as raised:
        await buyer(Cache(down_for=0, record=None), Db()).purchase(REQUEST)
    unknown(raised)


async def test_without_a_key_the_unknown_answer_says_to_check_the_orders() -> None:
    with pytest.raises(Unavailable) as raised:
        await buyer(Cache(down_for=0, record=None), Db()).purchase(KEYLESS)
    message = unknown(raised)
    assert "GET /api/v1/orders" in message and "Idempotency-Key" not in message


async def test_when_redis_stays_down_the_outcome_is_said_to_be_unknown() -> None:
    cache, db = Cache(down_for=10**9, record=None), Db()
    with pytest.raises(Unavailable) as raised:
        await buyer(cache, db).purchase(REQUEST)
    assert "same Idempotency-Key" in unknown(raised)
    assert cache.lookups >= 1  # (tries again: the first test)
    assert db.opened == 0
