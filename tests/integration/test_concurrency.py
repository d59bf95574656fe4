"""2,000 concurrent purchases over real HTTP from 1,500 users (500 of them send twice) against stock 500,
per_user_limit 1, on an API with two worker processes: exactly 500 accepted, never a user twice, nothing
oversold. Once with strategy `redis` (no order workers, so every accepted order is still in the hand-off
stream) and once with strategy `db` (orders written synchronously)."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Iterator

import aiohttp
import httpx
import pymysql
import pytest
import redis

from app.infrastructure.keys import Names
from tests.support import World, make_sale, world_context

STOCK = 500
USERS = 1500
TWICE = 500
CONNECTIONS = 96
REFUSALS = {"sold_out", "limit_exceeded", "insufficient_stock"}


@pytest.fixture(scope="module")
def redis_world() -> Iterator[tuple[World, str]]:
    with world_context() as world:
        yield world, world.start_api(workers=2)


@pytest.fixture(scope="module")
def db_world() -> Iterator[tuple[World, str]]:
    with world_context(FLASHSALE_STOCK_STRATEGY="db") as world:
        yield world, world.start_api(workers=2)


def storm(world: World, base: str, sale_id: str) -> list[tuple[str, int, dict]]:
    """Fire every request at once (bounded by the connection pool); (user, status, body) per request."""
    users = [f"shopper-{i}" for i in range(USERS)]
    plan = users + random.Random(7).sample(users, TWICE)
    random.Random(11).shuffle(plan)
    tokens = {user: world.token(user) for user in users}
    url = f"/api/v1/sales/{sale_id}/purchase"

    async def run() -> list[tuple[str, int, dict]]:
        # aiohttp: httpx's client spends ~7 ms of CPU a request at this concurrency, more than the API.
        connector = aiohttp.TCPConnector(limit=CONNECTIONS)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(base_url=base, connector=connector, timeout=timeout) as session:

            async def one(user: str) -> tuple[str, int, dict]:
                headers = {"Authorization": f"Bearer {tokens[user]}"}
                async with session.post(url, headers=headers) as reply:
                    return user, reply.status, await reply.json()

            return await asyncio.gather(*(one(user) for user in plan))

    results = asyncio.run(run())
    assert len(results) == USERS + TWICE
    return results


def check_answers(results: list[tuple[str, int, dict]], status: str) -> list[tuple[str, str]]:
    """Exactly STOCK accepted, each user at most once, every other answer a 409 refusal; the accepted."""
    statuses = Counter(code for _user, code, _body in results)
    assert statuses[202] == STOCK, statuses
    assert set(statuses) <= {202, 409}, statuses
    accepted = [(user, body["order_id"]) for user, code, body in results if code == 202]
    assert all(body["status"] == status for _u, code, body in results if code == 202)
    refusals = Counter(body["error"] for _u, code, body in results if code == 409)
    assert set(refusals) <= REFUSALS, refusals
    assert all(isinstance(body["message"], str) and body["message"] for _u, c, body in results if c == 409)
    assert refusals["sold_out"] > 0, refusals
    users = [user for user, _order in accepted]
    assert len(set(users)) == STOCK, "a user was accepted twice"
    orders = [order for _user, order in accepted]
    assert len(set(orders)) == STOCK and all(order.isdigit() for order in orders)
    return accepted


def test_redis_strategy_sells_exactly_the_stock(redis_world: tuple[World, str]) -> None:
    world, base = redis_world
    with httpx.Client(base_url=base, timeout=30) as client:
        sale = make_sale(client, world, stock=STOCK, per_user_limit=1)
        assert sale["preheated"] and sale["stock_left"] == STOCK
        results = storm(world, base, sale["id"])
        accepted = check_answers(results, "pending")
        after = client.get(f"/api/v1/sales/{sale['id']}").json()
    assert after["stock_left"] == 0
    assert after["status"] == "sold_out"

    r = redis.Redis.from_url(world.settings.redis_url, decode_responses=True)
    try:
        keys = Names(world.namespace).sale(int(sale["id"]))
        entries = r.xrange(keys.handoff)
        records = [json.loads(fields["r"]) for _entry, fields in entries]
        assert len(records) == STOCK  # no worker runs: every accepted order is still in the hand-off
        assert sorted(rec["o"] for rec in records) == sorted(order for _user, order in accepted)
        assert {rec["o"]: rec["u"] for rec in records} == {order: user for user, order in accepted}
        assert all(rec["q"] == 1 for rec in records)
        assert int(r.hget(keys.meta, "stock_left")) == 0
    finally:
        r.close()


def test_db_strategy_sells_exactly_the_stock(db_world: tuple[World, str]) -> None:
    world, base = db_world
    with httpx.Client(base_url=base, timeout=30) as client:
        sale = make_sale(client, world, stock=STOCK, per_user_limit=1, preheat=False)
        results = storm(world, base, sale["id"])
        accepted = check_answers(results, "created")
        after = client.get(f"/api/v1/sales/{sale['id']}").json()
    assert after["stock_left"] == 0

    conn = pymysql.connect(host="127.0.0.1", user="root", database=world.database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, user_id, quantity, status FROM orders WHERE sale_id = %s", (sale["id"],))
            rows = cur.fetchall()
            cur.execute("SELECT stock, stock_left FROM sales WHERE id = %s", (sale["id"],))
            stock, stock_left = cur.fetchone()
    finally:
        conn.close()
    assert len(rows) == STOCK
    assert {(str(row[0]), row[1]) for row in rows} == {(order, user) for user, order in accepted}
    assert all(row[2] == 1 and row[3] == "created" for row in rows)
    assert (stock, stock_left) == (STOCK, 0)


def test_db_strategy_gives_the_same_answers(db_world: tuple[World, str]) -> None:
    """Same endpoint, same answers, in the contract's order, with the synchronous baseline."""
    world, base = db_world
    admin = world.headers("admin", admin=True)
    with httpx.Client(base_url=base, timeout=30) as client:

        def buy(sale_id: str, user: str, quantity: int = 1, key: str | None = None) -> tuple[int, dict]:
            headers = world.headers(user) | ({"Idempotency-Key": key} if key else {})
            reply = client.post(f"/api/v1/sales/{sale_id}/purchase", json={"quantity": quantity}, headers=headers)
            return reply.status_code, reply.json()

        sale = make_sale(client, world, stock=3, per_user_limit=2, preheat=False)["id"]
        status, first = buy(sale, "amy", 2, key="k")
        assert (status, first["status"]) == (202, "created")
        assert buy(sale, "amy", 2)[1]["error"] == "limit_exceeded"  # before insufficient_stock
        assert buy(sale, "bo", 2)[1]["error"] == "insufficient_stock"
        assert buy(sale, "bo")[0] == 202
        assert buy(sale, "cy")[1]["error"] == "sold_out"
        assert buy(sale, "amy", 2, key="k") == (202, first)  # a replay after sold out
        assert buy(sale, "amy", 1, key="k")[1]["error"] == "idempotency_key_reused"
        reply = client.patch(f"/api/v1/sales/{sale}", json={"paused": True}, headers=admin)
        assert reply.status_code == 200
        assert buy(sale, "cy")[1]["error"] == "paused"  # before sold_out
        assert buy(sale, "amy", 2, key="k") == (202, first)  # a replay before paused
        reply = client.patch(f"/api/v1/sales/{sale}", json={"stock": 2}, headers=admin)
        assert reply.status_code == 409 and reply.json()["error"] == "stock_below_sold"
        assert buy("987654321987", "cy")[1]["error"] == "not_found"
        ended = make_sale(client, world, start_offset=-7200, length=3600, preheat=False)["id"]
        assert buy(ended, "cy")[1]["error"] == "ended"
        scheduled = make_sale(client, world, start_offset=3600, preheat=False)["id"]
        assert buy(scheduled, "cy")[1]["error"] == "not_started"
