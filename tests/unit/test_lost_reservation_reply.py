"""A reservation whose reply was lost is settled once Redis answers (a few short tries): a record (or a written
row) of this sale, user and quantity is the accepted order; no record fences the order id (lua/settle.lua, so a
late call reserves nothing) and the 503 says nothing was reserved. When nobody can tell (Redis or the database
stays unreachable), the 503 says the outcome is unknown, never that nothing was reserved. A call never sent needs
no settling."""

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

    async def settle(self, _sale_id: int, order_id: int) -> str | None:
        assert order_id == ORDER_ID
        self.lookups += 1
        if self.lookups <= self.down_for:
            raise RedisConnectionError("Redis is down")
        return self.record


class Db:
    """No order row unless a test says so (`row_is`); `down` fails every transaction as the real one does."""

    def __init__(self, down: bool = False) -> None:
        self.opened = 0
        self.down = down

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[object]:
        self.opened += 1
        if self.down:
            raise Unavailable("the database is unreachable")
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


def not_reserved(raised: pytest.ExceptionInfo[Unavailable]) -> None:
    assert raised.value.message == "the stock store (Redis) did not answer; nothing was reserved"


async def test_a_record_found_once_redis_answers_again_is_the_accepted_order() -> None:
    cache = Cache(down_for=2, record=RECORD)
    accepted, outcome = await buyer(cache, Db()).purchase(REQUEST)
    assert (accepted.order_id, accepted.status, outcome) == (ORDER_ID, "pending", "accepted")
    assert cache.lookups == 3


async def test_a_call_never_sent_means_nothing_was_reserved_without_settling() -> None:
    cache, db = Cache(down_for=0, record=RECORD, error=NotSent("no connection")), Db()
    with pytest.raises(Unavailable) as raised:
        await buyer(cache, db).purchase(REQUEST)
    not_reserved(raised)
    assert (cache.lookups, db.opened) == (0, 0)


@pytest.mark.parametrize("request_", [REQUEST, KEYLESS], ids=["keyed", "keyless"])
async def test_no_record_and_no_row_is_nothing_reserved_once_the_id_is_fenced(request_: PurchaseRequest) -> None:
    cache, db = Cache(down_for=1, record=None), Db()
    with pytest.raises(Unavailable) as raised:
        await buyer(cache, db).purchase(request_)
    not_reserved(raised)
    assert isinstance(raised.value.__cause__, ReplyLost)
    assert (cache.lookups, db.opened) == (2, 1)


@pytest.mark.parametrize(
    "record",
    [
        '{"o": "4242", "s": "7", "u": "someone-else", "q": 1}',  # another purchase holds this id
        '{"o": "4242", "s": "7", "u": "u1", "q": 2}',
        '{"o": "4242", "s": "7", "u": "u1", "q": 1.5}',
        '{"o": "4242", "s": "7", "u": "u1", "q": "1"}',
        '{"o": "4242", "s": "7", "u": "u1", "q": true}',
        '{"o": "4242"}',
        '["u1", 1]',
        '{"u": "u1", "q": 1e999}',
        "[" * 100_000,
        "not json",
    ],
)
async def test_a_record_of_another_purchase_is_not_this_ones(record: str) -> None:
    """The record under this id is not this purchase's: this one's call, run or late, met it and reserved nothing
    (reserve.lua answers it `collision`)."""
    with pytest.raises(Unavailable) as raised:
        await buyer(Cache(down_for=0, record=record), Db()).purchase(REQUEST)
    not_reserved(raised)


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
    not_reserved(raised)


async def test_a_database_that_does_not_answer_leaves_the_outcome_unknown() -> None:
    db = Db(down=True)
    with pytest.raises(Unavailable) as raised:
        await buyer(Cache(down_for=0, record=None), db).purchase(REQUEST)
    assert "same Idempotency-Key" in unknown(raised)
    assert db.opened == 1


async def test_when_redis_stays_down_the_outcome_is_said_to_be_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "RECORD_CHECK_SECONDS", 0.5)  # ample for more than one try, however slow the run
    cache, db = Cache(down_for=10**9, record=None), Db()
    with pytest.raises(Unavailable) as raised:
        await buyer(cache, db).purchase(REQUEST)
    assert "same Idempotency-Key" in unknown(raised)
    assert cache.lookups > 1  # tried again before answering
    assert db.opened == 0


async def test_without_a_key_the_unknown_answer_says_to_check_the_orders() -> None:
    with pytest.raises(Unavailable) as raised:
        await buyer(Cache(down_for=10**9, record=None), Db()).purchase(KEYLESS)
    message = unknown(raised)
    assert "GET /api/v1/orders" in message and "same Idempotency-Key" not in message


class MintedTwice:
    """Reservations answer `first` for the first order id, then ok: an id another process minted too."""

    def __init__(self, first: str) -> None:
        self.first = first
        self.ids: list[int] = []

    async def reserve(self, *_args: Any, order_id: int, **_kwargs: Any) -> Any:
        self.ids.append(order_id)
        code = self.first if len(self.ids) == 1 else "ok"
        return SimpleNamespace(code=code, value=str(order_id), now_ms=0)


class CountingIds:
    def __init__(self) -> None:
        self.n = 0

    async def next_id(self) -> int:
        self.n += 1
        return ORDER_ID + self.n


@pytest.mark.parametrize("first", ["collision", "fenced"])
async def test_an_id_held_or_fenced_by_another_purchase_is_minted_again(first: str) -> None:
    cache = MintedTwice(first)
    buyer_ = RedisPurchase(Db(), cache, CountingIds(), SoldOutFlags(1), Limits(0, 0, 0))  # type: ignore[arg-type]
    accepted, outcome = await buyer_.purchase(REQUEST)
    assert cache.ids == [ORDER_ID + 1, ORDER_ID + 2]
    assert (accepted.order_id, outcome) == (ORDER_ID + 2, "accepted")
