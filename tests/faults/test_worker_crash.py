"""Workers killed while orders flow. SIGKILL (a crash: after a commit and before its ack, asserted; between a
relay's publish and its stream ack; a timeout worker down while payment deadlines pass) loses nothing and
writes nothing twice once the worker is back; SIGTERM finishes or hands back what the worker holds and
exits 0."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC
from typing import Any

import aio_pika

from app.infrastructure.records import parse_orders
from tests.faults.report import report, tally
from tests.pipeline.harness import (
    Burst,
    Db,
    Running,
    audit,
    handoff_length,
    metric,
    pending_in_relay,
    queued_orders,
    running_world,
    wait_all_written,
    wait_until,
)
from tests.support import free_port, make_sale

ORDERS = 2400
RATE = 400  # purchases per second: orders flow for about 6 s
KILL_ATTEMPTS = 5  # kills of an order writer, each at a new commit, until one lands before that commit's ack
SHORT_WINDOW = 4  # seconds: the payment timeout of the sale whose orders expire while the timeout worker is down


def redelivered_written(run: Running, db: Db) -> int:
    """Orders already in the database that came back to the order queue as redeliveries: what a writer killed
    after its commit and before its ack held. Every ready message is fetched without an ack and handed back."""

    async def work(channel: aio_pika.abc.AbstractChannel) -> list[int]:
        declared = await channel.declare_queue(run.names.orders_queue, passive=True)
        ids = []
        while (got := await declared.get(no_ack=False, fail=False, timeout=5)) is not None:
            if got.redelivered:
                ids += [r.order_id for r in parse_orders(got.body)]
        return ids

    ids = asyncio.run(_on_channel(run, work))
    if not ids:
        return 0
    marks = ", ".join(["%s"] * len(ids))
    return int(db.value(f"SELECT COUNT(*) FROM orders WHERE id IN ({marks})", *ids))


async def _on_channel(run: Running, work: Any) -> Any:
    connection = await aio_pika.connect(run.world.settings.amqp_url, timeout=10)
    try:
        return await work(await connection.channel())
    finally:
        await connection.close()


def deadlines(db: Db, sale_id: str) -> tuple[float, float]:
    """The first and the last payment deadline of the sale's orders, as epoch seconds."""
    first, last = db.rows("SELECT MIN(expires_at), MAX(expires_at) FROM orders WHERE sale_id = %s", int(sale_id))[0]
    return first.replace(tzinfo=UTC).timestamp(), last.replace(tzinfo=UTC).timestamp()


def test_workers_killed_mid_stream_lose_nothing() -> None:
    with running_world(workers=("relay", "orders", "timeouts")) as run, Db(run.world) as db:
        with run.client() as client:
            sale = make_sale(client, run.world, stock=ORDERS + 100, payment_timeout_seconds=600)
            # A second sale whose orders time out while the timeout worker is down.
            short = make_sale(client, run.world, stock=100, payment_timeout_seconds=SHORT_WINDOW)
        burst = Burst(run, sale["id"], ORDERS, RATE)
        expiring = Burst(run, short["id"], 100, 200, prefix="x")
        burst.start()

        kills = []
        landed = 0  # order-writer kills that fell between a commit and its ack
        metrics_port = free_port()
        orders_env = {"FLASHSALE_WORKER_METRICS_PORT": str(metrics_port)}
        # Kill each kind of worker in turn as the rows come in, and start it again at once. The order writers
        # die the moment a new commit shows in the database; whether that was before its ack is checked (the
        # committed orders come back, redelivered) and the kill is tried again at a later commit if not.
        for threshold, kind in ((0.15, "orders"), (0.35, "relay"), (0.55, "orders"), (0.75, "timeouts")):
            wait_until(lambda t=threshold: db.count_orders(sale["id"]) >= t * ORDERS, 60, f"{threshold:.0%} written")
            assert run.workers[kind].poll() is None, f"{kind} exited early:\n{run.log(kind)[-2000:]}"
            if kind == "orders":
                for _attempt in range(KILL_ATTEMPTS):
                    seen = db.count_orders(sale["id"])

                    def committed(seen: int = seen) -> str:
                        count = db.count_orders(sale["id"])
                        if count > seen:
                            return "commit"
                        return "all written" if not burst.is_alive() and count >= len(burst.accepted) else ""

                    if wait_until(committed, 10, "a commit", interval=0.001) == "all written":
                        break  # no commit left to kill at: the burst is over and written
                    run.stop(kind, signal.SIGKILL)
                    time.sleep(0.5)  # the broker requeues what the dead connection held
                    written_unacked = redelivered_written(run, db)
                    kills.append((kind, db.count_orders(sale["id"]), written_unacked))
                    run.start(kind, env=orders_env)
                    if written_unacked:
                        landed += 1
                        break
            elif kind == "timeouts":
                # The short sale's orders are bought and written now; the timeout worker dies before the first
                # of their payment windows closes and stays down until the last has closed.
                expiring.start()
                expired_ids = expiring.join_and_check()
                wait_all_written(db, short["id"], expired_ids, timeout=30)
                first_due, last_due = deadlines(db, short["id"])
                run.stop(kind, signal.SIGKILL)
                killed_at = time.time()
                assert killed_at < first_due, f"killed {killed_at - first_due:.2f}s after the first deadline"
                kills.append((kind, db.count_orders(sale["id"]), f"{first_due - killed_at:.2f}s before a deadline"))
                time.sleep(max(0.0, last_due + 0.5 - time.time()))  # every short deadline passes, no worker up
                assert all(r[0] == "created" for r in db.order_rows(short["id"]).values()), "timed out, no worker"
                down_for = time.time() - killed_at
                run.start(kind)
                back_at = time.monotonic()
                wait_until(
                    lambda: all(r[:2] == ("cancelled", "timeout") for r in db.order_rows(short["id"]).values()),
                    20,
                    "every overdue order to time out once the worker is back",
                )
                timeouts_recovered = time.monotonic() - back_at
            else:
                run.stop(kind, signal.SIGKILL)
                kills.append((kind, db.count_orders(sale["id"]), None))
                run.start(kind)
        assert landed >= 1, f"no order-writer kill fell between a commit and its ack: {kills}"

        accepted = burst.join_and_check()
        expired = expired_ids
        # The relay's entries read by the killed relay are claimed back after CLAIM_IDLE_MS (15 s).
        burst_done = time.monotonic()
        rows = wait_all_written(db, sale["id"], accepted, timeout=60)
        caught_up = time.monotonic() - burst_done
        assert all(status == "created" for status, *_ in rows.values())
        stock, stock_left, _limit = db.sale_row(sale["id"])
        assert stock_left == stock - len(accepted), "the stock row was taken from twice for one order"

        short_rows = wait_all_written(db, short["id"], expired, timeout=30)
        wait_until(
            lambda: all(r[:2] == ("cancelled", "timeout") for r in db.order_rows(short["id"]).values()),
            20,
            "every order of the short sale to time out",
        )
        assert len(short_rows) == 100
        assert db.sale_row(short["id"])[1] == 100, "a timed-out order returned its unit twice, or never"
        wait_until(lambda: handoff_length(run.world, sale["id"]) == 0, 30, "the hand-off to drain")
        # What the last order writer acknowledged without writing: redeliveries of orders written before.
        base = f"http://127.0.0.1:{metrics_port}"
        acked = metric(base, "flashsale_orders_written_total")
        fresh = metric(base, "flashsale_order_pipeline_lag_seconds_count")
        print(
            f"\nkills (kind, rows at the time, written orders redelivered or the timeout margin): {kills}; "
            f"the last order writer acked {acked:.0f} orders, "
            f"{acked - fresh:.0f} of them redelivered after being written"
        )
        audit(run.world, sale["id"], accepted=accepted)
        audit(run.world, short["id"], accepted=expired)
        with run.client() as client:
            assert client.get(f"/api/v1/sales/{short['id']}").json()["stock_left"] == 100
        # Each overdue order cancelled once: one stock return each (its key), applied, and the stock back once.
        returns = db.rows(
            "SELECT COUNT(*), COUNT(applied_at), COALESCE(SUM(quantity), 0) FROM stock_returns WHERE sale_id = %s",
            int(short["id"]),
        )[0]
        assert tuple(int(v) for v in returns) == (100, 100, 100), returns
        first, last = deadlines(db, short["id"])
        notes = (
            f"timeout worker SIGKILLed before the first of 100 payment deadlines and down {down_for:.1f}s, past "
            f"all of them ({last - first:.2f}s apart); each order cancelled (timeout) once, 100 stock returns "
            "applied once, stock_left 100 in the database and the cache; recovery = restart to the last cancel"
        )
        report(tally(db, short["id"], expired, "timeout worker down past deadlines", timeouts_recovered, notes))
        notes = f"kills (kind, rows then, redelivered written orders): {kills}; recovery = burst end to all written"
        report(tally(db, sale["id"], accepted, "workers SIGKILLed mid-stream", caught_up, notes))


def test_sigterm_drains_in_flight_work_and_exits_0() -> None:
    with running_world(workers=("all",)) as run, Db(run.world) as db:
        with run.client() as client:
            sale = make_sale(client, run.world, stock=ORDERS, payment_timeout_seconds=600)
        burst = Burst(run, sale["id"], ORDERS, RATE)
        burst.start()
        wait_until(lambda: db.count_orders(sale["id"]) >= ORDERS // 3, 60, "a third of the orders written")
        began = time.monotonic()
        code = run.stop("all", signal.SIGTERM, timeout=30)
        stopped_in = time.monotonic() - began
        log = run.log("all")
        assert code == 0, f"the worker exited {code} on SIGTERM:\n{log[-3000:]}"
        assert "finishing in-flight work" in log
        assert "Traceback" not in log and " ERROR " not in log, log[-3000:]

        # Whatever the worker held is either written or back where it came from: nothing is read but
        # unacknowledged in the hand-off, and rows + queued + hand-off account for every accepted order
        # exactly (a clean stop publishes nothing twice).
        accepted = burst.join_and_check()
        assert pending_in_relay(run.world, sale["id"]) == 0
        written = db.count_orders(sale["id"])
        queued = queued_orders(run.world, run.names.orders_queue)
        waiting = handoff_length(run.world, sale["id"])
        assert written + queued + waiting == len(accepted), (written, queued, waiting, len(accepted))
        print(f"SIGTERM: stopped in {stopped_in:.2f}s; {written} written, {queued} queued, {waiting} in the hand-off")

        run.start("all")
        wait_all_written(db, sale["id"], accepted, timeout=60)
        assert db.sale_row(sale["id"])[1] == ORDERS - len(accepted)
        audit(run.world, sale["id"])
