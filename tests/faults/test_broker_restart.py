"""A broker restart while the order writer holds unacknowledged messages (issue 12, defect 11).

The order writer takes a batch on one channel; the broker stops and comes back, the robust connection opens
new channels and the broker delivers the same messages again. When the held batch is finally written, its
messages belong to a channel that is gone: settling them must not stop the worker (the broker requeued them
already, and their redelivery is written idempotently). A private RabbitMQ node, never the shared one."""

from __future__ import annotations

import asyncio
import socket
import time

import aio_pika
import pytest

from tests.faults.report import report, tally
from tests.pipeline.harness import (
    Burst,
    Db,
    Running,
    audit,
    handoff_length,
    ready_messages,
    running_world,
    wait_all_written,
    wait_until,
)
from tests.private_services import PrivateRabbitMQ
from tests.support import make_sale

ORDERS = 40


def _order_queue(run: Running) -> tuple[int, int]:
    """(ready messages, consumers) of the world's order queue, from a passive declare (exact, no statistics)."""

    async def go() -> tuple[int, int]:
        connection = await aio_pika.connect(run.world.settings.amqp_url, timeout=5)
        try:
            channel = await connection.channel()
            declared = await channel.declare_queue(run.names.orders_queue, passive=True)
            result = declared.declaration_result
            return int(result.message_count or 0), int(result.consumer_count or 0)
        finally:
            await connection.close()

    try:
        return asyncio.run(go())
    except Exception:  # the broker is not (yet) there
        return -1, -1


def test_the_order_writer_survives_a_broker_restart_with_messages_in_hand(private_rabbitmq: PrivateRabbitMQ) -> None:
    broker = private_rabbitmq
    with (
        running_world(workers=("relay", "orders"), FLASHSALE_AMQP_URL=broker.url) as run,
        Db(run.world) as db,
    ):
        with run.client() as client:
            sale = make_sale(client, run.world, stock=ORDERS, per_user_limit=1, payment_timeout_seconds=600)
        # Hold the sale's row: the writer's stock take waits, so the batch stays in its hands, unacknowledged.
        lock = db.connection(autocommit=False)
        try:
            with lock.cursor() as cur:
                cur.execute("SELECT stock_left FROM sales WHERE id = %s FOR UPDATE", (sale["id"],))
            accepted = []
            with run.client() as client:
                for i in range(ORDERS):
                    response = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=run.world.headers(f"u{i}"))
                    assert response.status_code == 202, response.text
                    accepted.append(int(response.json()["order_id"]))
            wait_until(lambda: handoff_length(run.world, sale["id"]) == 0, 30, "the relay to hand every order off")
            # Every message is delivered (none ready), to the one consumer, and nothing is written yet.
            wait_until(lambda: _order_queue(run) == (0, 1), 30, "the order writer to take every message")
            assert db.count_orders(sale["id"]) == 0

            broker.stop()
            broker.start()
            # The worker's robust connection comes back and consumes again: the broker redelivers the batch.
            wait_until(lambda: _order_queue(run) == (0, 1), 60, "the order writer to consume again", interval=0.5)
            assert run.workers["orders"].poll() is None, run.log("orders")[-3000:]
        finally:
            lock.rollback()
            lock.close()

        # The held batch is written now and settled on its dead channel; the redelivered copies are written
        # again (idempotently) and acknowledged on the new one.
        wait_until(lambda: db.count_orders(sale["id"]) == ORDERS, 60, "every order to be written")
        assert sorted(db.order_rows(sale["id"])) == sorted(accepted)
        assert db.sale_row(sale["id"])[1] == 0, "an order took its stock twice"
        # Settling the held batch comes right after its write: the worker must outlive it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert run.workers["orders"].poll() is None, f"the order writer died:\n{run.log('orders')[-3000:]}"
            time.sleep(0.1)
        assert "worker OrderConsumer failed" not in run.log("orders"), run.log("orders")[-3000:]


OUTAGE_SECONDS = 10
QUANTITY = 5


def test_a_broker_stopped_for_10s_during_a_burst(private_rabbitmq: PrivateRabbitMQ) -> None:
    """Purchases keep being accepted while RabbitMQ is down (they wait in the hand-off), and every process
    recovers by itself once it is back: nothing restarted, nothing lost, written, dead-lettered or refused twice."""
    broker = private_rabbitmq
    with (
        running_world(workers=("relay", "orders", "timeouts"), FLASHSALE_AMQP_URL=broker.url) as run,
        Db(run.world) as db,
    ):
        with run.client() as client:
            sale = make_sale(client, run.world, stock=3500, per_user_limit=QUANTITY, payment_timeout_seconds=600)
        pids = {kind: proc.pid for kind, proc in run.workers.items()}
        burst = Burst(run, sale["id"], 640, 40, prefix="mq", quantity=QUANTITY)
        burst.start()
        wait_until(lambda: db.count_orders(sale["id"]) >= 60, 30, "orders to flow into the database")
        stopped = time.monotonic()
        broker.stop()
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", broker.port), timeout=1):
            pass
        accepted_before, written_before = len(burst.accepted), db.count_orders(sale["id"])
        time.sleep(max(0.0, stopped + OUTAGE_SECONDS - time.monotonic()))
        accepted_during = len(burst.accepted) - accepted_before
        assert db.count_orders(sale["id"]) == written_before, "orders written while the broker was down"
        broker.start()
        back = time.monotonic()
        assert accepted_during >= 40 * (OUTAGE_SECONDS - 2), f"only {accepted_during} accepted while it was down"
        assert not burst.failures, burst.failures[:3]

        accepted = burst.join_and_check()
        wait_until(lambda: handoff_length(run.world, sale["id"]) == 0, 60, "the hand-off to drain")
        wait_all_written(db, sale["id"], accepted, timeout=60)
        recovered = time.monotonic() - back
        for kind, proc in run.workers.items():
            assert proc.poll() is None and proc.pid == pids[kind], f"{kind} restarted or died:\n{run.log(kind)[-3000:]}"
        assert ready_messages(run.world, run.names.orders_dlq) == 0
        stock, left, _limit = db.sale_row(sale["id"])
        assert left == stock - QUANTITY * len(accepted)
        audit(run.world, sale["id"], accepted=accepted)
        notes = (
            f"RabbitMQ stopped {OUTAGE_SECONDS}s (port refused); {accepted_during} purchases accepted meanwhile, "
            "none refused; no process restarted, nothing dead-lettered; recovery = broker up to all written"
        )
        report(tally(db, sale["id"], accepted, "RabbitMQ stopped 10 s during a burst", recovered, notes))
