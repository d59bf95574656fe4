"""Work does not grow with every sale ever run: the relay forgets a sale once it has ended, its payment windows
have closed and nothing of it is on its way; reading an order does not ask Redis about forgotten sales.

The world runs on a private Redis, so `INFO commandstats` counts this world's commands and nobody else's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from app.bootstrap import open_container
from tests.pipeline.harness import Db, Running, buy, running_world, wait_all_written, wait_status, wait_until
from tests.private_services import PrivateRedis
from tests.support import make_sale

SALES = 12


@pytest.fixture(scope="module")
def private_world() -> Iterator[tuple[Running, PrivateRedis]]:
    server = PrivateRedis()
    server.start()
    try:
        with running_world(("all",), FLASHSALE_REDIS_URL=server.url) as run:
            yield run, server
    finally:
        server.close()


def calls(r: redis.Redis, command: str) -> int:
    stats = r.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_ended_and_drained_sales_are_forgotten_and_cost_reads_nothing(
    private_world: tuple[Running, PrivateRedis],
) -> None:
    run, server = private_world
    names = run.names
    with run.client() as client, server.client() as r:
        # Sales that end three seconds from now, with one-second payment windows; a few get an order.
        sales = [
            make_sale(client, run.world, stock=3, start_offset=-60, length=63, payment_timeout_seconds=1)
            for _ in range(SALES)
        ]
        for i, sale in enumerate(sales[:3]):
            wait_status(client, run.world, f"early{i}", buy(client, run.world, sale["id"], f"early{i}"), "created")
        assert len(r.smembers(names.handoff_sales)) == SALES

        wait_until(lambda: not r.smembers(names.handoff_sales), 40, "the relay to forget every finished sale")
        streams = [s["id"] for s in sales if r.exists(names.sale(int(s["id"])).handoff)]
        assert not streams, f"hand-off streams of finished sales left behind: {streams}"

        # Nothing else talks to this Redis now but the API (its lease renewals are scripts, not these).
        run.stop("all")
        headers = run.world.headers("early0")
        before = calls(r, "hget"), calls(r, "smembers")
        assert client.get("/api/v1/orders/386000000000000000", headers=headers).status_code == 404
        after = calls(r, "hget"), calls(r, "smembers")
        assert after[0] - before[0] == 0, f"{after[0] - before[0]} HGETs for an unknown order id"
        assert after[1] - before[1] <= 1, "more than the one read of the sales still watched"

        before = after
        listed = client.get("/api/v1/orders", headers=headers)
        assert listed.status_code == 200 and len(listed.json()["items"]) == 1, listed.text
        after = calls(r, "hget"), calls(r, "smembers")
        assert after[0] - before[0] == 0 and after[1] - before[1] <= 1, (before, after)


def test_a_sale_unloaded_with_orders_in_its_hand_off_is_forgotten_once_they_are_relayed(
    private_world: tuple[Running, PrivateRedis],
) -> None:
    """The operator's finalize unloads a sale whose hand-off still holds orders: its metadata goes, its stream
    stays watched until the relay has moved them. Then the sale must leave the watched set, though it has no
    metadata left to say it ended (before, a watched sale without metadata was kept for ever)."""
    run, server = private_world
    names = run.names
    if "all" in run.workers:
        run.stop("all")
    with run.client() as client, server.client() as r:
        sale = make_sale(client, run.world, stock=4, start_offset=-60, length=62, payment_timeout_seconds=1)
        sale_id = int(sale["id"])
        accepted = {buy(client, run.world, sale["id"], f"late{i}") for i in range(2)}  # no relay: they stay put
        assert r.xlen(names.sale(sale_id).handoff) == 2

        async def unload() -> bool:
            async with open_container(run.world.settings) as c:
                return await c.cache.unload(sale_id)

        assert asyncio.run(unload()) is False, "the hand-off held orders, so the stream must be kept"
        assert not r.exists(names.sale(sale_id).meta)
        assert str(sale_id) in r.smembers(names.handoff_sales)
        time.sleep(3.5)  # past the sale's end and its payment window

        run.start("all")
        with Db(run.world) as db:
            wait_all_written(db, sale["id"], accepted, timeout=20)
        wait_until(lambda: str(sale_id) not in r.smembers(names.handoff_sales), 20, "the relay to forget the sale")
        # The relay leaves the watched set first and deletes the empty stream in its next call (see
        # SaleCache.finished): between the two the stream still exists, so wait for the second step too.
        wait_until(lambda: not r.exists(names.sale(sale_id).handoff), 5, "its empty hand-off stream to be deleted")
