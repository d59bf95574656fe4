"""Temporary database errors are not bad orders: a read-only server (1290, as during a failover), a lock-wait
timeout (1205) and a deadlock (1213) make the order writer hold its batch and back off, as in an outage; none of
those orders is dead-lettered, and each is written once the error is gone.

Runs against a PRIVATE MariaDB server (tests/faults/conftest.py): `SET GLOBAL` never touches the shared one. The
world connects as a user without the privilege to write to a read-only server (root has it)."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pymysql

from tests.faults.conftest import PrivateMariaDB
from tests.pipeline.harness import (
    Db,
    Running,
    audit,
    buy,
    handoff_length,
    ready_messages,
    reservation_record,
    running_world,
    wait_all_written,
    wait_until,
)
from tests.support import make_sale

ORDERS = 3
SHORT_WINDOW = 8  # seconds: the short sale's payment timeout


def root(server: PrivateMariaDB) -> Any:
    return pymysql.connect(host="127.0.0.1", port=server.port, user="root", autocommit=True, connect_timeout=5)


@contextlib.contextmanager
def app_world(server: PrivateMariaDB, **env: str) -> Iterator[Running]:
    """A world on the private server as an ordinary user (all rights on its own database only), with the relay,
    the order writers and the timeout worker as separate processes."""
    database, password = f"fs_err_{secrets.token_hex(3)}", secrets.token_hex(8)
    conn = root(server)
    with conn.cursor() as cur:
        cur.execute("CREATE USER 'fsapp'@'%%' IDENTIFIED BY %s", (password,))
        cur.execute(f"GRANT ALL ON `{database}`.* TO 'fsapp'@'%'")
    conn.close()
    url = f"mysql://fsapp:{password}@127.0.0.1:{server.port}/{database}"
    with running_world(("relay", "orders", "timeouts"), FLASHSALE_MYSQL_URL=url, **env) as run:
        yield run


def queued_orders_of(run: Running, http: Any, count: int, prefix: str) -> tuple[str, set[str]]:
    """A sale with `count` accepted orders waiting in the order queue (the writers are stopped)."""
    sale = make_sale(http, run.world, stock=50, payment_timeout_seconds=600)
    run.stop("orders")
    accepted = {buy(http, run.world, sale["id"], f"{prefix}{i}") for i in range(count)}
    wait_until(lambda: handoff_length(run.world, sale["id"]) == 0, 20, "the relay to move the orders")
    return sale["id"], accepted


def holds(run: Running, errno: int) -> int:
    """How often the order writer held its batch for this error."""
    return sum(1 for line in run.log("orders").splitlines() if "holding" in line and f"({errno}," in line)


def test_a_read_only_server_holds_the_orders_instead_of_dead_lettering_them(private_mariadb: PrivateMariaDB) -> None:
    with app_world(private_mariadb) as run, run.client() as http:
        # Payment windows long enough to close only once the server is read-only (asserted below).
        short = make_sale(http, run.world, stock=5, payment_timeout_seconds=SHORT_WINDOW)
        expiring = {buy(http, run.world, short["id"], f"rs{i}") for i in range(2)}
        with Db(run.world) as db:
            wait_all_written(db, short["id"], expiring, timeout=20)
        sale_id, accepted = queued_orders_of(run, http, ORDERS, "ro")
        admin = root(private_mariadb)
        try:
            with admin.cursor() as cur:
                cur.execute("SET GLOBAL read_only = 1")
            with Db(run.world) as db:
                rows = db.order_rows(short["id"]).values()
                assert all(r[0] == "created" for r in rows), f"timed out before the server was read-only: {rows}"
            run.start("orders")
            # Refused again and again (the old writer dead-lettered every order within a few refusals), and the
            # payment timeouts of the short sale came due meanwhile and waited too.
            wait_until(
                lambda: (
                    ready_messages(run.world, run.names.orders_dlq) > 0
                    or (holds(run, 1290) >= 4 and "waits for the database" in run.log("timeouts"))
                ),
                60,
                "the writer to hold its batch and a timeout to wait for the read-only server",
                interval=0.2,
            )
            assert ready_messages(run.world, run.names.orders_dlq) == 0, (
                "orders or timeouts dead-lettered for a read-only server:\n" + run.log("orders")[-3000:]
            )
        finally:
            with admin.cursor() as cur:
                cur.execute("SET GLOBAL read_only = 0")
            admin.close()
        with Db(run.world) as db:
            wait_all_written(db, sale_id, accepted, timeout=30)
            wait_until(
                lambda: all(r[:2] == ("cancelled", "timeout") for r in db.order_rows(short["id"]).values()),
                20,
                "the short sale's orders to time out",
            )
        assert ready_messages(run.world, run.names.orders_dlq) == 0
        audit(run.world, sale_id)
        audit(run.world, short["id"])


def test_a_lock_wait_timeout_holds_the_orders_instead_of_dead_lettering_them(private_mariadb: PrivateMariaDB) -> None:
    admin = root(private_mariadb)
    with admin.cursor() as cur:
        cur.execute("SET GLOBAL innodb_lock_wait_timeout = 1")  # for the connections the world opens from now on
    admin.close()
    with app_world(private_mariadb, FLASHSALE_ORDER_MAX_ATTEMPTS="2") as run, run.client() as http:
        sale_id, accepted = queued_orders_of(run, http, 2, "lw")
        # Another transaction holds the sale's row: every stock take waits one second and gives up.
        holder = Db(run.world).connection(autocommit=False)
        try:
            with holder.cursor() as cur:
                cur.execute("SELECT stock_left FROM sales WHERE id = %s FOR UPDATE", (int(sale_id),))
            run.start("orders")
            wait_until(
                lambda: ready_messages(run.world, run.names.orders_dlq) > 0 or holds(run, 1205) >= 3,
                90,
                "the writer to time out on the lock again and again",
                interval=0.2,
            )
            assert ready_messages(run.world, run.names.orders_dlq) == 0, "orders dead-lettered for a lock wait"
        finally:
            holder.rollback()
            holder.close()
        with Db(run.world) as db:
            wait_all_written(db, sale_id, accepted, timeout=30)
        assert ready_messages(run.world, run.names.orders_dlq) == 0
        audit(run.world, sale_id)


def test_a_deadlock_holds_the_batch_instead_of_blaming_the_order(private_mariadb: PrivateMariaDB) -> None:
    """A real deadlock: another transaction (heavier, so the writer is the one InnoDB rolls back) has inserted the
    writer's order id, uncommitted; the writer takes the sale's row and waits on that id; the other transaction
    then asks for the sale's row. The writer must take error 1213 as the server's, not as the order's."""
    with app_world(private_mariadb) as run, run.client() as http:
        sale_id, accepted = queued_orders_of(run, http, 1, "dl")
        (order_id,) = accepted
        record = json.loads(reservation_record(run.world, sale_id, order_id))
        admin = root(private_mariadb)
        other = Db(run.world).connection(autocommit=False)
        try:
            with other.cursor() as cur:
                cur.executemany(
                    "INSERT INTO fake_charges (idempotency_key, amount_cents, status) VALUES (%s, 1, 'succeeded')",
                    [(f"weight-{i}",) for i in range(200)],
                )
                cur.execute(
                    "INSERT INTO orders (id, sale_id, user_id, quantity, amount_cents, status, created_at, expires_at) "
                    "VALUES (%s, %s, %s, %s, %s, 'created', NOW(3), NOW(3) + INTERVAL 1 HOUR)",
                    (int(order_id), int(sale_id), record["u"], record["q"], record["a"]),
                )
            run.start("orders")

            def writer_waits() -> bool:
                with admin.cursor() as cur:
                    cur.execute("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'")
                    return bool(cur.fetchone()[0])

            wait_until(writer_waits, 20, "the writer to wait on the uncommitted order id", interval=0.05)
            with other.cursor() as cur:  # closes the cycle: InnoDB rolls the writer back with 1213
                cur.execute("UPDATE sales SET stock_left = stock_left WHERE id = %s", (int(sale_id),))
            with admin.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")
                assert int(cur.fetchone()[1]) == 1, "no deadlock happened"
        finally:
            other.rollback()
            other.close()
            admin.close()
        with Db(run.world) as db:
            wait_all_written(db, sale_id, accepted, timeout=30)
        assert holds(run, 1213) >= 1, "the deadlock was not taken for the server's:\n" + run.log("orders")[-3000:]
        assert "not written" not in run.log("orders"), run.log("orders")[-3000:]
        assert ready_messages(run.world, run.names.orders_dlq) == 0
        audit(run.world, sale_id)
