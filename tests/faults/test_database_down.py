"""The database crashes (SIGKILL, then a restart) or hangs (SIGSTOP, then SIGCONT) for a few seconds while
purchases keep coming: the purchase path (Redis) keeps accepting, the order writers hold their batch and
retry, payment timeouts wait for the database, nothing is dead-lettered or lost, and once the database is
back every accepted order is written exactly once.

Runs against a PRIVATE MariaDB server (tests/faults/conftest.py) on its own port and data directory; the
shared server on 3306 is never touched."""

from __future__ import annotations

import secrets
import signal
import time

import pytest

from tests.faults.conftest import PrivateMariaDB
from tests.faults.report import report, tally
from tests.pipeline.harness import (
    Burst,
    Db,
    audit,
    buy,
    handoff_length,
    publish,
    ready_messages,
    running_world,
    wait_all_written,
    wait_until,
    written_record,
)
from tests.support import make_sale

ORDERS = 1800
RATE = 150  # purchases per second: about 12 s of them
OUTAGE_SECONDS = 5
SHORT = 30  # orders of a sale whose payment window closes while the database is down


@pytest.mark.parametrize("outage", ["crash", "freeze"])
def test_orders_survive_a_database_outage(private_mariadb: PrivateMariaDB, outage: str) -> None:
    url = f"{private_mariadb.url}/fs_down_{secrets.token_hex(3)}"
    with running_world(("all",), FLASHSALE_MYSQL_URL=url) as run:
        db = Db(run.world)
        assert db.target.port == private_mariadb.port
        with run.client() as client:
            sale = make_sale(client, run.world, stock=ORDERS, payment_timeout_seconds=600)
            short = make_sale(client, run.world, stock=SHORT, payment_timeout_seconds=3)
            expiring = {buy(client, run.world, short["id"], f"s{i}") for i in range(SHORT)}
        wait_all_written(db, short["id"], expiring, timeout=20)

        burst = Burst(run, sale["id"], ORDERS, RATE)
        burst.start()
        wait_until(lambda: db.count_orders(sale["id"]) >= 200, 30, "orders to flow into the database")
        db.close()
        if outage == "crash":
            private_mariadb.kill()
        else:
            private_mariadb.freeze()
        down_at, accepted_before = time.monotonic(), len(burst.accepted)
        written_before = None

        # Purchases go on being accepted while the database is down.
        wait_until(
            lambda: time.monotonic() - down_at >= OUTAGE_SECONDS,
            OUTAGE_SECONDS + 5,
            "the outage to last",
            interval=0.1,
        )
        accepted_during = len(burst.accepted) - accepted_before
        assert accepted_during >= RATE * (OUTAGE_SECONDS - 1), f"only {accepted_during} accepted while down"
        assert not burst.failures, f"purchases refused while the database was down: {burst.failures[:3]}"
        assert run.workers["all"].poll() is None, f"the worker died:\n{run.log('all')[-3000:]}"

        if outage == "crash":
            private_mariadb.start()
        else:
            private_mariadb.thaw()
        up_at = time.monotonic()
        written_before = db.count_orders(sale["id"])
        accepted = burst.join_and_check()
        rows = wait_all_written(db, sale["id"], accepted, timeout=60)
        caught_up = time.monotonic() - up_at
        assert all(status == "created" for status, *_ in rows.values())
        assert db.sale_row(sale["id"])[1] == ORDERS - len(accepted)

        # The payment windows that closed during the outage are processed once the database is back.
        wait_until(
            lambda: all(r[:2] == ("cancelled", "timeout") for r in db.order_rows(short["id"]).values()),
            20,
            "the short sale's orders to time out",
        )
        assert db.sale_row(short["id"])[1] == SHORT

        assert ready_messages(run.world, run.names.orders_dlq) == 0, "orders were dead-lettered for the outage"
        assert run.workers["all"].poll() is None, f"the worker died:\n{run.log('all')[-3000:]}"
        wait_until(lambda: handoff_length(run.world, sale["id"]) == 0, 20, "the hand-off to drain")
        print(
            f"\ndatabase {outage} for {OUTAGE_SECONDS}s: {accepted_during} purchases accepted meanwhile; "
            f"{written_before} rows right after the restart, all {len(accepted)} written "
            f"{caught_up:.2f}s after it"
        )
        audit(run.world, sale["id"], accepted=accepted)
        audit(run.world, short["id"], accepted=expiring)
        notes = (
            f"database {'SIGKILLed and restarted' if outage == 'crash' else 'frozen (SIGSTOP) and thawed'} after "
            f"{OUTAGE_SECONDS}s; {accepted_during} purchases accepted meanwhile, none refused, nothing dead-lettered; "
            "recovery = back up to all written"
        )
        report(tally(db, sale["id"], accepted, f"database {outage} during a burst", caught_up, notes))
        db.close()


@pytest.mark.parametrize("outage", ["crash", "freeze"])
def test_sigterm_while_the_database_is_down_hands_the_orders_back(private_mariadb: PrivateMariaDB, outage: str) -> None:
    """A worker stopped while it holds orders it cannot write gives them back and exits: at once (0) when the
    database refuses connections; after the stop grace period (20 s, exit 1, as a crash) when it hangs. The
    orders are written once a worker runs again with the database back."""
    url = f"{private_mariadb.url}/fs_down_{secrets.token_hex(3)}"
    with running_world(("all",), FLASHSALE_MYSQL_URL=url) as run:
        db = Db(run.world)
        with run.client() as client:
            sale = make_sale(client, run.world, stock=600, payment_timeout_seconds=600)
            short = make_sale(client, run.world, stock=SHORT, payment_timeout_seconds=3)
            expiring = {buy(client, run.world, short["id"], f"s{i}") for i in range(SHORT)}
        wait_all_written(db, short["id"], expiring, timeout=20)
        burst = Burst(run, sale["id"], 600, 100)
        burst.start()
        wait_until(lambda: db.count_orders(sale["id"]) >= 100, 30, "orders to flow into the database")
        # The relay waits for the database too (it records what it hands off before publishing), so the order
        # writer gets a batch of its own to hold: copies of written orders, as redeliveries would be.
        copies = [written_record(db, o) for o in sorted(expiring)[:10]]
        db.close()
        if outage == "crash":
            private_mariadb.kill()
            publish(run.world, run.names.orders_queue, copies)
            # The order writer holds a batch it cannot write; the short sale's timeouts wait for the database.
            wait_until(lambda: "holding" in run.log("all"), 20, "the order writer to hold a batch", interval=0.1)
            wait_until(lambda: "waits for the database" in run.log("all"), 20, "a timeout to wait", interval=0.1)
        else:
            private_mariadb.freeze()
            # Nothing fails, everything that touches the database just waits: the writer, the timeouts.
            frozen_at = len(burst.accepted)
            wait_until(lambda: len(burst.accepted) >= frozen_at + 200, 20, "purchases while frozen", interval=0.1)

        began = time.monotonic()
        code = run.stop("all", signal.SIGTERM, timeout=40)
        stopped_in = time.monotonic() - began
        log = run.log("all")
        expected = (0, 15) if outage == "crash" else (1, 30)
        assert code == expected[0] and stopped_in < expected[1], (
            f"exit {code} after {stopped_in:.1f}s on SIGTERM:\n{log[-3000:]}"
        )

        if outage == "crash":
            private_mariadb.start()
        else:
            private_mariadb.thaw()
        accepted = burst.join_and_check()
        run.start("all")
        wait_all_written(db, sale["id"], accepted, timeout=60)
        wait_until(
            lambda: all(r[:2] == ("cancelled", "timeout") for r in db.order_rows(short["id"]).values()),
            20,
            "the short sale's orders to time out",
        )
        assert ready_messages(run.world, run.names.orders_dlq) == 0, "orders were dead-lettered"
        print(f"\nSIGTERM with the database down ({outage}): exit {code} in {stopped_in:.2f}s")
        audit(run.world, sale["id"])
        audit(run.world, short["id"])
        db.close()
