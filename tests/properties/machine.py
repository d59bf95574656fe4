"""The order state machine: random interleavings of purchases (with and without an Idempotency-Key, one to three
units), retries with the same key, pay, cancel, a payment deadline passing, stock changes, pause and resume,
preheat (of a loaded sale, and after the cache was lost), against the real API and workers. After every step
the contract's invariants are checked against the database, the cache and the API (`contract_holds`).

One example is one new sale with a short payment window, so deadlines pass during the run as well as in the
step that waits for one. The class is bound to a running world by `bind` before Hypothesis runs it."""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.pipeline.harness import Running, parse_time
from tests.properties.model import EPSILON, ModelOrder, SaleModel
from tests.properties.observe import CacheView, DbView, Stores
from tests.support import make_sale

V1 = "/api/v1"
USERS = st.sampled_from(["ann", "ben", "cat"])
KEYS = st.sampled_from(["k0", "k1", "k2"])
INDEX = st.integers(0, 63)  # which of the orders (or keys) a step acts on, see `pick`
SETTLE_SECONDS = 20  # the pipeline drains in well under a second here; this bound only turns a hang into a failure
TIMEOUT_SECONDS = 10  # past a deadline, the timeout worker cancels within 2 s (the contract); this is the bound


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` and the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def logged(step: Callable[..., Any]) -> Callable[..., Any]:
    """Record each step with its arguments; a failure names the steps of its example so far (a replay of a
    failing example need not fail again: the system's timing is not Hypothesis' to replay)."""

    @functools.wraps(step)
    def run(self: OrderMachine, **kwargs: Any) -> Any:
        self.seen[f"step {step.__name__}"] += 1
        self.steps.append(f"{step.__name__}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})")
        try:
            return step(self, **kwargs)
        except AssertionError as exc:
            self.failed = True  # the teardown's checks would only hide this failure
            raise AssertionError(f"{exc}\nsteps of this example:\n  " + "\n  ".join(self.steps)) from None

    return run


def pick(items: list[Any], index: int) -> Any:
    """One of `items` by a drawn index (a draw of the same size whatever the system did: Hypothesis replays
    an example by its draws, and a rule's choices must not depend on what the real services answered)."""
    return items[index % len(items)] if items else None


def error_code(reply: httpx.Response) -> str:
    body = reply.json()
    assert isinstance(body.get("message"), str) and body["message"], reply.text
    return str(body["error"])


class OrderMachine(RuleBasedStateMachine):
    run: Running
    http: httpx.Client
    stores: Stores
    sales: list[str]
    seen: Counter[str]
    flag_seconds: float

    @classmethod
    def bind(cls, run: Running, http: httpx.Client, stores: Stores, sales: list[str], seen: Counter[str]) -> None:
        cls.run, cls.http, cls.stores, cls.sales, cls.seen = run, http, stores, sales, seen
        cls.flag_seconds = run.world.settings.sold_out_flag_seconds

    def __init__(self) -> None:
        super().__init__()
        self.m: SaleModel | None = None
        self.steps: list[str] = []
        self.failed = False

    @property
    def model(self) -> SaleModel:
        assert self.m is not None
        return self.m

    def headers(self, user: str, admin: bool = False) -> dict[str, str]:
        return self.run.world.headers(user, admin=admin)

    # --- steps ----------------------------------------------------------------------------------------------

    @initialize(stock=st.integers(1, 8), limit=st.integers(1, 4), window=st.sampled_from([2, 3]))
    @logged
    def open_sale(self, stock: int, limit: int, window: int) -> None:
        sale = make_sale(self.http, self.run.world, stock=stock, per_user_limit=limit, payment_timeout_seconds=window)
        self.m = SaleModel(sale["id"], stock, limit, window)
        self.sales.append(sale["id"])

    @rule(user=USERS, quantity=st.integers(1, 3))
    @logged
    def purchase(self, user: str, quantity: int) -> None:
        self._purchase(user, quantity, None)

    @rule(user=USERS, quantity=st.integers(1, 3), key=KEYS)
    @logged
    def purchase_with_key(self, user: str, quantity: int, key: str) -> None:
        """A key this user has had accepted is a retry; one never accepted is a new purchase."""
        self._purchase(user, quantity, key)

    @rule(index=INDEX, same_quantity=st.booleans())
    @logged
    def retry(self, index: int, same_quantity: bool) -> None:
        """A purchase again with a key that was accepted (the same 202), or with another quantity (422)."""
        m = self.model
        picked = pick(sorted(m.keys), index)
        if picked is None:
            return
        user, key = picked
        known = m.orders[m.keys[(user, key)]]
        self._purchase(user, known.quantity if same_quantity else known.quantity % 3 + 1, key)

    def _purchase(self, user: str, quantity: int, key: str | None) -> str | None:
        m = self.model
        headers = self.headers(user) | ({"Idempotency-Key": key} if key else {})
        sent = time.time()
        reply = self.http.post(f"{V1}/sales/{m.sale_id}/purchase", json={"quantity": quantity}, headers=headers)
        received = time.time()
        allowed = m.purchase_outcomes(user, quantity, key, received)
        if reply.status_code == 202:
            outcome = "replay" if key is not None and (user, key) in m.keys else "accepted"
        else:
            outcome = error_code(reply)
        self.seen[f"purchase {outcome}"] += 1
        assert outcome in allowed, (
            f"purchase by {user} of {quantity} (key {key}) answered {reply.status_code} {reply.text}; the model "
            f"allows {sorted(allowed)} (stock {m.stock}, left {m.left(received)}, held {m.held(user, received)}, "
            f"limit {m.limit}, paused {m.paused})"
        )
        expected_status = {"paused": 409, "sold_out": 409, "limit_exceeded": 409, "insufficient_stock": 409}
        if outcome in expected_status:
            assert reply.status_code == expected_status[outcome], reply.text
        if outcome == "idempotency_key_reused":
            assert reply.status_code == 422, reply.text
        if outcome == "sold_out":
            m.sold_out_flag_until = received + self.flag_seconds + 0.5
        if outcome == "replay":
            assert key is not None
            assert reply.json() == m.orders[m.keys[(user, key)]].body, "a replay must return the same 202 body"
        if outcome != "accepted":
            return None
        body = reply.json()
        assert set(body) == {"order_id", "status"} and body["status"] == "pending", body
        order_id = str(body["order_id"])
        assert order_id not in m.orders, f"order id {order_id} given to two purchases"
        m.orders[order_id] = ModelOrder(order_id, user, quantity, key, body, sent, received, m.window)
        if key is not None:
            m.keys[(user, key)] = order_id
        if m.left(received).lo <= 0:  # the last unit went: the API's processes may mark the sale sold out
            m.sold_out_flag_until = received + self.flag_seconds + 0.5
        return order_id

    @rule(index=INDEX)
    @logged
    def pay(self, index: int) -> None:
        o = pick(sorted(self.model.orders.values(), key=lambda x: x.id), index)
        if o is None:
            return
        order_id = o.id
        sent = time.time()
        reply = self.http.post(f"{V1}/orders/{order_id}/pay", headers=self.headers(o.user))
        received = time.time()
        if reply.status_code == 200:
            body = reply.json()
            self.seen["pay paid"] += 1
            assert body["status"] == "paid" and body["paid_at"], body
            assert o.status != "cancelled", f"order {order_id} was cancelled, then paid: {body}"
            assert o.paid_at in (None, body["paid_at"]), "paying a paid order again must change nothing"
            o.expires_at = parse_time(body["expires_at"])
            if o.paid_at is None:
                assert not o.closed_at(sent), f"order {order_id} paid after its deadline: {body}"
            o.observe("paid", None, "pay")
            o.paid_at = body["paid_at"]
            return
        code = error_code(reply)
        self.seen[f"pay {code}"] += 1
        assert reply.status_code == 409, reply.text
        if code == "order_pending":
            assert o.status == "pending" and reply.headers.get("Retry-After") == "1", (o.status, reply.headers)
        elif code == "order_expired":
            assert o.paid_at is None and o.status != "cancelled" and not o.open_at(received), (o, reply.text)
        elif code == "order_cancelled":
            assert o.paid_at is None and (o.status == "cancelled" or not o.open_at(received)), (o, reply.text)
        else:
            raise AssertionError(f"pay of order {order_id} ({o.status}) answered {reply.status_code} {reply.text}")

    @rule(index=INDEX)
    @logged
    def cancel(self, index: int) -> None:
        o = pick(sorted(self.model.orders.values(), key=lambda x: x.id), index)
        if o is None:
            return
        order_id = o.id
        sent = time.time()
        reply = self.http.post(f"{V1}/orders/{order_id}/cancel", headers=self.headers(o.user))
        received = time.time()
        if reply.status_code == 200:
            body = reply.json()
            reason = body["cancel_reason"]
            self.seen[f"cancel {reason}"] += 1
            assert body["status"] == "cancelled" and o.paid_at is None, (o, body)
            if o.status == "cancelled":
                assert reason == o.reason, f"cancelling a cancelled order again changed its reason: {body}"
            elif reason == "user":
                assert not o.closed_at(sent), f"order {order_id} cancelled by its user after its deadline: {body}"
                o.cancelled_by_us = True
                o.returned = True  # the cancel returns the units before it answers
            else:
                assert reason == "timeout" and not o.open_at(received), (o, body)
            o.observe("cancelled", reason, "cancel")
            return
        code = error_code(reply)
        self.seen[f"cancel {code}"] += 1
        assert reply.status_code == 409, reply.text
        if code == "order_pending":
            assert o.status == "pending" and reply.headers.get("Retry-After") == "1", (o.status, reply.headers)
        elif code == "order_paid":
            assert o.paid_at is not None, f"cancel of unpaid order {order_id} answered order_paid"
        else:
            raise AssertionError(f"cancel of order {order_id} ({o.status}) answered {reply.status_code} {reply.text}")

    @rule(index=INDEX)
    @logged
    def let_a_deadline_pass(self, index: int) -> None:
        """Wait out one open order's payment deadline: the timeout worker cancels it (reason `timeout`) and its
        units come back once."""
        m = self.model
        o = pick(sorted(m.open_orders(), key=lambda x: x.id), index)
        if o is None:
            return
        time.sleep(max(0.0, o.latest_deadline + EPSILON - time.time()))

        def cancelled() -> DbView | None:
            view = self.stores.db(m.sale_id)
            row = view.orders.get(o.id)
            return view if row and row.status == "cancelled" and view.returns.get(o.id) else None

        view = wait_for(cancelled, TIMEOUT_SECONDS, f"order {o.id} to be cancelled by timeout and its stock returned")
        row = view.orders[o.id]
        assert row.reason == "timeout", f"order {o.id} left unpaid ended {row.status} ({row.reason})"
        o.observe(row.status, row.reason, "database")
        o.returned = True
        self.seen["timeout"] += 1

    @rule(delta=st.integers(-4, 4))
    @logged
    def change_stock(self, delta: int) -> None:
        m = self.model
        new_stock = max(1, m.stock + delta)
        reply = self.http.patch(f"{V1}/sales/{m.sale_id}", json={"stock": new_stock}, headers=self.headers("op", True))
        received = time.time()
        allowed = m.stock_change_outcomes(new_stock, received)
        outcome = "ok" if reply.status_code == 200 else error_code(reply)
        self.seen[f"stock {outcome}"] += 1
        assert outcome in allowed, (
            f"stock {m.stock} -> {new_stock} answered {reply.status_code} {reply.text}; the model allows "
            f"{sorted(allowed)} (left {m.left(received)})"
        )
        if outcome == "ok":
            assert reply.json()["stock"] == new_stock and reply.json()["paused"] == m.paused, reply.text
            m.stock = new_stock
        else:
            assert reply.status_code == 409, reply.text

    @rule(paused=st.booleans())
    @logged
    def pause_or_resume(self, paused: bool) -> None:
        m = self.model
        reply = self.http.patch(f"{V1}/sales/{m.sale_id}", json={"paused": paused}, headers=self.headers("op", True))
        assert reply.status_code == 200, reply.text
        assert reply.json()["paused"] is paused and reply.json()["stock"] == m.stock, reply.text
        m.paused = paused
        self.seen["paused" if paused else "resumed"] += 1

    @rule()
    @logged
    def preheat(self) -> None:
        """Preheating a loaded sale changes nothing."""
        m = self.model
        before = self.stores.cache(m.sale_id)
        reply = self.http.post(f"{V1}/sales/{m.sale_id}/preheat", headers=self.headers("op", True))
        assert reply.status_code == 200 and reply.json()["preheated"] is True, reply.text
        after = self.stores.cache(m.sale_id)
        assert (after.stock, after.paused, after.epoch) == (before.stock, before.paused, before.epoch), (before, after)
        # only a stock return landing meanwhile may raise it
        assert after.stock_left >= before.stock_left, f"a preheat of a loaded sale took stock: {before} -> {after}"
        self.seen["preheat loaded"] += 1

    @rule(user=USERS)
    @logged
    def lose_the_cache_and_preheat(self, user: str) -> None:
        """The sale's cache is lost: purchases answer 503 `not_ready` until a preheat, which waits for the orders
        on their way, loads it again from the database."""
        m = self.model
        self.stores.lose_cache(m.sale_id)
        reply = self.http.post(f"{V1}/sales/{m.sale_id}/purchase", headers=self.headers(user))
        code = error_code(reply)
        allowed = {"paused"} if m.paused else {"not_ready"}
        if time.time() < m.sold_out_flag_until:
            allowed.add("sold_out")
        assert code in allowed, f"a purchase of a sale whose cache is lost answered {reply.text}; allowed {allowed}"
        if code == "not_ready":
            assert reply.status_code == 503 and reply.headers.get("Retry-After"), (reply.headers, reply.text)
        counted: set[str] = set()

        def loaded() -> bool:
            # Orders cancelled before the preheat reads the database are counted as returned by the reload.
            counted.clear()
            counted.update(self.stores.db(m.sale_id).cancelled())
            reply = self.http.post(f"{V1}/sales/{m.sale_id}/preheat", headers=self.headers("op", True))
            if reply.status_code == 503:
                assert error_code(reply) == "not_ready", reply.text
                return False
            assert reply.status_code == 200 and reply.json()["preheated"] is True, reply.text
            return True

        wait_for(loaded, SETTLE_SECONDS, "the preheat after a cache loss to succeed", interval=0.1)
        for order_id in counted:
            m.orders[order_id].returned = True
        self.seen["preheat reloaded"] += 1

    @rule()
    @logged
    def settle(self) -> None:
        self._settle()

    def _settle(self) -> None:
        """Wait (bounded) until nothing of the sale is on its way, then the books must balance exactly: every
        202 is an order row, stock = left + units in orders not cancelled, each allowance = the user's units."""
        m = self.model
        snapshot: list[Any] = []

        def quiet() -> bool:
            d1, c, d2 = self.stores.db(m.sale_id), self.stores.cache(m.sale_id), self.stores.db(m.sale_id)
            snapshot[:] = [d1, c, d2]
            return (
                set(m.orders) <= set(d1.orders)
                and d1.in_flight == 0
                and c.handoff == 0
                and c.reservations == 0
                and all(d1.returns.values())
                and (d1.orders, d1.returns) == (d2.orders, d2.returns)
            )

        try:
            wait_for(quiet, SETTLE_SECONDS, "the sale's pipeline to drain")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last reads (database, cache, database): {snapshot}") from None
        d1, c, _ = snapshot
        extra = set(d1.orders) - set(m.orders)
        assert not extra, f"order rows nobody got a 202 for: {sorted(extra)}"
        live = [(oid, row) for oid, row in d1.orders.items() if row.status != "cancelled"]
        assert c.stock_left == m.stock - sum(row.quantity for _, row in live), (
            f"stock not conserved: stock {m.stock}, cache left {c.stock_left}, units in orders not cancelled "
            f"{sum(row.quantity for _, row in live)}"
        )
        for user in {o.user for o in m.orders.values()} | set(c.users):
            units = sum(row.quantity for _, row in live if row.user == user)
            assert c.users.get(user, 0) == units, f"{user}: cached allowance {c.users.get(user)} != {units} units"
        for oid, row in d1.orders.items():
            m.orders[oid].observe(row.status, row.reason, "database")
            if row.status == "cancelled":
                m.orders[oid].returned = True
        self.seen["settled"] += 1

    def teardown(self) -> None:
        if self.m is not None and not self.failed:
            self.steps.append("teardown: settle")
            try:
                self._settle()
            except AssertionError as exc:
                raise AssertionError(f"{exc}\nafter the steps:\n  " + "\n  ".join(self.steps)) from None

    # --- the invariants, after every step ------------------------------------------------------------------

    @invariant()
    def contract_holds(self) -> None:
        if self.m is None:
            return
        try:
            self._check_all()
        except AssertionError as exc:
            self.failed = True
            raise AssertionError(f"{exc}\nafter the steps:\n  " + "\n  ".join(self.steps)) from None

    def _check_all(self) -> None:
        m = self.model
        d1 = self.stores.db(m.sale_id)
        c = self.stores.cache(m.sale_id)
        d2 = self.stores.db(m.sale_id)
        read_at = time.time()
        for d in (d1, d2):
            self._check_database(d, read_at)
        self._check_cache(c, d1, d2)
        for oid, row in d2.orders.items():
            o = m.orders[oid]
            o.observe(row.status, row.reason, "database")
            o.expires_at = row.expires_at
        self._check_api(c)
        for oid, applied in d1.returns.items():
            if applied:  # released in the cache before the database marked it, so before the cache was read
                m.orders[oid].returned = True

    def _check_database(self, d: DbView, read_at: float) -> None:
        m = self.model
        assert (d.stock, d.limit, d.paused) == (m.stock, m.limit, m.paused), (d.stock, d.limit, d.paused, m)
        extra = set(d.orders) - set(m.orders)
        assert not extra, f"order rows nobody got a 202 for: {sorted(extra)}"
        live = 0
        per_user: Counter[str] = Counter()
        for oid, row in d.orders.items():
            o = m.orders[oid]
            assert (row.user, row.quantity, row.key) == (o.user, o.quantity, o.key), (row, o)
            assert row.expires_at >= o.sent_at + m.window - EPSILON, f"order {oid} expires early: {row}"
            assert row.expires_at <= o.received_at + m.window + EPSILON, f"order {oid} expires late: {row}"
            assert (row.charge == "succeeded") is (row.status == "paid"), f"order {oid} {row.status}, charge {row}"
            assert (oid in d.returns) is (row.status == "cancelled"), f"order {oid} {row.status}, stock return?"
            if row.status == "cancelled" and row.reason == "timeout":
                assert row.expires_at <= read_at + EPSILON, f"order {oid} timed out before its deadline: {row}"
            if row.status != "cancelled":
                live += row.quantity
                per_user[row.user] += row.quantity
        assert d.stock_left == d.stock - live, f"sale row: stock_left {d.stock_left}, stock {d.stock}, sold {live}"
        assert live <= d.stock, f"oversold in the database: {live} units of {d.stock}"
        over = {u: q for u, q in per_user.items() if q > m.limit}
        assert not over, f"over the per-user limit {m.limit} in the database: {over}"
        keyed = [(row.user, row.key) for row in d.orders.values() if row.key is not None]
        assert len(keyed) == len(set(keyed)), f"two orders for one idempotency key: {sorted(keyed)}"
        for (user, key), oid in m.keys.items():
            if oid in d.orders:
                assert d.orders[oid].key == key and d.orders[oid].user == user

    def _check_cache(self, c: CacheView, d1: DbView, d2: DbView) -> None:
        """Read between two database snapshots: the cache holds stock - units taken + units returned, where
        every return it surely has (d1, or answered by a cancel) is in, and nothing not cancelled by d2 is."""
        m = self.model
        assert c.loaded, "the sale's cache is not loaded"
        assert (c.stock, c.paused) == (m.stock, m.paused), (c, m.stock, m.paused)
        assert c.stock_left >= 0, c
        cancelled = d2.cancelled()
        surely = {oid for oid, o in m.orders.items() if o.returned} | {oid for oid, ok in d1.returns.items() if ok}
        assert surely <= cancelled, f"returned but not cancelled: {sorted(surely - cancelled)}"

        def units(orders: set[str], user: str | None = None) -> int:
            return sum(m.orders[o].quantity for o in orders if user is None or m.orders[o].user == user)

        every = set(m.orders)
        lo, hi = m.stock - units(every) + units(surely), m.stock - units(every) + units(cancelled)
        assert lo <= c.stock_left <= hi, (
            f"cached stock_left {c.stock_left} outside [{lo}, {hi}]: stock {m.stock}, {units(every)} units "
            f"accepted, {units(surely)} surely returned, {units(cancelled)} cancelled"
        )
        assert units(every) - units(cancelled) <= m.stock, "oversold: more units in orders not cancelled than stock"
        for user in {o.user for o in m.orders.values()} | set(c.users):
            held = c.users.get(user, 0)
            lo, hi = units(every, user) - units(cancelled, user), units(every, user) - units(surely, user)
            assert lo <= held <= hi, f"{user}: cached allowance {held} outside [{lo}, {hi}]"
            assert lo <= m.limit, f"{user} holds {lo} units in orders not cancelled, over the limit {m.limit}"
            assert held <= m.limit, f"{user}: cached allowance {held} over the limit {m.limit}"

    def _check_api(self, c: CacheView) -> None:
        """What clients see: the sale as the model has it, and every 202's order in its owner's list."""
        m = self.model
        sale = self.http.get(f"{V1}/sales/{m.sale_id}").json()
        assert (sale["stock"], sale["paused"], sale["preheated"]) == (m.stock, m.paused, True), sale
        assert c.stock_left <= sale["stock_left"] <= m.stock, (c.stock_left, sale)  # returns only raise it
        for user in sorted({o.user for o in m.orders.values()}):
            reply = self.http.get(
                f"{V1}/orders", params={"sale_id": m.sale_id, "limit": 100}, headers=self.headers(user)
            )
            assert reply.status_code == 200, reply.text
            listed = {o["id"]: o for o in reply.json()["items"]}
            mine = {oid for oid, o in m.orders.items() if o.user == user}
            assert set(listed) == mine, f"{user}'s orders: listed {sorted(listed)}, accepted {sorted(mine)}"
            for oid, found in listed.items():
                o = m.orders[oid]
                assert (found["quantity"], found["user_id"]) == (o.quantity, user), found
                o.observe(found["status"], found["cancel_reason"], "GET /orders")
