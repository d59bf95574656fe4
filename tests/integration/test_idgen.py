"""Order ids: node leases in the real Redis, minting stops when the lease cannot be held."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from redis.asyncio import Redis

from app.domain.errors import Unavailable
from app.domain.snowflake import decompose
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
    assert await redis.exists(names.node_lease(lease.node or 0)) == 0
