"""A stock change against a crash or a lost reply between the cache and the database: the cache never ends up
allowing more than the database can write; and a stock change waits while a lost cache's orders still drain.

The session world runs no workers, so an accepted order stays in the sale's hand-off."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.application.catalogue import Catalogue
from app.bootstrap import drain_check, open_container
from app.infrastructure.sale_cache import SaleCache
from tests.pipeline.harness import Db, buy, cached_meta, lose_cache
from tests.support import World, make_sale


class ReplyLostAfterAdjust(SaleCache):
    """The real cache, but the reply of adjust.lua is lost: the script ran, the caller sees a dropped connection
    (as if it died there) before it could commit its side."""

    async def adjust(self, sale_id: int, **kwargs: Any) -> tuple[str, int]:
        await super().adjust(sale_id, **kwargs)
        raise RedisConnectionError("connection lost while reading the reply")


@pytest.mark.parametrize("new_stock", [20, 6])
def test_a_stock_change_whose_cache_reply_is_lost_never_leaves_the_cache_above_the_database(
    client: httpx.Client, world: World, new_stock: int
) -> None:
    sale = make_sale(client, world, stock=10)
    buy(client, world, sale["id"], "gil")  # reserved in the cache, not written: the row still counts it as left

    async def change_losing_the_reply() -> None:
        async with open_container(world.settings) as c:
            cache = ReplyLostAfterAdjust(c.redis, c.scripts, c.names)
            catalogue = Catalogue(c.db, cache, use_cache=True, drained=drain_check(c.cache, c.in_flight, c.names))
            with pytest.raises(RedisConnectionError):
                await catalogue.change_sale(int(sale["id"]), paused=None, stock=new_stock)

    asyncio.run(change_losing_the_reply())
    meta = cached_meta(world, sale["id"])
    with Db(world) as db:
        stock, left, _limit = db.sale_row(sale["id"])
    assert int(meta["stock"]) <= stock, f"the cache sells from stock {meta['stock']}, the database has {stock}"
    assert int(meta["stock_left"]) <= left - 1, (meta, left)


def test_a_stock_change_while_a_lost_cache_drains_is_503(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=10)
    buy(client, world, sale["id"], "hal")
    lose_cache(world, sale["id"])
    admin = world.headers("admin", admin=True)
    for stock in (20, 1):
        reply = client.patch(f"/api/v1/sales/{sale['id']}", json={"stock": stock}, headers=admin)
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"] == "not_ready" and "1 of its accepted orders" in reply.json()["message"]
        assert reply.headers.get("Retry-After"), reply.headers
    with Db(world) as db:
        assert db.sale_row(sale["id"])[:2] == (10, 10), "the refused change changed the database"
    # A pause touches no stock: it goes to the database (the next preheat loads it).
    reply = client.patch(f"/api/v1/sales/{sale['id']}", json={"paused": True}, headers=admin)
    assert reply.status_code == 200 and reply.json()["paused"] is True, reply.text
