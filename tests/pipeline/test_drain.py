"""The drain check of a preheat after a lost cache counts what is in flight for THAT sale: orders of other sales in
the shared order queue do not block it, the sale's own orders still in the queue do, and so do the sale's
dead-lettered orders (a reload without them, then a replay, would put a user over the limit and count stock twice).

The relay and the order writers run; a test stops the writers to keep orders waiting in the queue."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.pipeline.harness import (
    Db,
    Running,
    audit,
    buy,
    handoff_length,
    lose_cache,
    ready_messages,
    running_world,
    wait_all_written,
    wait_status,
    wait_until,
)
from tests.support import make_sale

API = "http://127.0.0.1:15672/api/queues/%2F/"


@pytest.fixture(scope="module")
def pipe() -> Iterator[Running]:
    with running_world(workers=("relay", "orders")) as run:
        yield run


def preheat(http: httpx.Client, run: Running, sale_id: str) -> httpx.Response:
    return http.post(f"/api/v1/sales/{sale_id}/preheat", headers=run.world.headers("admin", admin=True))


def queue_stats(run: Running) -> int | None:
    """The management API's message count of the order queue (what the old drain check read)."""
    reply = httpx.get(API + run.names.orders_queue, auth=("guest", "guest"), timeout=5)
    value = reply.json().get("messages") if reply.status_code == 200 else None
    return None if value is None else int(value)


def test_orders_of_another_sale_in_the_queue_do_not_block_a_preheat(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    lost = make_sale(http, world, stock=5)
    written = {buy(http, world, lost["id"], f"a{i}") for i in range(2)}
    with Db(world) as db:
        wait_all_written(db, lost["id"], written, timeout=20)

    busy = make_sale(http, world, stock=50)
    pipe.stop("orders")
    try:
        waiting = {buy(http, world, busy["id"], f"b{i}") for i in range(3)}
        wait_until(lambda: handoff_length(world, busy["id"]) == 0, 20, "the relay to move the other sale's orders")
        wait_until(lambda: (queue_stats(pipe) or 0) >= 1, 30, "the order queue to read busy")

        lose_cache(world, lost["id"])
        reply = preheat(http, pipe, lost["id"])
        assert reply.status_code == 200, reply.text
        assert reply.json()["preheated"] is True and reply.json()["stock_left"] == 3, reply.text

        # An order of the reloaded sale itself waits in the queue now: losing the cache again, the preheat
        # must wait for it.
        mine = buy(http, world, lost["id"], "a9")
        wait_until(lambda: handoff_length(world, lost["id"]) == 0, 20, "the relay to move it")
        lose_cache(world, lost["id"])
        reply = preheat(http, pipe, lost["id"])
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"] == "not_ready", reply.text
        assert "1 of its accepted orders are not written" in reply.json()["message"], reply.text
    finally:
        pipe.start("orders")
    with Db(world) as db:
        wait_all_written(db, busy["id"], waiting, timeout=20)
        wait_all_written(db, lost["id"], written | {mine}, timeout=20)
    reply = preheat(http, pipe, lost["id"])
    assert reply.status_code == 200 and reply.json()["stock_left"] == 2, reply.text
    audit(world, lost["id"])
    audit(world, busy["id"])


def test_a_dead_lettered_order_blocks_the_reload_until_it_is_written(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=5, per_user_limit=1)
    pipe.stop("orders")
    try:
        order_id = buy(http, world, sale["id"], "dora")
        wait_until(lambda: handoff_length(world, sale["id"]) == 0, 20, "the relay to move the order")
        with Db(world) as db:  # the database refuses the order (no stock left in its row) until put back
            db.rows("UPDATE sales SET stock_left = 0 WHERE id = %s", int(sale["id"]))
    finally:
        pipe.start("orders")
    wait_until(lambda: ready_messages(world, pipe.names.orders_dlq) == 1, 30, "the order to be dead-lettered")
    with Db(world) as db:
        db.rows("UPDATE sales SET stock_left = 5 WHERE id = %s", int(sale["id"]))
        assert db.count_orders(sale["id"]) == 0
    # Nothing of it is left in the order queue, as far as the management API can tell.
    wait_until(lambda: queue_stats(pipe) == 0, 30, "the order queue to read empty")

    lose_cache(world, sale["id"])
    reply = preheat(http, pipe, sale["id"])
    assert reply.status_code == 503, reply.text
    assert reply.json()["error"] == "not_ready", reply.text
    assert "1 of its accepted orders are not written" in reply.json()["message"], reply.text
    assert "dead-lettered" in reply.json()["message"], reply.text

    replayed = world.cli("dlq", "replay")
    assert "replayed 1 message(s)" in replayed.stdout, replayed.stdout + replayed.stderr
    wait_status(http, world, "dora", order_id, "created")
    reply = preheat(http, pipe, sale["id"])
    assert reply.status_code == 200 and reply.json()["stock_left"] == 4, reply.text
    # The reload counted dora's order: she is at the limit.
    again = http.post(f"/api/v1/sales/{sale['id']}/purchase", headers=world.headers("dora"))
    assert again.status_code == 409 and again.json()["error"] == "limit_exceeded", again.text
    audit(world, sale["id"])
