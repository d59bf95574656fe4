"""The order writer in a crash loop, as a pod in CrashLoopBackOff: SIGKILLed more times in a row than the order
queue's delivery limit, each time holding unacknowledged messages, then started for good. A crash is not a
failed order: nothing is dead-lettered for it, and every order is written once.

The sale's stock row is locked meanwhile, so each writer's first batch waits in the database and every message it
took stays in its hands, unacknowledged, until the kill hands them back to the queue."""

from __future__ import annotations

import signal
import time

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
from tests.support import make_sale

MAX_ATTEMPTS = 3  # the order queue's delivery limit in this world
KILLS = MAX_ATTEMPTS + 3
PURCHASES = 360
RATE = 30  # purchases per second: the burst lasts through most of the crash loop
QUANTITY = 2


def in_flight(db: Db, sale_id: str) -> int:
    """The sale's orders published to the broker and not written (the relay's exact record)."""
    return int(
        db.value(
            "SELECT COUNT(*) FROM orders_in_flight f WHERE f.sale_id = %s "
            "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = f.order_id)",
            int(sale_id),
        )
    )


def holding(run: Running, db: Db, sale_id: str) -> bool:
    """The writer holds every published order of the sale: none is ready in the queue, some are in flight."""
    return ready_messages(run.world, run.names.orders_queue) == 0 and in_flight(db, sale_id) > 0


def test_a_crash_looping_order_writer_dead_letters_nothing() -> None:
    env = {"FLASHSALE_ORDER_MAX_ATTEMPTS": str(MAX_ATTEMPTS), "FLASHSALE_ORDER_PREFETCH": "1000"}
    with running_world(workers=("relay",), **env) as run, Db(run.world) as db:
        with run.client() as client:
            sale = make_sale(client, run.world, stock=1000, per_user_limit=3, payment_timeout_seconds=600)
        lock = db.connection(autocommit=False)
        kills: list[tuple[int, int, int]] = []  # (exit code, orders held, messages handed back)
        try:
            with lock.cursor() as cur:
                cur.execute("SELECT stock_left FROM sales WHERE id = %s FOR UPDATE", (sale["id"],))
            burst = Burst(run, sale["id"], PURCHASES, RATE, prefix="loop", quantity=QUANTITY)
            burst.start()
            for _ in range(KILLS):
                run.start("orders")
                wait_until(lambda: holding(run, db, sale["id"]), 30, "the writer to take every message", interval=0.1)
                held = in_flight(db, sale["id"])
                code = run.stop("orders", signal.SIGKILL)
                # The dead consumer's messages are back in the queue, ready for the next writer.
                back = wait_until(
                    lambda: ready_messages(run.world, run.names.orders_queue), 10, "the messages to come back"
                )
                kills.append((code, held, back))
                assert db.count_orders(sale["id"]) == 0, "a writer got through the locked stock row"
            accepted = burst.join_and_check()
        finally:
            lock.rollback()
            lock.close()
        assert all(code == -signal.SIGKILL for code, _held, _back in kills), kills
        # The first messages were in the hands of every one of the killed writers.
        assert len(kills) > MAX_ATTEMPTS and kills[0][1] > 0, kills

        started = time.monotonic()
        run.start("orders")
        wait_until(lambda: handoff_length(run.world, sale["id"]) == 0, 30, "the hand-off to drain")
        wait_until(
            lambda: db.count_orders(sale["id"]) >= len(accepted) or ready_messages(run.world, run.names.orders_dlq),
            60,
            "every order to be written (or one dead-lettered)",
            interval=0.2,
        )
        recovered = time.monotonic() - started
        assert ready_messages(run.world, run.names.orders_dlq) == 0, "a crash dead-lettered orders"
        wait_all_written(db, sale["id"], accepted, timeout=5)
        stock, left, _limit = db.sale_row(sale["id"])
        assert left == stock - QUANTITY * len(accepted)
        audit(run.world, sale["id"], accepted=accepted)
        notes = (
            f"{len(kills)} SIGKILLs of the order writer (delivery limit {MAX_ATTEMPTS}), each holding "
            f"{min(h for _c, h, _b in kills)}-{max(h for _c, h, _b in kills)} orders; 0 dead-lettered"
        )
        report(tally(db, sale["id"], accepted, "order writer crash loop", recovered, notes))
