"""Preheat: loads the cache from the database truth once; repeating it, or preheating an ended sale,
changes nothing; the CLI does the same as the endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.application.preheat import Preheater
from app.bootstrap import drain_check, open_container
from app.domain.models import Sale
from app.infrastructure.sale_cache import SaleCache
from app.infrastructure.sql_store import SqlStore
from tests.pipeline.harness import Db, cached_meta, lose_cache
from tests.support import World, make_sale

V1 = "/api/v1"


def stable(view: dict) -> dict:
    """A sale's JSON without the clock."""
    return {k: v for k, v in view.items() if k != "server_time"}


def preheat(client: httpx.Client, world: World, sale_id: str) -> httpx.Response:
    return client.post(f"{V1}/sales/{sale_id}/preheat", headers=world.headers("admin", admin=True))


def buy(client: httpx.Client, world: World, sale_id: str, user: str, quantity: int = 1) -> None:
    reply = client.post(f"{V1}/sales/{sale_id}/purchase", json={"quantity": quantity}, headers=world.headers(user))
    assert reply.status_code == 202, reply.text


def test_preheat_loads_from_the_database(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=8, per_user_limit=3, preheat=False)
    assert sale["preheated"] is False and sale["stock_left"] == 8
    assert cached_meta(world, sale["id"]) == {}
    reply = preheat(client, world, sale["id"])
    assert reply.status_code == 200, reply.text
    view = reply.json()
    assert view["preheated"] is True and view["stock_left"] == 8 and view["status"] == "active"
    meta = cached_meta(world, sale["id"])
    assert meta["stock_left"] == "8" and meta["limit"] == "3" and meta["paused"] == "0"


def test_preheat_again_after_purchases_changes_nothing(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=10, per_user_limit=5)
    buy(client, world, sale["id"], "ann", 2)
    buy(client, world, sale["id"], "ben")
    before = client.get(f"{V1}/sales/{sale['id']}").json()
    assert before["stock_left"] == 7
    meta = cached_meta(world, sale["id"])
    for _ in range(2):
        reply = preheat(client, world, sale["id"])
        assert reply.status_code == 200, reply.text
        assert reply.json()["preheated"] is True
        assert reply.json()["stock_left"] == 7
        assert stable(reply.json()) == stable(before)
    assert cached_meta(world, sale["id"]) == meta  # same epoch, same stock: not reloaded
    # The users' holdings survived too: ann may buy 3 more, not 5.
    over = client.post(f"{V1}/sales/{sale['id']}/purchase", json={"quantity": 4}, headers=world.headers("ann"))
    assert over.status_code == 409 and over.json()["error"] == "limit_exceeded"


def test_preheat_an_ended_sale_answers_200_and_changes_nothing(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=6, start_offset=-7200, length=3600, preheat=False)
    reply = preheat(client, world, sale["id"])
    assert reply.status_code == 200, reply.text
    view = reply.json()
    assert view["status"] == "ended"
    assert view["preheated"] is False
    assert stable(view) == stable(sale)
    assert cached_meta(world, sale["id"]) == {}
    assert stable(client.get(f"{V1}/sales/{sale['id']}").json()) == stable(sale)


def test_preheat_a_scheduled_sale(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=4, start_offset=600, preheat=False)
    reply = preheat(client, world, sale["id"])
    assert reply.status_code == 200
    assert reply.json()["preheated"] is True and reply.json()["status"] == "scheduled"


def test_preheat_of_a_missing_sale_is_404(client: httpx.Client, world: World) -> None:
    for sale_id in ("987654321987", "abc", "0"):
        reply = preheat(client, world, sale_id)
        assert reply.status_code == 404, reply.text
        assert reply.json()["error"] == "not_found" and reply.json()["message"]


def test_preheat_needs_an_admin(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, preheat=False)
    reply = client.post(f"{V1}/sales/{sale['id']}/preheat", headers=world.headers("ann"))
    assert reply.status_code == 403 and reply.json()["error"] == "forbidden"
    reply = client.post(f"{V1}/sales/{sale['id']}/preheat")
    assert reply.status_code == 401 and reply.json()["error"] == "unauthorized"
    assert client.get(f"{V1}/sales/{sale['id']}").json()["preheated"] is False


def test_preheat_refuses_while_lost_orders_are_still_in_the_handoff(client: httpx.Client, world: World) -> None:
    """A cache lost with accepted orders still on their way is not reloaded (that would oversell)."""
    sale = make_sale(client, world, stock=3)
    buy(client, world, sale["id"], "cat")
    lose_cache(world, sale["id"])
    reply = preheat(client, world, sale["id"])
    assert reply.status_code == 503, reply.text
    assert reply.json()["error"] == "not_ready"
    assert cached_meta(world, sale["id"]) == {}
    again = client.post(f"{V1}/sales/{sale['id']}/purchase", headers=world.headers("dan"))
    assert again.status_code == 503 and again.json()["error"] == "not_ready"


def test_cli_preheat(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=5, preheat=False)
    first = world.cli("preheat", sale["id"])
    assert first.returncode == 0, first.stderr
    assert "loaded" in first.stdout and "stock_left 5" in first.stdout
    view = client.get(f"{V1}/sales/{sale['id']}").json()
    assert view["preheated"] is True and view["stock_left"] == 5
    buy(client, world, sale["id"], "eve")
    second = world.cli("preheat", sale["id"])
    assert second.returncode == 0, second.stderr
    assert "unchanged" in second.stdout and "stock_left 4" in second.stdout
    assert client.get(f"{V1}/sales/{sale['id']}").json()["stock_left"] == 4
    missing = world.cli("preheat", "987654321987", check=False)
    assert missing.returncode != 0
    assert "not_found" in missing.stderr


class ReplyLostAfterLoad(SaleCache):
    """The real cache, but the reply of the metadata write (load.lua) is lost: the script ran, the caller sees
    a dropped connection (or dies) before it can commit."""

    async def load(self, sale: Sale, **kwargs: Any) -> bool:
        await super().load(sale, **kwargs)
        raise RedisConnectionError("connection lost while reading the reply")


def test_the_first_epoch_is_committed_before_the_cache_is_written(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=4, preheat=False)

    async def preheat_losing_the_reply() -> None:
        async with open_container(world.settings) as c:
            cache = ReplyLostAfterLoad(c.redis, c.scripts, c.names)
            preheater = Preheater(SqlStore(c.db), cache, c.catalogue, drain_check(c.cache, c.in_flight, c.names))
            with pytest.raises(RedisConnectionError):
                await preheater.preheat(int(sale["id"]))

    asyncio.run(preheat_losing_the_reply())
    assert cached_meta(world, sale["id"])["epoch"] == "1"  # the cache is loaded and sells
    with Db(world) as db:
        assert db.value("SELECT cache_epoch FROM sales WHERE id = %s", int(sale["id"])) == 1
    # So after a later loss of the cache, the reload waits for what is still on its way.
    buy(client, world, sale["id"], "fay")
    lose_cache(world, sale["id"])
    reply = preheat(client, world, sale["id"])
    assert reply.status_code == 503 and reply.json()["error"] == "not_ready", reply.text
