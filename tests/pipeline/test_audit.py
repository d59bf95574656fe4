"""The audit is the oracle of many tests, so it must be able to fail: each invariant is broken in turn, on a sale
whose audit passed just before, and `flashsale audit` must exit 1 with FAIL on that invariant's line.

This module's world runs the relay and the order writers but no timeout worker, so nothing repairs an overdue
order or an unapplied stock return behind the test's back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from app.infrastructure.keys import SaleKeys
from tests.pipeline.harness import Db, Running, audit, audit_lines, buy, running_world, wait_all_written
from tests.support import make_sale


@pytest.fixture(scope="module")
def pipe() -> Iterator[Running]:
    with running_world(workers=("relay", "orders")) as run:
        yield run


@dataclass
class Sale:
    run: Running
    http: httpx.Client
    id: str
    orders: dict[str, str]  # user -> order id

    def sql(self, statement: str, *args: object) -> None:
        with Db(self.run.world) as db:
            db.rows(statement, *args)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.run.world.settings.redis_url)

    @property
    def keys(self) -> SaleKeys:
        return self.run.names.sale(int(self.id))


def break_stock_row(s: Sale) -> None:
    s.sql("UPDATE sales SET stock_left = stock_left - 1 WHERE id = %s", int(s.id))


def break_cached_stock(s: Sale) -> None:
    with s.redis() as r:
        r.hincrby(s.keys.meta, "stock_left", 1)


def break_allowances(s: Sale) -> None:
    with s.redis() as r:
        r.hincrby(s.keys.users, "u0", -1)


def break_per_user_limit(s: Sale) -> None:
    """u1's order becomes u0's: u0 holds 2 units of a limit-1 sale."""
    s.sql("UPDATE orders SET user_id = 'u0' WHERE id = %s", int(s.orders["u1"]))


def break_accepted_without_row(s: Sale) -> None:
    """An accepted reservation in the cache that never got its order row."""
    record = {"o": "9000000000000000001", "s": s.id, "u": "ghost", "q": 1, "a": 500, "c": 1, "x": 2, "e": 1, "k": ""}
    with s.redis() as r:
        r.hset(s.keys.res, "9000000000000000001", json.dumps(record))


def break_charged_and_cancelled(s: Sale) -> None:
    reply = s.http.post(f"/api/v1/orders/{s.orders['u1']}/cancel", headers=s.run.world.headers("u1"))
    assert reply.status_code == 200, reply.text
    s.sql(
        "INSERT INTO fake_charges (idempotency_key, amount_cents, status) VALUES (%s, 500, 'succeeded')",
        s.orders["u1"],
    )


def break_overdue(s: Sale) -> None:
    s.sql("UPDATE orders SET expires_at = NOW(3) - INTERVAL 10 SECOND WHERE id = %s", int(s.orders["u0"]))


def break_unapplied_return(s: Sale) -> None:
    """An order cancelled in the database whose stock return never reached the cache (the outbox row is old)."""
    s.sql(
        "UPDATE orders SET status = 'cancelled', cancel_reason = 'user', cancelled_at = NOW(3) WHERE id = %s",
        int(s.orders["u1"]),
    )
    s.sql("UPDATE sales SET stock_left = stock_left + 1 WHERE id = %s", int(s.id))
    s.sql(
        "INSERT INTO stock_returns (order_id, sale_id, user_id, quantity, cache_epoch, created_at) "
        "VALUES (%s, %s, 'u1', 1, 1, NOW(3) - INTERVAL 10 SECOND)",
        int(s.orders["u1"]),
        int(s.id),
    )


CASES: dict[str, tuple[Callable[[Sale], None], str, str]] = {
    # case: (how to break it, the line that must fail, what its detail must say)
    "stock row": (break_stock_row, "database_stock_row", "row stock_left 2, stock 5 - 2 units"),
    "cached stock": (break_cached_stock, "stock_conserved", "cache stock_left 4 + 2 units"),
    "allowances": (break_allowances, "allowances_match", "1 user(s)"),
    "per-user limit": (break_per_user_limit, "per_user_limit", "1 user(s) over the limit of 1"),
    "accepted without a row": (break_accepted_without_row, "accepted_orders_written", "1 of them without an order row"),
    "charged and cancelled": (break_charged_and_cancelled, "charged_xor_cancelled", "1 cancelled but charged"),
    "overdue order": (break_overdue, "timeouts_processed", "1 unpaid past expires_at"),
    "unapplied return": (break_unapplied_return, "timeouts_processed", "1 stock returns not applied"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_audit_fails_when_an_invariant_is_broken(pipe: Running, http: httpx.Client, case: str) -> None:
    breaker, check, detail = CASES[case]
    world = pipe.world
    sale = make_sale(http, world, stock=5, per_user_limit=1, payment_timeout_seconds=600)
    orders = {user: buy(http, world, sale["id"], user) for user in ("u0", "u1")}
    with Db(world) as db:
        wait_all_written(db, sale["id"], set(orders.values()), timeout=20)
    audit(world, sale["id"])  # holds before the break

    breaker(Sale(pipe, http, sale["id"], orders))
    result = world.cli("audit", sale["id"], check=False)
    lines = audit_lines(result.stdout)
    assert result.returncode == 1, result.stdout + result.stderr
    assert lines[check].startswith("FAIL"), result.stdout
    assert detail in lines[check], result.stdout
    assert f"audit of sale {sale['id']}: FAILED" in result.stdout
    if case == "unapplied return":  # a stock return not applied yet is on its way: not drained either
        assert lines["pipeline_drained"].startswith("FAIL"), result.stdout
        with pytest.raises(AssertionError, match="still draining"):
            audit(world, sale["id"], timeout=2)  # the harness waits for it, up to its timeout
    else:
        assert lines["pipeline_drained"].startswith("PASS"), result.stdout  # the failure is the break, not a lag
        with pytest.raises(AssertionError, match="pipeline drained"):
            audit(world, sale["id"])  # and the harness does not wait: the failure is final
