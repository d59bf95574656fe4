"""What the operator waits on before it removes a sale's cache: the orders still on their way (accepted, not
written) and those awaiting payment. Written orders drop their reservation records, so the count on its way must
come from the sale's own hand-off and orders in flight, never from records minus rows (which read 0 here while
four accepted orders wait in the queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from app.application.sale_orders import Outstanding, SaleOrders
from app.bootstrap import drain_check, open_container
from tests.pipeline.harness import Db, Running, buy, handoff_length, running_world, wait_all_written, wait_until
from tests.support import World, make_sale


@pytest.fixture(scope="module")
def pipe() -> Iterator[Running]:
    with running_world(workers=("relay", "orders")) as run:
        yield run


def outstanding(world: World, sale_id: str) -> Outstanding:
    async def read() -> Outstanding:
        async with open_container(world.settings) as c:
            return await SaleOrders(c.db, drain_check(c.cache, c.in_flight, c.names)).outstanding(int(sale_id))

    return asyncio.run(read())


def test_orders_waiting_in_the_queue_are_pending_after_others_were_written(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=20, payment_timeout_seconds=600)
    written = {buy(http, world, sale["id"], f"w{i}") for i in range(6)}
    with Db(world) as db:
        wait_all_written(db, sale["id"], written, timeout=20)
    assert outstanding(world, sale["id"]) == Outstanding(pending=0, awaiting_payment=6)

    pipe.stop("orders")
    try:
        waiting = {buy(http, world, sale["id"], f"q{i}") for i in range(4)}
        wait_until(lambda: handoff_length(world, sale["id"]) == 0, 20, "the relay to hand the orders to the broker")
        with Db(world) as db:
            assert db.count_orders(sale["id"]) == 6  # the four are in the queue, not written
        assert outstanding(world, sale["id"]) == Outstanding(pending=4, awaiting_payment=6)
    finally:
        pipe.start("orders")
    with Db(world) as db:
        wait_all_written(db, sale["id"], written | waiting, timeout=20)
    assert outstanding(world, sale["id"]) == Outstanding(pending=0, awaiting_payment=10)
