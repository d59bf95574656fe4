"""Pay and payment timeout racing for the same order: many orders, each paid right around its expires_at
while the timeout worker cancels it. Every order ends exactly one of paid or cancelled, a successful pay is
never undone, a cancelled order is never charged, and the audit passes once everything is settled."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

from tests.pipeline.harness import Db, Running, audit, buy, wait_until
from tests.support import make_sale

ORDERS_PER_ROUND = 40
ROUNDS = 2
SPREAD_SECONDS = 0.15  # pays land from 150 ms before to 150 ms after expires_at


def run_round(pipe: Running, round_no: int) -> Counter[str]:
    world = pipe.world
    with pipe.client() as client:
        sale = make_sale(client, world, stock=ORDERS_PER_ROUND, payment_timeout_seconds=2)
        users = [f"racer{round_no}-{i}" for i in range(ORDERS_PER_ROUND)]
        orders = {user: buy(client, world, sale["id"], user) for user in users}

    db = Db(world)

    def all_created() -> bool:
        rows = db.order_rows(sale["id"])
        return len(rows) == ORDERS_PER_ROUND and all(r[0] == "created" for r in rows.values())

    wait_until(all_created, 10, "every order of the round to be written")
    # The database stores UTC.
    expires = {
        str(order_id): moment.replace(tzinfo=UTC).timestamp()
        for order_id, moment in db.rows("SELECT id, expires_at FROM orders WHERE sale_id = %s", int(sale["id"]))
    }
    assert min(expires.values()) > time.time() + 0.3, "orders were written too late to race their timeout"

    replies: dict[str, tuple[int, str]] = {}
    lock = threading.Lock()

    # Plain keep-alive connections, opened ahead of the instant (an httpx client per thread is slow to build).
    host, port = pipe.base.removeprefix("http://").split(":")
    connections = {user: http.client.HTTPConnection(host, int(port), timeout=20) for user in users}
    for connection in connections.values():
        connection.connect()

    def shopper(index: int, user: str) -> None:
        order_id = orders[user]
        offset = -SPREAD_SECONDS + 2 * SPREAD_SECONDS * index / (ORDERS_PER_ROUND - 1)
        connection = connections[user]
        time.sleep(max(0.0, expires[order_id] + offset - time.time()))
        connection.request("POST", f"/api/v1/orders/{order_id}/pay", headers=world.headers(user))
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()
        with lock:
            replies[order_id] = (response.status, body.get("error", body.get("status")))

    with ThreadPoolExecutor(ORDERS_PER_ROUND) as pool:
        for future in [pool.submit(shopper, i, user) for i, user in enumerate(users)]:
            future.result()

    def settled() -> dict[int, tuple[str, str | None, str, int]] | None:
        rows = db.order_rows(sale["id"])
        return rows if all(r[0] in ("paid", "cancelled") for r in rows.values()) else None

    final = wait_until(settled, 15, "every order to end paid or cancelled")
    outcomes: Counter[str] = Counter()
    for order_id, (status, reason, _user, _qty) in final.items():
        reply = replies[str(order_id)]
        charges = db.charges(order_id)
        if status == "paid":
            assert reply == (200, "paid"), f"order {order_id} ended paid, but its pay answered {reply}"
            assert charges == 1, f"paid order {order_id} has {charges} charges"
        else:
            assert reason == "timeout", f"order {order_id} was cancelled for {reason}"
            assert reply[0] == 409 and reply[1] in ("order_expired", "order_cancelled"), (
                f"order {order_id} ended cancelled, but its pay answered {reply}"
            )
            assert charges == 0, f"cancelled order {order_id} was charged"
        outcomes[status] += 1
    both = db.value(
        "SELECT COUNT(*) FROM orders o JOIN fake_charges c ON c.idempotency_key = CAST(o.id AS CHAR) "
        "WHERE o.sale_id = %s AND o.status = 'cancelled'",
        int(sale["id"]),
    )
    assert both == 0
    stock, stock_left, _limit = db.sale_row(sale["id"])
    assert stock_left == stock - outcomes["paid"]
    db.close()
    audit(world, sale["id"])
    return outcomes


def test_pay_and_timeout_at_the_same_instant(pipe: Running) -> None:
    total: Counter[str] = Counter()
    for round_no in range(ROUNDS):
        total += run_round(pipe, round_no)
    print(f"race outcomes over {ROUNDS * ORDERS_PER_ROUND} orders: {dict(total)}")
    assert total["paid"] + total["cancelled"] == ROUNDS * ORDERS_PER_ROUND
    # Pays spread around the deadline: some must have won and some lost, or the race was not run.
    assert total["paid"] > 0 and total["cancelled"] > 0, total
