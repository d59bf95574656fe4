"""The order pipeline end to end, through HTTP only: purchase -> pending -> created -> paid, payment
timeouts, user cancellation, and every conflict answer of the contract for pay and cancel."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.pipeline.harness import Db, Running, buy, order, parse_time, running_world, wait_status, wait_until
from tests.support import make_sale


@pytest.fixture(scope="module")
def bare() -> Iterator[Running]:
    """A second world of this module with no workers running: tests start exactly the ones they need."""
    with running_world(workers=()) as run:
        yield run


def stock_left(client: httpx.Client, sale_id: str) -> int:
    reply = client.get(f"/api/v1/sales/{sale_id}")
    assert reply.status_code == 200, reply.text
    return int(reply.json()["stock_left"])


def pay(client: httpx.Client, pipe: Running, user: str, order_id: str) -> httpx.Response:
    return client.post(f"/api/v1/orders/{order_id}/pay", headers=pipe.world.headers(user))


def cancel(client: httpx.Client, pipe: Running, user: str, order_id: str) -> httpx.Response:
    return client.post(f"/api/v1/orders/{order_id}/cancel", headers=pipe.world.headers(user))


def assert_error(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.json()["error"] == code, reply.text


def test_purchase_is_written_then_paid_once(pipe: Running, http: httpx.Client) -> None:
    sale = make_sale(http, pipe.world, stock=5, price_cents=1234, payment_timeout_seconds=600)
    order_id = buy(http, pipe.world, sale["id"], "alice")

    seen: list[str] = []

    def created() -> dict | None:
        found = order(http, pipe.world, "alice", order_id)
        if not seen or seen[-1] != found["status"]:
            seen.append(found["status"])
        return found if found["status"] == "created" else None

    written = wait_until(created, 15, f"order {order_id} to be written")
    assert seen in (["pending", "created"], ["created"]), f"statuses seen while polling: {seen}"
    assert written["id"] == order_id
    assert written["sale_id"] == sale["id"]
    assert written["user_id"] == "alice"
    assert (written["quantity"], written["amount_cents"]) == (1, 1234)
    assert written["paid_at"] is None and written["cancel_reason"] is None
    window = parse_time(written["expires_at"]) - parse_time(written["created_at"])
    assert abs(window - 600) < 0.01, written
    assert stock_left(http, sale["id"]) == 4

    paid = pay(http, pipe, "alice", order_id)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert paid.json()["paid_at"] is not None
    again = pay(http, pipe, "alice", order_id)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "paid"
    assert again.json()["paid_at"] == paid.json()["paid_at"]
    assert order(http, pipe.world, "alice", order_id)["status"] == "paid"
    with Db(pipe.world) as db:
        assert db.charges(order_id) == 1
        assert db.count_orders(sale["id"]) == 1

    assert_error(cancel(http, pipe, "alice", order_id), 409, "order_paid")
    assert order(http, pipe.world, "alice", order_id)["status"] == "paid"
    assert stock_left(http, sale["id"]) == 4


def test_unpaid_order_times_out_and_its_unit_sells_again(pipe: Running, http: httpx.Client) -> None:
    sale = make_sale(http, pipe.world, stock=1, payment_timeout_seconds=2)
    order_id = buy(http, pipe.world, sale["id"], "carol")
    written = wait_status(http, pipe.world, "carol", order_id, "created")
    expires = parse_time(written["expires_at"])
    sold_out = http.post(f"/api/v1/sales/{sale['id']}/purchase", headers=pipe.world.headers("dave"))
    assert_error(sold_out, 409, "sold_out")

    # The contract: cancelled with reason timeout within 2 s of expires_at while the timeout worker runs.
    cancelled = wait_status(http, pipe.world, "carol", order_id, "cancelled", timeout=expires + 5 - time.time())
    observed = time.time()
    assert cancelled["cancel_reason"] == "timeout", cancelled
    assert observed <= expires + 2.0 + 0.25, f"cancelled {observed - expires:.2f}s after expires_at"
    wait_until(lambda: stock_left(http, sale["id"]) == 1, 3, "the unit to return to the cache")

    again = buy(http, pipe.world, sale["id"], "dave")
    assert wait_status(http, pipe.world, "dave", again, "created")["user_id"] == "dave"
    assert_error(pay(http, pipe, "carol", order_id), 409, "order_cancelled")
    with Db(pipe.world) as db:
        assert db.charges(order_id) == 0
        assert db.sale_row(sale["id"])[1] == 0


def test_user_cancel_returns_the_stock(pipe: Running, http: httpx.Client) -> None:
    sale = make_sale(http, pipe.world, stock=3, per_user_limit=1)
    order_id = buy(http, pipe.world, sale["id"], "erin")
    wait_status(http, pipe.world, "erin", order_id, "created")
    assert stock_left(http, sale["id"]) == 2

    first = cancel(http, pipe, "erin", order_id)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["cancel_reason"]) == ("cancelled", "user")
    assert stock_left(http, sale["id"]) == 3
    second = cancel(http, pipe, "erin", order_id)
    assert second.status_code == 200, second.text
    assert (second.json()["status"], second.json()["cancel_reason"]) == ("cancelled", "user")
    assert stock_left(http, sale["id"]) == 3, "a second cancel returned the unit twice"

    assert_error(pay(http, pipe, "erin", order_id), 409, "order_cancelled")
    # The unit went back to the user's allowance too (per_user_limit 1).
    again = buy(http, pipe.world, sale["id"], "erin")
    wait_status(http, pipe.world, "erin", again, "created")
    with Db(pipe.world) as db:
        assert db.charges(order_id) == 0
        assert db.sale_row(sale["id"]) == (3, 2, 1)


def test_another_users_order_is_not_found(pipe: Running, http: httpx.Client) -> None:
    sale = make_sale(http, pipe.world, stock=2)
    order_id = buy(http, pipe.world, sale["id"], "frank")
    wait_status(http, pipe.world, "frank", order_id, "created")
    intruder = pipe.world.headers("mallory")
    assert_error(http.get(f"/api/v1/orders/{order_id}", headers=intruder), 404, "not_found")
    assert_error(http.post(f"/api/v1/orders/{order_id}/pay", headers=intruder), 404, "not_found")
    assert_error(http.post(f"/api/v1/orders/{order_id}/cancel", headers=intruder), 404, "not_found")
    listed = http.get("/api/v1/orders", headers=intruder)
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text
    assert order(http, pipe.world, "frank", order_id)["status"] == "created"
    with Db(pipe.world) as db:
        assert db.charges(order_id) == 0


def test_pending_order_answers_order_pending_and_is_listed(bare: Running) -> None:
    world = bare.world
    with bare.client() as http:
        first_sale = make_sale(http, world, stock=2)
        second_sale = make_sale(http, world, stock=2)
        first = buy(http, world, first_sale["id"], "gina")
        # No workers: the order stays in the hand-off, pending.
        assert order(http, world, "gina", first)["status"] == "pending"
        for verb in ("pay", "cancel"):
            reply = http.post(f"/api/v1/orders/{first}/{verb}", headers=world.headers("gina"))
            assert_error(reply, 409, "order_pending")
            assert reply.headers.get("Retry-After") == "1", reply.headers
        assert_error(http.get(f"/api/v1/orders/{first}", headers=world.headers("mallory")), 404, "not_found")
        listed = http.get("/api/v1/orders", headers=world.headers("gina")).json()["items"]
        assert [(o["id"], o["status"]) for o in listed] == [(first, "pending")]

        with bare.running("relay"), bare.running("orders"):
            wait_status(http, world, "gina", first, "created")
        second = buy(http, world, second_sale["id"], "gina")
        listed = http.get("/api/v1/orders", headers=world.headers("gina")).json()["items"]
        assert [(o["id"], o["status"]) for o in listed] == [(second, "pending"), (first, "created")]
        only_first = http.get(f"/api/v1/orders?sale_id={first_sale['id']}", headers=world.headers("gina"))
        assert [o["id"] for o in only_first.json()["items"]] == [first]
        only_second = http.get(f"/api/v1/orders?sale_id={second_sale['id']}", headers=world.headers("gina"))
        assert [(o["id"], o["status"]) for o in only_second.json()["items"]] == [(second, "pending")]


def test_pay_after_expiry_before_the_timeout_is_processed(bare: Running) -> None:
    world = bare.world
    with bare.client() as http:
        sale = make_sale(http, world, stock=2, payment_timeout_seconds=1)
        with bare.running("relay"), bare.running("orders"):
            order_id = buy(http, world, sale["id"], "hank")
            written = wait_status(http, world, "hank", order_id, "created")
            expires = parse_time(written["expires_at"])
            time.sleep(max(0.0, expires + 0.2 - time.time()))  # a fixed instant, not a guess
            late = http.post(f"/api/v1/orders/{order_id}/pay", headers=world.headers("hank"))
            assert_error(late, 409, "order_expired")
            # No timeout worker runs: the order is still `created`, and nobody was charged.
            assert order(http, world, "hank", order_id)["status"] == "created"
            with bare.running("timeouts"):
                cancelled = wait_status(http, world, "hank", order_id, "cancelled", timeout=10)
            assert cancelled["cancel_reason"] == "timeout"
            again = http.post(f"/api/v1/orders/{order_id}/pay", headers=world.headers("hank"))
            assert_error(again, 409, "order_cancelled")
        with Db(world) as db:
            assert db.charges(order_id) == 0
            assert db.sale_row(sale["id"])[1] == 2


def test_cancel_after_expiry_ends_the_order_by_timeout(bare: Running) -> None:
    """The contract: an order unpaid at expires_at ends cancelled with reason `timeout`, even when its owner
    asks to cancel before the timeout worker gets to it."""
    world = bare.world
    with bare.client() as http:
        sale = make_sale(http, world, stock=1, payment_timeout_seconds=1)
        with bare.running("relay"), bare.running("orders"):
            order_id = buy(http, world, sale["id"], "ivy")
            written = wait_status(http, world, "ivy", order_id, "created")
            time.sleep(max(0.0, parse_time(written["expires_at"]) + 0.2 - time.time()))
            reply = http.post(f"/api/v1/orders/{order_id}/cancel", headers=world.headers("ivy"))
            assert reply.status_code == 200, reply.text
            assert (reply.json()["status"], reply.json()["cancel_reason"]) == ("cancelled", "timeout")
        assert stock_left(http, sale["id"]) == 1
