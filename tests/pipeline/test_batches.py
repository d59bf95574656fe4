"""Messages that carry many orders: one bad order never holds back the others of its message, and goes to
the dead-letter queue by itself (after the queue's bounded retries, or at once for a conflicting id)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aio_pika
import pytest

from tests.pipeline.harness import (
    Db,
    Running,
    _amqp,
    buy,
    publish,
    purge,
    ready_messages,
    reservation_record,
    running_world,
    wait_status,
    wait_until,
)
from tests.support import make_sale


@pytest.fixture(scope="module")
def writers() -> Iterator[Running]:
    """No relay: the tests publish the order messages themselves."""
    with running_world(("orders", "timeouts")) as run:
        yield run


def dead_letters(run: Running) -> list[tuple[dict[str, Any], Any]]:
    """(body, headers) of every dead-lettered message, left in the queue."""

    async def work(channel: aio_pika.abc.AbstractChannel) -> list[tuple[dict[str, Any], Any]]:
        queue = await channel.get_queue(run.names.orders_dlq)
        held, found = [], []
        while (msg := await queue.get(fail=False, no_ack=False)) is not None:
            held.append(msg)
            found.append((json.loads(msg.body), dict(msg.headers or {})))
        for msg in held:
            await msg.nack(requeue=True)
        return found

    return list(_amqp(run.world, work))


def test_an_unwritable_order_is_split_out_and_dead_lettered_alone(writers: Running) -> None:
    world = writers.world
    purge(world, writers.names.orders_dlq)
    with writers.client() as http:
        sale = make_sale(http, world, stock=5)
        ids = [buy(http, world, sale["id"], f"batch{i}") for i in range(3)]
        records = [json.loads(reservation_record(world, sale["id"], order_id)) for order_id in ids]
        doomed = dict(records[1], o="8999999999000000001", s="999999999")  # a sale that does not exist
        publish(world, writers.names.orders_queue, [json.dumps([records[0], doomed, records[2]]).encode()])
        for i in (0, 2):
            wait_status(http, world, f"batch{i}", ids[i], "created")
    wait_until(lambda: len(dead_letters(writers)) == 1, 30, "the unwritable order alone in the dead-letter queue")
    (body, _headers) = dead_letters(writers)[0]
    assert body["o"] == doomed["o"]
    assert ready_messages(world, writers.names.orders_queue) == 0
    with Db(world) as db:
        assert db.count_orders(sale["id"]) == 2
        assert db.value("SELECT COUNT(*) FROM orders WHERE id = %s", int(doomed["o"])) == 0
    purge(world, writers.names.orders_dlq)


def test_a_conflicting_order_in_a_batch_is_dead_lettered_at_once_with_its_reason(writers: Running) -> None:
    world = writers.world
    purge(world, writers.names.orders_dlq)
    with writers.client() as http:
        sale = make_sale(http, world, stock=5, per_user_limit=2)
        first = buy(http, world, sale["id"], "conflict")
        record = json.loads(reservation_record(world, sale["id"], first))
        forged = dict(record, q=2, a=record["a"] * 2)
        publish(world, writers.names.orders_queue, [json.dumps([record, forged]).encode()])
        wait_status(http, world, "conflict", first, "created")
    wait_until(lambda: len(dead_letters(writers)) == 1, 20, "the forged order in the dead-letter queue")
    body, headers = dead_letters(writers)[0]
    assert (body["o"], body["q"]) == (first, 2)
    assert headers.get("x-flashsale-reason") == "conflict"
    with Db(world) as db:
        assert db.rows("SELECT quantity FROM orders WHERE id = %s", int(first)) == [(1,)]
    purge(world, writers.names.orders_dlq)
