"""Order ids: node leases in the real Redis, minting stops when the lease cannot be held."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time

import pytest
from redis.asyncio import Redis

from app.domain.errors import Unavailable
from app.domain.snowflake import MAX_NODE, decompose
from app.infrastructure.idgen import IdGenerator, NodeLease
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts


@pytest.fixture
def names() -> Names:
    return Names(f"ti{secrets.token_hex(4)}")


async def test_two_processes_lease_different_nodes_and_mint_distinct_ids(redis: Redis, names: Names) -> None:
    scripts = Scripts.register(redis)
    a, b = NodeLease(redis, scripts, names, 30), NodeLease(redis, scripts, names, 30)
    try:
        assert await a.acquire() != await b.acquire()
        gen_a, gen_b = IdGenerator(a), IdGenerator(b)
        ids = [await gen_a.next_id() for _ in range(3000)] + [await gen_b.next_id() for _ in range(3000)]
        assert len(set(ids)) == len(ids)
        assert {decompose(i)[1] for i in ids} == {a.node, b.node}
        assert all(0 < i < 2**63 for i in ids)
    finally:
        await a.stop()
        await b.stop()


async def test_renewal_fails_once_another_process_holds_the_node(redis: Redis, names: Names) -> None:
    lease = NodeLease(redis, Scripts.register(redis), names, 30)
    node = await lease.acquire()
    assert await lease.renew()
    await redis.set(names.node_lease(node), "someone-else", px=30_000)
    assert not await lease.renew()
    await lease.stop()  # releasing must not delete the other holder's lease
    assert await redis.get(names.node_lease(node)) == "someone-else"
    await redis.delete(names.node_lease(node))


async def test_minting_stops_when_the_lease_runs_out(redis: Redis, names: Names) -> None:
    lease = NodeLease(redis, Scripts.register(redis), names, 3)  # valid for 2 s without renewal
    await lease.acquire()
    gen = IdGenerator(lease)
    await gen.next_id()
    await asyncio.sleep(2.2)
    with pytest.raises(Unavailable):
        await gen.next_id()
    assert await lease.renew()
    await gen.next_id()
    await lease.stop()
    # Released, but kept taken for a lease's length (never handed out to a lagging clock at once).
    assert str(await redis.get(names.node_lease(lease.node or 0))).startswith("released:")
    assert 0 < await redis.pttl(names.node_lease(lease.node or 0)) <= 3000


async def _only_node_free(redis: Redis, names: Names, node: int) -> None:
    """Lease every other node to someone else, so an acquire can only get `node`."""
    async with redis.pipeline(transaction=False) as pipe:
        for other in range(MAX_NODE + 1):
            if other != node:
                pipe.set(names.node_lease(other), "someone-else", px=60_000)
        await pipe.execute()


async def test_a_released_node_is_not_reused_within_the_clock_tolerance(redis: Redis, names: Names) -> None:
    """A process stops and releases its node; a process started right after gets the same node and its clock
    lags by 600 ms (within what NTP lets happen). It must not mint the ids the first one minted."""
    scripts = Scripts.register(redis)
    await _only_node_free(redis, names, 7)
    first = NodeLease(redis, scripts, names, 3)
    assert await first.acquire() == 7
    gen = IdGenerator(first)
    minted = set()
    for _ in range(400):  # one id every millisecond or so, over more than the lag
        minted.add(await gen.next_id())
        await asyncio.sleep(0.001)
    await first.stop()

    lag_ms = 600
    second = NodeLease(redis, scripts, names, 3)
    lagging = IdGenerator(second, clock_ms=lambda: time.time_ns() // 1_000_000 - lag_ms)
    refused = 0
    deadline = time.monotonic() + 10
    while True:
        try:
            assert await second.acquire() == 7
            break
        except Unavailable:
            refused += 1
            assert time.monotonic() < deadline, "the released node never became free again"
            await asyncio.sleep(0.1)
    try:
        again = set()
        for _ in range(400):
            again.add(await lagging.next_id())
            await asyncio.sleep(0.001)
        assert not minted & again, f"{len(minted & again)} ids minted twice on node 7"
        assert refused > 0, "the released node was handed out again at once"
    finally:
        await second.stop()
        keys = [k async for k in redis.scan_iter(match=f"{names.namespace}:*", count=1000)]
        await redis.delete(*keys)


async def test_a_purchase_whose_order_id_collides_is_given_a_fresh_one(redis: Redis, names: Names, world) -> None:
    """Two generators minting on one node at one frozen millisecond hand out the same ids (what a node held
    twice does). The second purchase under an id already taken gets a fresh id, not an `ok` for nothing."""
    from datetime import UTC, datetime, timedelta

    from app.application.purchase import Limits, PurchaseRequest, RedisPurchase
    from app.domain.models import Sale
    from app.infrastructure.db import Database
    from app.infrastructure.sale_cache import SaleCache
    from app.infrastructure.sold_out import SoldOutFlags

    scripts = Scripts.register(redis)
    cache = SaleCache(redis, scripts, names)
    now = datetime.now(UTC)
    sale = Sale(9_000_001, 1, "collide", 100, 10, 10, now - timedelta(minutes=1), now + timedelta(hours=1),
                5, 900, False, 1, now)  # fmt: skip
    assert await cache.load(sale, epoch=1, stock_left=10, holdings=[], idempotency=[])
    lease = NodeLease(redis, scripts, names, 30)
    await lease.acquire()
    frozen = time.time_ns() // 1_000_000
    db = Database(world.settings.mysql_url, 2)
    await db.open()
    try:
        buyers = [
            RedisPurchase(db, cache, IdGenerator(lease, clock_ms=lambda: frozen), SoldOutFlags(1), Limits(0, 0, 0))
            for _ in range(2)
        ]
        first, _ = await buyers[0].purchase(PurchaseRequest(sale.id, "alice", 1, None, None))
        second, _ = await buyers[1].purchase(PurchaseRequest(sale.id, "bob", 1, None, None))
        assert first.order_id != second.order_id
        assert decompose(second.order_id)[2] == decompose(first.order_id)[2] + 1  # the next id of its generator
        assert (await cache.stock_left([sale.id]))[sale.id] == 8
        assert await cache.reservation(sale.id, second.order_id) is not None
    finally:
        await db.close()
        await lease.stop()
        keys = [k async for k in redis.scan_iter(match=f"{names.namespace}:*", count=1000)]
        await redis.delete(*keys)


async def test_after_redis_lost_its_data_a_node_is_never_minted_on_twice(names: Names) -> None:
    """Redis restarts empty (no persistence) while a process holds node 7. Another process leases node 7 as
    soon as Redis is back. The old holder must stop minting on it before the new one starts."""
    from app.infrastructure.redis_client import make_redis
    from tests.private_services import PrivateRedis

    server = PrivateRedis()
    server.start()
    redis = make_redis(server.url, 8)
    old = NodeLease(redis, Scripts.register(redis), names, 30)
    try:
        await _only_node_free(redis, names, 7)
        assert await old.acquire() == 7
        old.start()
        old_gen = IdGenerator(old)
        minted_old: set[int] = set()

        async def keep_minting() -> None:
            while True:
                with contextlib.suppress(Unavailable):
                    value = await old_gen.next_id()
                    if decompose(value)[1] == 7:
                        minted_old.add(value)
                await asyncio.sleep(0.001)

        minting = asyncio.create_task(keep_minting())
        await asyncio.sleep(0.3)
        server.kill()
        server.start()  # back, without a single key
        other = make_redis(server.url, 4)
        new = NodeLease(other, Scripts.register(other), names, 30)
        try:
            await _only_node_free(other, names, 7)
            await wait_for_node(new, 7)
            new.start()
            new_gen = IdGenerator(new)
            minted_new: set[int] = set()
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                with contextlib.suppress(Unavailable):
                    minted_new.add(await new_gen.next_id())
                await asyncio.sleep(0.001)
            assert minted_new, "the new holder never minted"
            assert not minted_old & minted_new, f"{len(minted_old & minted_new)} ids minted twice on node 7"
        finally:
            minting.cancel()
            await new.stop()
            await other.aclose()
    finally:
        await old.stop()
        await redis.aclose()
        server.close()


async def wait_for_node(lease: NodeLease, node: int) -> None:
    deadline = time.monotonic() + 5
    while True:
        try:
            assert await lease.acquire() == node
            return
        except Unavailable:
            assert time.monotonic() < deadline, f"node {node} was never free"
            await asyncio.sleep(0.05)
