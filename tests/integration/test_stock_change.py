"""A stock change against a crash or a lost reply between the cache and the database: the cache never ends up
allowing more than the database can write; and a stock change waits while a lost cache's orders still drain.

The session world runs no workers, so an accepted order stays in the sale's hand-off."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from app.application.catalogue import Catalogue
from app.bootstrap import drain_check, open_container
from app.domain.errors import NotReady
from app.infrastructure.lua import Scripts
from app.infrastructure.redis_client import make_redis
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


class LostBeforeAdjust(SaleCache):
    """The real cache, lost (its metadata deleted, as a Redis restart without data would) between the stock
    change's `is_loaded` check and its `adjust` call."""

    async def adjust(self, sale_id: int, **kwargs: Any) -> tuple[str, int]:
        await self.redis.delete(self.names.sale(sale_id).meta)
        return await super().adjust(sale_id, **kwargs)


def test_a_stock_decrease_whose_cache_lost_mid_change_waits_for_the_drain(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=10)
    buy(client, world, sale["id"], "ida")  # accepted, still in the hand-off: the row counts it as left

    async def decrease() -> str:
        async with open_container(world.settings) as c:
            cache = LostBeforeAdjust(c.redis, c.scripts, c.names)
            catalogue = Catalogue(c.db, cache, use_cache=True, drained=drain_check(c.cache, c.in_flight, c.names))
            try:
                await catalogue.change_sale(int(sale["id"]), paused=None, stock=2)
            except NotReady as exc:
                return str(exc)
            return "changed"

    message = asyncio.run(decrease())
    assert "1 of its accepted orders" in message, message
    with Db(world) as db:
        assert db.sale_row(sale["id"])[:2] == (10, 10), "the refused decrease changed the database"


@contextlib.contextmanager
def hung_redis() -> Iterator[str]:
    """A port that accepts connections and never answers: a Redis hung, or lost behind a dead route."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_the_sweep_holds_no_sale_row_while_redis_hangs(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=10)
    sale_id = int(sale["id"])

    async def sweep_and_probe(url: str) -> tuple[bool, str]:
        async with open_container(world.settings) as c:
            hung = make_redis(url, 2)
            catalogue = Catalogue(c.db, SaleCache(hung, Scripts.register(hung), c.names), use_cache=True)
            sweep = asyncio.create_task(catalogue.sync_cache(sale_id))  # what the sweep runs for each live sale
            await asyncio.sleep(1.0)  # the sweep is waiting on Redis now (its read times out after 5 s)
            assert not sweep.done(), "the sweep did not wait on the hung Redis"
            why = ""
            async with c.db.transaction() as cur:
                try:
                    await cur.execute("SELECT id FROM sales WHERE id = %s FOR UPDATE NOWAIT", (sale_id,))
                except Exception as exc:
                    why = f"the sale's row was locked while the sweep waited on Redis: {exc!r}"
            with pytest.raises(RedisError):
                await sweep
            await hung.aclose()
            return not why, why

    with hung_redis() as url:
        free, why = asyncio.run(sweep_and_probe(url))
    assert free, why
