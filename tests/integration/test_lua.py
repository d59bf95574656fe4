"""The reservation script (lua/reserve.lua and friends) through SaleCache, against the real Redis.

Each test has its own key namespace; sales are loaded with SaleCache.load, as a preheat would."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from app.domain.models import Sale
from app.domain.timefmt import to_ms
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts
from app.infrastructure.redis_client import make_redis
from app.infrastructure.sale_cache import ReserveResult, SaleCache
from app.infrastructure.sold_out import SoldOutFlags, SoldOutListener

REDIS_URL = "redis://127.0.0.1:6379/0"
_ids = itertools.count(1_000_000)


@dataclass
class Env:
    redis: Redis
    names: Names
    cache: SaleCache

    async def sale(
        self,
        *,
        stock: int = 10,
        per_user_limit: int = 1,
        start_offset: float = -60,
        length: float = 3600,
        paused: bool = False,
        epoch: int = 1,
        price_cents: int = 250,
    ) -> Sale:
        now = datetime.now(UTC)
        sale = Sale(
            id=next(_ids),
            commodity_id=1,
            name="lua sale",
            price_cents=price_cents,
            stock=stock,
            stock_left=stock,
            starts_at=now + timedelta(seconds=start_offset),
            ends_at=now + timedelta(seconds=start_offset + length),
            per_user_limit=per_user_limit,
            payment_timeout_seconds=900,
            paused=paused,
            cache_epoch=epoch,
            created_at=now,
        )
        assert await self.cache.load(sale, epoch=epoch, stock_left=stock, holdings=[], idempotency=[])
        return sale

    async def buy(
        self,
        sale: Sale,
        user: str,
        quantity: int = 1,
        key: str | None = None,
        *,
        rate_user: int = 0,
        backlog_max: int = 0,
    ) -> ReserveResult:
        return await self.cache.reserve(
            sale.id,
            user_id=user,
            quantity=quantity,
            order_id=next(_ids),
            idempotency_key=key,
            rate_user=rate_user,
            address=None,
            rate_address=0,
            backlog_max=backlog_max,
        )

    async def left(self, sale: Sale) -> int | None:
        return (await self.cache.stock_left([sale.id]))[sale.id]

    async def handoff(self, sale: Sale) -> list[dict]:
        entries = await self.redis.xrange(self.names.sale(sale.id).handoff)
        return [json.loads(fields["r"]) for _id, fields in entries]

    async def held(self, sale: Sale, user: str) -> int:
        return int(await self.redis.hget(self.names.sale(sale.id).users, user) or 0)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    redis = make_redis(REDIS_URL, 8)
    await redis.ping()  # no Redis: the test fails here
    names = Names(f"tl{secrets.token_hex(4)}")
    try:
        yield Env(redis, names, SaleCache(redis, Scripts.register(redis), names))
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{names.namespace}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


# --- the window -------------------------------------------------------------------------------------


async def test_in_window_reserves_and_records(env: Env) -> None:
    sale = await env.sale(stock=5, price_cents=250)
    result = await env.cache.reserve(
        sale.id,
        user_id="alice",
        quantity=1,
        order_id=4242,
        idempotency_key=None,
        rate_user=0,
        address=None,
        rate_address=0,
        backlog_max=0,
    )
    assert (result.code, result.value) == ("ok", "4242")
    assert abs(result.now_ms - int(time.time() * 1000)) < 5_000  # Redis' clock
    assert await env.left(sale) == 4
    assert await env.held(sale, "alice") == 1
    record = json.loads(await env.cache.reservation(sale.id, 4242) or "{}")
    assert record["o"] == "4242" and record["u"] == "alice" and record["q"] == 1 and record["a"] == 250
    assert record["x"] - record["c"] == 900_000
    assert await env.cache.pending_order_ids([sale.id], "alice") == [(sale.id, 4242)]


async def test_before_start_is_not_started(env: Env) -> None:
    sale = await env.sale(start_offset=60)
    assert (await env.buy(sale, "alice")).code == "not_started"
    assert await env.left(sale) == 10
    assert await env.handoff(sale) == []


async def test_after_end_is_ended(env: Env) -> None:
    sale = await env.sale(start_offset=-120, length=60)
    assert (await env.buy(sale, "alice")).code == "ended"
    assert await env.left(sale) == 10
    assert await env.handoff(sale) == []


async def test_paused_sale_refuses_until_resumed(env: Env) -> None:
    sale = await env.sale(paused=True)
    assert (await env.buy(sale, "alice")).code == "paused"
    assert await env.cache.adjust(sale.id, stock=None, paused=False) == ("ok", 10)
    assert (await env.buy(sale, "alice")).code == "ok"
    await env.cache.adjust(sale.id, stock=None, paused=True)
    assert (await env.buy(sale, "bob")).code == "paused"


async def test_unloaded_sale_is_not_loaded(env: Env) -> None:
    result = await env.cache.reserve(
        999_999_999,
        user_id="alice",
        quantity=1,
        order_id=1,
        idempotency_key=None,
        rate_user=0,
        address=None,
        rate_address=0,
        backlog_max=0,
    )
    assert result.code == "not_loaded"
    assert not await env.redis.exists(env.names.sale(999_999_999).handoff)


async def test_load_twice_changes_nothing(env: Env) -> None:
    sale = await env.sale(stock=10)
    assert (await env.buy(sale, "alice")).code == "ok"
    again = await env.cache.load(sale, epoch=2, stock_left=10, holdings=[], idempotency=[])
    assert again is False
    assert await env.left(sale) == 9
    assert await env.held(sale, "alice") == 1


# --- limits and stock -------------------------------------------------------------------------------


async def test_per_user_limit(env: Env) -> None:
    sale = await env.sale(stock=10, per_user_limit=2)
    assert (await env.buy(sale, "alice")).code == "ok"
    over = await env.buy(sale, "alice", quantity=2)
    assert (over.code, over.value) == ("limit_exceeded", "1")
    assert (await env.buy(sale, "alice")).code == "ok"
    assert (await env.buy(sale, "alice")).code == "limit_exceeded"
    assert (await env.buy(sale, "bob", quantity=3)).code == "limit_exceeded"
    assert (await env.buy(sale, "bob", quantity=2)).code == "ok"
    assert await env.left(sale) == 6
    assert await env.held(sale, "alice") == 2
    assert len(await env.handoff(sale)) == 3


async def test_sold_out_exactly_at_zero(env: Env) -> None:
    sale = await env.sale(stock=7)
    for i in range(7):
        result = await env.buy(sale, f"user{i}")
        assert result.code == "ok", (i, result)
    assert await env.left(sale) == 0
    late = await env.buy(sale, "late")
    assert late.code == "sold_out"
    assert late.value == str(to_ms(sale.ends_at))  # the sale's end, for the sold-out flag
    assert (await env.buy(sale, "user0")).code == "sold_out"  # sold out answers before the user limit
    assert await env.left(sale) == 0
    assert await env.held(sale, "late") == 0
    assert len(await env.handoff(sale)) == 7


async def test_quantity_above_one_and_no_partial_fill(env: Env) -> None:
    sale = await env.sale(stock=5, per_user_limit=10, price_cents=300)
    first = await env.buy(sale, "alice", quantity=3)
    assert first.code == "ok"
    record = json.loads(await env.cache.reservation(sale.id, int(first.value)) or "{}")
    assert record["q"] == 3 and record["a"] == 900
    short = await env.buy(sale, "bob", quantity=3)
    assert (short.code, short.value) == ("insufficient_stock", "2")
    assert await env.left(sale) == 2
    assert await env.held(sale, "bob") == 0
    assert (await env.buy(sale, "bob", quantity=2)).code == "ok"
    assert await env.left(sale) == 0
    assert (await env.buy(sale, "carol", quantity=1)).code == "sold_out"
    assert [r["q"] for r in await env.handoff(sale)] == [3, 2]


async def test_concurrent_reservations_never_oversell(env: Env) -> None:
    sale = await env.sale(stock=50)
    results = await asyncio.gather(*(env.buy(sale, f"u{i}") for i in range(200)))
    codes = [r.code for r in results]
    assert codes.count("ok") == 50
    assert set(codes) == {"ok", "sold_out"}
    assert await env.left(sale) == 0
    assert len(await env.handoff(sale)) == 50


# --- idempotency ------------------------------------------------------------------------------------


async def test_idempotent_replay(env: Env) -> None:
    sale = await env.sale(stock=5, per_user_limit=5)
    first = await env.buy(sale, "alice", quantity=2, key="k-1")
    assert first.code == "ok"
    again = await env.buy(sale, "alice", quantity=2, key="k-1")
    assert (again.code, again.value) == ("replay", first.value)
    assert await env.left(sale) == 3
    assert await env.held(sale, "alice") == 2
    reused = await env.buy(sale, "alice", quantity=1, key="k-1")
    assert reused.code == "reused"
    assert await env.left(sale) == 3
    # The key is scoped to the user: another user's same key is a new purchase.
    other = await env.buy(sale, "bob", quantity=2, key="k-1")
    assert other.code == "ok" and other.value != first.value
    assert [r["o"] for r in await env.handoff(sale)] == [first.value, other.value]
    assert [r["k"] for r in await env.handoff(sale)] == ["k-1", "k-1"]


async def test_replay_answers_even_after_sold_out_and_after_a_reload(env: Env) -> None:
    sale = await env.sale(stock=1)
    first = await env.buy(sale, "alice", key="abc")
    assert first.code == "ok"
    assert (await env.buy(sale, "bob")).code == "sold_out"
    assert (await env.buy(sale, "alice", key="abc")).value == first.value
    # A reload from the database (the keys carried over in `idempotency`) keeps answering the replay.
    keys = env.names.sale(sale.id)
    await env.redis.delete(keys.meta)
    loaded = await env.cache.load(
        sale,
        epoch=2,
        stock_left=0,
        holdings=[("alice", 1)],
        idempotency=[("alice", "abc", int(first.value), 1)],
    )
    assert loaded
    replay = await env.buy(sale, "alice", key="abc")
    assert (replay.code, replay.value) == ("replay", first.value)
    assert (await env.buy(sale, "alice", quantity=2, key="abc")).code == "reused"


# --- the sold-out flag --------------------------------------------------------------------------------


async def wait_for(predicate: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def subscribed(redis: Redis, channel: str, count: int) -> None:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        (_name, n), *_ = await redis.pubsub_numsub(channel)
        if int(n) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{channel} never had {count} subscriber(s)")


async def next_message(pubsub: PubSub, within: float = 3.0) -> str:
    """The next published message (skipping subscribe confirmations)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None and message["type"] == "message":
            return str(message["data"])
    raise AssertionError("no message on the stock channel")


async def test_sold_out_flag_set_by_the_channel_and_cleared_when_stock_returns(env: Env) -> None:
    sale = await env.sale(stock=2, epoch=3)
    flags = SoldOutFlags(ttl_seconds=30)
    listener = SoldOutListener(env.redis, env.names.stock_channel, flags)
    watcher = env.redis.pubsub(ignore_subscribe_messages=True)
    await watcher.subscribe(env.names.stock_channel)
    listener.start()
    try:
        await subscribed(env.redis, env.names.stock_channel, 2)

        def flagged() -> bool:
            return flags.is_sold_out(sale.id, int(time.time() * 1000))

        first = await env.buy(sale, "alice")
        assert first.code == "ok"
        await asyncio.sleep(0.05)
        assert not flagged()  # one left: no announcement
        assert (await env.buy(sale, "bob")).code == "ok"
        await wait_for(flagged)
        assert await next_message(watcher) == f"{sale.id}:sold_out:{to_ms(sale.ends_at)}"

        # A cancelled order's units come back (lua/release.lua): the flag is cleared.
        order_id = int(first.value)
        returned = await env.cache.release(sale.id, order_id=order_id, user_id="alice", quantity=1)
        assert returned == "ok"
        await wait_for(lambda: not flagged())
        assert await next_message(watcher) == f"{sale.id}:restock"
        assert await env.left(sale) == 1
        assert await env.held(sale, "alice") == 0
        assert (await env.buy(sale, "alice")).code == "ok"  # the allowance came back too

        # Sold out again; more stock from an admin (SaleCache.adjust) clears it as well.
        await wait_for(flagged)
        assert await env.cache.adjust(sale.id, stock=4, paused=None) == ("ok", 2)
        await wait_for(lambda: not flagged())
        assert await next_message(watcher) == f"{sale.id}:sold_out:{to_ms(sale.ends_at)}"
        assert await next_message(watcher) == f"{sale.id}:changed"
        assert (await env.buy(sale, "carol")).code == "ok"
    finally:
        await listener.stop()
        await watcher.aclose()


async def test_release_is_once_only(env: Env) -> None:
    sale = await env.sale(stock=1, epoch=5)
    bought = await env.buy(sale, "alice")
    order_id = int(bought.value)
    assert await env.left(sale) == 0
    assert await env.cache.release(sale.id, order_id=order_id, user_id="alice", quantity=1) == "ok"
    dup = await env.cache.release(sale.id, order_id=order_id, user_id="alice", quantity=1)
    assert dup == "duplicate"
    assert await env.left(sale) == 1
    assert await env.cache.release(999_999_998, order_id=1, user_id="x", quantity=1) == "stale"


async def test_a_preheat_marks_orders_already_cancelled_as_returned(env: Env) -> None:
    """A reloaded cache already counts the units of orders cancelled before the preheat: never twice."""
    now = datetime.now(UTC)
    sale = Sale(next(_ids), 1, "reloaded", 250, 3, 2, now - timedelta(seconds=60), now + timedelta(hours=1),
                2, 900, False, 2, now)  # fmt: skip
    assert await env.cache.load(sale, epoch=2, stock_left=2, holdings=[("bob", 1)], idempotency=[], cancelled=[77])
    assert await env.cache.release(sale.id, order_id=77, user_id="amy", quantity=1) == "duplicate"
    assert await env.left(sale) == 2
    assert await env.cache.release(sale.id, order_id=78, user_id="bob", quantity=1) == "ok"
    assert await env.left(sale) == 3
    assert await env.held(sale, "bob") == 0


async def test_adjust_never_goes_below_zero(env: Env) -> None:
    sale = await env.sale(stock=3)
    assert (await env.buy(sale, "alice")).code == "ok"
    assert await env.cache.adjust(sale.id, stock=0, paused=None) == ("below_sold", 2)
    assert await env.left(sale) == 2
    assert await env.cache.adjust(sale.id, stock=1, paused=None) == ("ok", 0)
    # Setting, not adding: the same call again (a retry after a lost reply) changes nothing more.
    assert await env.cache.adjust(sale.id, stock=1, paused=None) == ("ok", 0)
    assert (await env.buy(sale, "bob")).code == "sold_out"
    assert (await env.cache.adjust(999_999_997, stock=5, paused=None))[0] == "not_loaded"


async def test_sold_out_flag_expires_by_itself(env: Env) -> None:
    sale = await env.sale(stock=1)
    flags = SoldOutFlags(ttl_seconds=0.2)
    listener = SoldOutListener(env.redis, env.names.stock_channel, flags)
    listener.start()
    try:
        await subscribed(env.redis, env.names.stock_channel, 1)
        assert (await env.buy(sale, "alice")).code == "ok"
        await wait_for(lambda: flags.is_sold_out(sale.id, int(time.time() * 1000)))
        # No restock message ever comes; the flag lapses after its TTL anyway.
        await asyncio.sleep(0.25)
        assert not flags.is_sold_out(sale.id, int(time.time() * 1000))
    finally:
        await listener.stop()


# --- the hand-off and the other guards ------------------------------------------------------------------


async def test_handoff_has_exactly_one_entry_per_accepted_reservation(env: Env) -> None:
    sale = await env.sale(stock=6, per_user_limit=2)
    accepted = []
    outcomes = []
    plan = [("a", 1, None), ("a", 1, None), ("a", 1, None), ("b", 2, "kb"), ("b", 2, "kb"), ("b", 1, "kb")]
    plan += [("c", 3, None), ("c", 2, None), ("d", 1, None), ("e", 1, None), ("f", 1, None)]
    for user, quantity, key in plan:
        result = await env.buy(sale, user, quantity, key)
        outcomes.append(result.code)
        if result.code == "ok":
            accepted.append(result.value)
    assert outcomes == [
        "ok",
        "ok",
        "limit_exceeded",
        "ok",
        "replay",
        "reused",
        "limit_exceeded",
        "ok",
        "sold_out",
        "sold_out",
        "sold_out",
    ]
    records = await env.handoff(sale)
    assert [r["o"] for r in records] == accepted
    assert len(set(accepted)) == len(accepted) == 4
    assert sum(r["q"] for r in records) == 6
    assert all(r["s"] == str(sale.id) and r["e"] == "1" for r in records)


async def test_backlog_cap(env: Env) -> None:
    sale = await env.sale(stock=10)
    assert (await env.buy(sale, "a", backlog_max=2)).code == "ok"
    assert (await env.buy(sale, "b", backlog_max=2)).code == "ok"
    assert (await env.buy(sale, "c", backlog_max=2)).code == "backlog"
    assert await env.left(sale) == 8
    assert len(await env.handoff(sale)) == 2


async def test_per_user_rate_limit(env: Env) -> None:
    sale = await env.sale(stock=100, per_user_limit=100)
    codes = [(await env.buy(sale, "alice", rate_user=2)).code for _ in range(5)]
    # At most two a second: five calls in well under a second cross at most one second boundary.
    assert codes.count("rate_limited") >= 1
    assert codes.count("ok") == 5 - codes.count("rate_limited")
    assert await env.left(sale) == 100 - codes.count("ok")
    assert (await env.buy(sale, "bob", rate_user=2)).code == "ok"


async def test_a_retried_call_with_the_same_order_id_reserves_once(env: Env) -> None:
    """redis-py retries a command whose reply was lost; the script must not reserve twice for it."""
    sale = await env.sale(stock=5, per_user_limit=3)
    args = {
        "user_id": "alice",
        "quantity": 1,
        "order_id": 4242,
        "idempotency_key": None,
        "rate_user": 0,
        "address": None,
        "rate_address": 0,
        "backlog_max": 0,
    }
    first = await env.cache.reserve(sale.id, **args)  # type: ignore[arg-type]
    again = await env.cache.reserve(sale.id, **args)  # type: ignore[arg-type]
    assert (first.code, first.value) == ("ok", "4242")
    assert (again.code, again.value) == ("ok", "4242")
    assert await env.left(sale) == 4
    assert await env.held(sale, "alice") == 1
    assert [r["o"] for r in await env.handoff(sale)] == ["4242"]


async def test_a_colliding_order_id_is_refused_not_taken_for_a_replay(env: Env) -> None:
    """The same order id from another purchase (another user or quantity: two processes minting on one node)
    is a collision: nothing is reserved and the caller is told, instead of an `ok` that reserved nothing."""
    sale = await env.sale(stock=5, per_user_limit=3)
    args = {"idempotency_key": None, "rate_user": 0, "address": None, "rate_address": 0, "backlog_max": 0}
    first = await env.cache.reserve(sale.id, user_id="alice", quantity=1, order_id=4343, **args)  # type: ignore[arg-type]
    other_user = await env.cache.reserve(sale.id, user_id="bob", quantity=1, order_id=4343, **args)  # type: ignore[arg-type]
    other_quantity = await env.cache.reserve(sale.id, user_id="alice", quantity=2, order_id=4343, **args)  # type: ignore[arg-type]
    assert first.code == "ok"
    assert other_user.code == "collision"
    assert other_quantity.code == "collision"
    assert await env.left(sale) == 4
    assert await env.held(sale, "bob") == 0
    assert await env.held(sale, "alice") == 1
    assert [r["u"] for r in await env.handoff(sale)] == ["alice"]


async def test_settling_a_lost_reply_finds_the_record_of_a_call_that_ran(env: Env) -> None:
    sale = await env.sale(stock=5)
    args = {"idempotency_key": None, "rate_user": 0, "address": None, "rate_address": 0, "backlog_max": 0}
    assert (await env.cache.reserve(sale.id, user_id="alice", quantity=1, order_id=4545, **args)).code == "ok"  # type: ignore[arg-type]
    record = await env.cache.settle(sale.id, 4545)
    assert record is not None and json.loads(record)["u"] == "alice" and json.loads(record)["q"] == 1
    assert await env.redis.sismember(env.names.sale(sale.id).fenced, "4545")  # fenced all the same
    assert await env.left(sale) == 4  # and the reservation stands


async def test_a_late_call_under_another_purchases_id_is_refused_after_that_record_is_dropped(env: Env) -> None:
    """An id minted twice: bob's purchase holds it; alice's call under it lost its reply and was settled (the record
    found is bob's, so hers reserved nothing). Bob's order is written and his record dropped; then alice's call
    arrives after all: the fence refuses it, where the missing record alone would have let it reserve."""
    sale = await env.sale(stock=5)
    args = {"idempotency_key": None, "rate_user": 0, "address": None, "rate_address": 0, "backlog_max": 0}
    assert (await env.cache.reserve(sale.id, user_id="bob", quantity=1, order_id=4848, **args)).code == "ok"  # type: ignore[arg-type]
    record = await env.cache.settle(sale.id, 4848)
    assert record is not None and json.loads(record)["u"] == "bob"
    await env.redis.hdel(env.names.sale(sale.id).res, "4848")  # bob's order written: the record goes
    late = await env.cache.reserve(sale.id, user_id="alice", quantity=1, order_id=4848, **args)  # type: ignore[arg-type]
    assert late.code == "fenced"
    assert await env.held(sale, "alice") == 0
    assert await env.left(sale) == 4


async def test_a_call_arriving_after_its_settlement_reserves_nothing(env: Env) -> None:
    """The reply was lost before the call reached Redis; the purchase settled it as not reserved (fencing its id);
    then the call arrives after all. It must find the fence and leave everything as it was."""
    sale = await env.sale(stock=5)
    keys = env.names.sale(sale.id)
    assert await env.cache.settle(sale.id, 4646) is None
    assert await env.redis.sismember(keys.fenced, "4646")
    ttl_ms = await env.redis.pttl(keys.fenced)
    assert 0 < ttl_ms <= await env.redis.pttl(keys.meta) + 1000  # it goes with the sale's keys
    args = {"idempotency_key": None, "rate_user": 0, "address": None, "rate_address": 0, "backlog_max": 0}
    late = await env.cache.reserve(sale.id, user_id="alice", quantity=1, order_id=4646, **args)  # type: ignore[arg-type]
    assert late.code == "fenced"
    assert await env.left(sale) == 5
    assert await env.held(sale, "alice") == 0
    assert await env.handoff(sale) == []
    assert await env.cache.reservation(sale.id, 4646) is None
    # The user's next purchase, under a fresh id, is not affected; settling again stays "not reserved".
    assert (await env.buy(sale, "alice")).code == "ok"
    assert await env.cache.settle(sale.id, 4646) is None


async def test_a_fence_on_a_sale_not_loaded_still_expires(env: Env) -> None:
    assert await env.cache.settle(987_654_321, 4747) is None
    ttl_ms = await env.redis.pttl(env.names.sale(987_654_321).fenced)
    assert 0 < ttl_ms <= 3600 * 1000


async def test_forget_written_drops_exactly_the_written_orders_of_each_sale_and_user(env: Env) -> None:
    first, second = await env.sale(stock=10, per_user_limit=3), await env.sale(stock=10, per_user_limit=3)
    bought = {
        (sale.id, user): [int((await env.buy(sale, user)).value) for _ in range(n)]
        for sale, user, n in [(first, "alice", 3), (first, "bob", 1), (second, "alice", 2)]
    }
    kept = [(first.id, bought[(first.id, "alice")][2])]
    written = [
        (sale_id, order_id, user)
        for (sale_id, user), ids in bought.items()
        for order_id in ids
        if (sale_id, order_id) not in kept
    ]
    for sale_id, order_id, _user in written:  # recorded by the reservations
        assert await env.cache.reservation(sale_id, order_id) is not None
    await env.cache.forget_written(written)
    for sale_id, order_id, _user in written:
        assert await env.cache.reservation(sale_id, order_id) is None
    assert await env.cache.reservation(first.id, kept[0][1]) is not None
    assert await env.cache.pending_order_ids([first.id], "alice") == kept
    assert await env.cache.pending_order_ids([first.id, second.id], "bob") == []
    assert await env.cache.pending_order_ids([second.id], "alice") == []
