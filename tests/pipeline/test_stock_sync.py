"""The timeout worker's sweep sets each live sale's cached stock and pause from the database (under the sale's
row lock), repairing a cache left ahead of the database; a stock change of a sale whose lost cache has drained
goes to the database and the next preheat loads it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.pipeline.harness import (
    Db,
    Running,
    audit,
    buy,
    cached_meta,
    lose_cache,
    running_world,
    wait_all_written,
    wait_until,
)
from tests.support import make_sale


@pytest.fixture(scope="module")
def pipe() -> Iterator[Running]:
    with running_world(workers=("relay", "orders", "timeouts")) as run:
        yield run


def test_the_sweep_sets_the_cached_stock_and_pause_from_the_database(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=10)
    written = {buy(http, world, sale["id"], f"s{i}") for i in range(2)}
    with Db(world) as db:
        wait_all_written(db, sale["id"], written, timeout=20)
    # What a stock increase that reached Redis but never committed would leave, and a pause that never committed.
    r = redis.Redis.from_url(world.settings.redis_url)
    try:
        key = pipe.names.sale(int(sale["id"])).meta
        r.hset(key, mapping={"stock": 15, "paused": 1})
        r.hincrby(key, "stock_left", 5)
    finally:
        r.close()
    wait_until(
        lambda: (
            (m := cached_meta(world, sale["id"]))["stock"] == "10" and m["stock_left"] == "8" and m["paused"] == "0"
        ),
        10,
        "the sweep to set the cache from the database",
    )
    audit(world, sale["id"])


def test_a_stock_change_once_a_lost_cache_drained_goes_to_the_database(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    admin = world.headers("admin", admin=True)
    sale = make_sale(http, world, stock=10)
    pipe.stop("relay")
    try:
        order_id = buy(http, world, sale["id"], "ida")
        lose_cache(world, sale["id"])
        reply = http.patch(f"/api/v1/sales/{sale['id']}", json={"stock": 20}, headers=admin)
        assert reply.status_code == 503 and reply.json()["error"] == "not_ready", reply.text
    finally:
        pipe.start("relay")
    with Db(world) as db:
        wait_all_written(db, sale["id"], {order_id}, timeout=20)
    reply = http.patch(f"/api/v1/sales/{sale['id']}", json={"stock": 20}, headers=admin)
    assert reply.status_code == 200, reply.text
    assert reply.json()["stock"] == 20 and reply.json()["preheated"] is False, reply.text
    reply = http.post(f"/api/v1/sales/{sale['id']}/preheat", headers=admin)
    assert reply.status_code == 200 and reply.json()["stock_left"] == 19, reply.text
    audit(world, sale["id"])
