"""What the timeout worker's sweep repairs after a crash, a declined charge, and the `db` strategy's
timeouts (which rely on the sweep alone)."""

from __future__ import annotations

import asyncio

import httpx

from app.application.orders import Orders, PaymentFailed
from app.bootstrap import open_container
from app.domain.errors import Conflict
from app.infrastructure import sql_orders
from app.infrastructure.fake_payments import FakePaymentProvider
from app.infrastructure.sql_store import SqlStore
from app.infrastructure.tokens import Principal
from tests.pipeline.harness import Db, Running, audit, buy, running_world, wait_status, wait_until
from tests.support import make_sale


def _stock_left(client: httpx.Client, sale_id: str) -> int:
    return int(client.get(f"/api/v1/sales/{sale_id}").json()["stock_left"])


def test_an_order_left_paying_by_a_crash_is_resolved_by_asking_the_provider(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=2, payment_timeout_seconds=600)
    charged = buy(http, world, sale["id"], "crash-a")
    uncharged = buy(http, world, sale["id"], "crash-b")
    wait_status(http, world, "crash-a", charged, "created")
    wait_status(http, world, "crash-b", uncharged, "created")
    with Db(world) as db:
        # As if the API died after claiming both and charging only the first.
        db.rows(
            "UPDATE orders SET status = 'paying', paying_since = NOW(3) - INTERVAL 60 SECOND WHERE id IN (%s, %s)",
            int(charged),
            int(uncharged),
        )
        db.rows(
            "INSERT INTO fake_charges (idempotency_key, amount_cents, status) VALUES (%s, 500, 'succeeded')", charged
        )
    wait_status(http, world, "crash-a", charged, "paid")
    wait_status(http, world, "crash-b", uncharged, "created")
    reply = http.post(f"/api/v1/orders/{uncharged}/pay", headers=world.headers("crash-b"))
    assert reply.status_code == 200 and reply.json()["status"] == "paid", reply.text
    with Db(world) as db:
        assert db.charges(charged) == 1 and db.charges(uncharged) == 1
    audit(world, sale["id"])


def test_a_stock_return_left_behind_by_a_crash_reaches_the_cache(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=1, payment_timeout_seconds=600)
    order_id = buy(http, world, sale["id"], "crash-c")
    wait_status(http, world, "crash-c", order_id, "created")
    assert _stock_left(http, sale["id"]) == 0
    with Db(world) as db:
        # The cancelling transaction committed, then the process died before touching Redis.
        epoch = db.value("SELECT cache_epoch FROM sales WHERE id = %s", int(sale["id"]))
        db.rows("UPDATE orders SET status = 'cancelled', cancel_reason = 'user' WHERE id = %s", int(order_id))
        db.rows("UPDATE sales SET stock_left = stock_left + 1 WHERE id = %s", int(sale["id"]))
        db.rows(
            "INSERT INTO stock_returns (order_id, sale_id, user_id, quantity, cache_epoch) "
            "VALUES (%s, %s, 'crash-c', 1, %s)",
            int(order_id),
            int(sale["id"]),
            epoch,
        )
    wait_until(lambda: _stock_left(http, sale["id"]) == 1, 10, "the sweep to return the unit to the cache")
    with Db(world) as db:
        assert db.value("SELECT applied_at IS NOT NULL FROM stock_returns WHERE order_id = %s", int(order_id)) == 1
    # The allowance came back too: the same user may buy again.
    again = buy(http, world, sale["id"], "crash-c")
    wait_status(http, world, "crash-c", again, "created")
    audit(world, sale["id"])


def test_a_declined_charge_answers_402_and_leaves_the_order_open(pipe: Running, http: httpx.Client) -> None:
    world = pipe.world
    sale = make_sale(http, world, stock=1, payment_timeout_seconds=600)
    order_id = buy(http, world, sale["id"], "declined")
    wait_status(http, world, "declined", order_id, "created")

    async def pay_with_a_declining_provider() -> str:
        async with open_container(world.settings) as c:
            orders = Orders(SqlStore(c.db), c.cache, FakePaymentProvider(c.db, decline=True), c.returns)
            try:
                await orders.pay(Principal("declined", "user"), int(order_id))
            except PaymentFailed as exc:
                return f"{exc.status} {exc.code}"
        return "paid"

    assert asyncio.run(pay_with_a_declining_provider()) == "402 payment_failed"
    with Db(world) as db:
        assert db.charges(order_id) == 0
    wait_status(http, world, "declined", order_id, "created", timeout=2)
    reply = http.post(f"/api/v1/orders/{order_id}/pay", headers=world.headers("declined"))
    assert reply.status_code == 200 and reply.json()["status"] == "paid", reply.text


def test_db_strategy_orders_time_out_through_the_sweep() -> None:
    with running_world(("timeouts",), FLASHSALE_STOCK_STRATEGY="db") as run, run.client() as client:
        world = run.world
        sale = make_sale(client, world, stock=1, payment_timeout_seconds=1)
        reply = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=world.headers("dbu"))
        assert reply.status_code == 202 and reply.json()["status"] == "created", reply.text
        order_id = reply.json()["order_id"]
        sold = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=world.headers("dbv"))
        assert sold.status_code == 409 and sold.json()["error"] == "sold_out"
        cancelled = wait_status(client, world, "dbu", order_id, "cancelled", timeout=4)
        assert cancelled["cancel_reason"] == "timeout"
        again = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=world.headers("dbv"))
        assert again.status_code == 202, again.text


def stalled_then_cancelled(pipe: Running, http: httpx.Client, user: str) -> tuple[dict, str]:
    """A pay request stalls past the sweep's patience: the sweep finds no charge and gives the order back, and
    the owner cancels it. The sale and the order id."""
    world = pipe.world
    sale = make_sale(http, world, stock=1, payment_timeout_seconds=600)
    order_id = buy(http, world, sale["id"], user)
    wait_status(http, world, user, order_id, "created")
    with Db(world) as db:
        db.rows(
            "UPDATE orders SET status = 'paying', paying_since = NOW(3) - INTERVAL 60 SECOND WHERE id = %s",
            int(order_id),
        )
    wait_status(http, world, user, order_id, "created")  # the sweep gave it back: no charge was seen
    reply = http.post(f"/api/v1/orders/{order_id}/cancel", headers=world.headers(user))
    assert reply.status_code == 200 and reply.json()["status"] == "cancelled", reply.text
    return sale, order_id


def the_stalled_attempt_charges_now(pipe: Running, order_id: str, payments: type[FakePaymentProvider]) -> str:
    """The stalled attempt goes on (its charge lands) with this provider: the error code it ends with."""

    async def charge() -> str:
        async with open_container(pipe.world.settings) as c:
            async with c.db.transaction() as cur:
                order = await sql_orders.by_id(cur, int(order_id))
            assert order is not None
            try:
                await Orders(SqlStore(c.db), c.cache, payments(c.db), c.returns)._charge(order)
            except Conflict as exc:
                return exc.code
            except RuntimeError as exc:
                return str(exc)
        return "paid"

    return asyncio.run(charge())


def charge_status(pipe: Running, order_id: str) -> list[tuple[str]]:
    with Db(pipe.world) as db:
        return [tuple(r) for r in db.rows("SELECT status FROM fake_charges WHERE idempotency_key = %s", order_id)]


def test_a_charge_landing_after_the_order_was_given_back_and_cancelled_is_refunded(
    pipe: Running, http: httpx.Client
) -> None:
    """Then the stalled charge lands. It must be refunded: never charged and cancelled."""
    sale, order_id = stalled_then_cancelled(pipe, http, "stall")
    assert the_stalled_attempt_charges_now(pipe, order_id, FakePaymentProvider) == "order_cancelled"
    assert charge_status(pipe, order_id) == [("refunded",)]
    audit(pipe.world, sale["id"])


class DiesBeforeRefunding(FakePaymentProvider):
    """The real provider's ledger, but the process dies right after the charge, before it can refund."""

    async def refund(self, idempotency_key: str) -> None:
        raise RuntimeError("the process died before its refund")


def test_a_charge_kept_on_a_cancelled_order_by_a_crash_is_refunded_by_the_sweep_once(
    pipe: Running, http: httpx.Client
) -> None:
    """As above, but the stalled attempt dies after its charge landed and before its refund: the order is
    cancelled and charged. The sweep must refund that charge, once, and then forget the order."""
    sale, order_id = stalled_then_cancelled(pipe, http, "stall2")
    assert the_stalled_attempt_charges_now(pipe, order_id, DiesBeforeRefunding) == "the process died before its refund"
    assert charge_status(pipe, order_id) == [("succeeded",)]
    wait_until(
        lambda: charge_status(pipe, order_id) == [("refunded",)], 10, "the sweep to refund the cancelled order's charge"
    )
    with Db(pipe.world) as db:
        # Settled: the sweep forgets the order, so it is never refunded (or asked about) again.
        wait_until(
            lambda: db.value("SELECT COUNT(*) FROM payment_watch WHERE order_id = %s", int(order_id)) == 0,
            5,
            "the sweep to forget the settled order",
        )
        assert db.rows("SELECT status, cancel_reason FROM orders WHERE id = %s", int(order_id)) == [
            ("cancelled", "user")
        ]
    audit(pipe.world, sale["id"])
