"""A flash sale under load, over real HTTP: 5,000 concurrent shoppers for 1,000 units (the API with two
worker processes), some of them retrying with the same Idempotency-Key and some buying twice as the same
user (per-user limit 1); 30% of the accepted orders pay, the rest time out. After the drain every invariant holds.

Prints the drain time (from the last 202 until every accepted order is in the database) and the rate."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest

from tests.pipeline.harness import Db, Running, audit, running_world, wait_until
from tests.support import make_sale

STOCK = 1_000
SHOPPERS = 5_000
TWICE = 500  # the first 500 shoppers are 250 users buying twice: the second purchase hits the limit
PAY_EVERY = (3, 10)  # 3 of every 10 accepted orders pay
# Short, yet longer than the burst takes on 2 shared cores (5-10 s): with 3 s most payers would find their
# window closed before their order is even written, and timeouts would resell units mid-burst.
PAYMENT_TIMEOUT = 10
# Every payer pays: an order is written within a fraction of a second of its 202 (measured here: p95 0.31 s,
# max 0.39 s under this load), far inside its 10 s window, so a payer still told `order_pending` or
# `order_expired` is a defect, not load.
TIMEOUT_BOUND_SECONDS = 2.0  # the contract: an unpaid order is cancelled within 2 s of expires_at
CONNECTIONS = 64  # the shoppers share the client's connections (more only adds overhead on 2 cores)
PAY_CONNECTIONS = 32
EXPECTED = {(202, "pending"), (409, "sold_out"), (409, "limit_exceeded")}


@pytest.fixture(scope="module")
def load() -> Iterator[Running]:
    with running_world(("all",), api_workers=2) as run:
        yield run


class Sampler(threading.Thread):
    """Counts the sale's order rows every 20 ms: when did the last accepted order reach the database?"""

    def __init__(self, run: Running, sale_id: str) -> None:
        super().__init__(daemon=True)
        self.db = Db(run.world)
        self.sale_id = sale_id
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.time(), self.db.count_orders(self.sale_id)))
            time.sleep(0.02)
        self.db.close()

    def first_reaching(self, count: int) -> float | None:
        return next((t for t, n in self.samples if n >= count), None)


async def test_flash_sale_under_load(load: Running, capsys: pytest.CaptureFixture[str]) -> None:
    world = load.world
    with load.client() as client:
        sale = make_sale(client, world, stock=STOCK, per_user_limit=1, payment_timeout_seconds=PAYMENT_TIMEOUT)
    sale_id = sale["id"]
    url = f"{load.base}/api/v1/sales/{sale_id}/purchase"
    users = [f"u{i // 2}" if i < TWICE else f"u{i}" for i in range(SHOPPERS)]
    tokens = {user: world.token(user) for user in set(users)}

    accepted: dict[str, str] = {}  # order id -> user
    replies: Counter[tuple[int, str]] = Counter()
    replay_mismatch: list[str] = []
    pay_results: Counter[str] = Counter()
    paid_ids: set[int] = set()
    accepted_at: dict[str, float] = {}  # order id -> when its first 202 arrived
    sampler = Sampler(load, sale_id)

    async def post(session: aiohttp.ClientSession, path: str, user: str, key: str | None = None) -> tuple:
        headers = {"Authorization": f"Bearer {tokens[user]}"} | ({"Idempotency-Key": key} if key else {})
        async with session.post(path, headers=headers) as reply:
            body = await reply.json()
        if reply.status == 202:
            accepted_at.setdefault(body["order_id"], time.time())
        return reply.status, body

    async def pay(user: str, order_id: str) -> None:
        """Pay as soon as the order is written (`order_pending` until then), from the payer's own connection
        (a pay must not queue behind the crowd's purchases in the test client)."""
        deadline = time.monotonic() + PAYMENT_TIMEOUT
        while True:
            status, body = await post(pay_session, f"{load.base}/api/v1/orders/{order_id}/pay", user)
            if status == 409 and body["error"] == "order_pending" and time.monotonic() < deadline:
                await asyncio.sleep(0.25)  # about what Retry-After asks, without flooding the API
                continue
            pay_results[body.get("status") if status == 200 else f"{status} {body.get('error')}"] += 1
            if status == 200:
                paid_ids.add(int(order_id))
            return

    async def shopper(session: aiohttp.ClientSession, i: int, start: asyncio.Event) -> None:
        user = users[i]
        key = f"key-{i}" if i % 10 == 0 else None  # every tenth shopper retries with its key
        await start.wait()
        concurrent = key is not None and i % 20 == 0  # half of them send the retry with the first try
        if concurrent:
            outcomes = await asyncio.gather(post(session, url, user, key), post(session, url, user, key))
        else:
            outcomes = [await post(session, url, user, key)]
            if key:
                outcomes.append(await post(session, url, user, key))
        status, body = next(((s, b) for s, b in outcomes if s == 202), outcomes[0])
        for s, b in outcomes:
            replies[(s, b.get("status") or b.get("error"))] += 1
        # Two 202s for one key name one order, and a key accepted once is replayed. (A rejected try may be
        # followed by an accepted one: a timeout returned a unit in between; two tries sent together may
        # be decided in either order.)
        accepted_ids = {b["order_id"] for s, b in outcomes if s == 202}
        sequential_replay_refused = (
            key is not None and not concurrent and outcomes[0][0] == 202 and outcomes[1][0] != 202
        )
        if len(accepted_ids) > 1 or sequential_replay_refused:
            replay_mismatch.append(f"shopper {i}: {outcomes}")
        if status != 202:
            return
        accepted[body["order_id"]] = user
        if len(accepted) % PAY_EVERY[1] < PAY_EVERY[0]:
            await pay(user, body["order_id"])

    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=60)
    pay_connector = aiohttp.TCPConnector(limit=PAY_CONNECTIONS)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        aiohttp.ClientSession(connector=pay_connector, timeout=timeout) as pay_session,
    ):
        start = asyncio.Event()
        tasks = [asyncio.create_task(shopper(session, i, start)) for i in range(SHOPPERS)]
        sampler.start()
        began = time.time()
        start.set()
        await asyncio.gather(*tasks)
        ended = time.time()

    db = Db(world)
    try:
        wait_until(lambda: db.count_orders(sale_id) >= len(accepted), 60, "every accepted order to be written")
        sampler.done.set()
        sampler.join(5)
        all_written = sampler.first_reaching(len(accepted)) or time.time()
        first_202, last_202 = min(accepted_at.values()), max(accepted_at.values())
        drain = max(0.0, all_written - last_202)
        lags = sorted(
            float(lag) / 1000
            for (lag,) in db.rows(
                "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, written_at) / 1000 FROM orders WHERE sale_id = %s",
                int(sale_id),
            )
        )
        with capsys.disabled():
            print(
                f"\nload: {SHOPPERS} shoppers in {ended - began:.2f}s ({SHOPPERS / (ended - began):.0f} purchases/s "
                f"incl. retries and pays); {len(accepted)} accepted; drain {drain * 1000:.0f} ms after the last "
                f"202; {len(accepted) / max(all_written - first_202, 1e-3):.0f} orders/s written "
                f"(first 202 to last row); accepted-to-written p50 {lags[len(lags) // 2]:.2f}s "
                f"p95 {lags[int(len(lags) * 0.95)]:.2f}s max {lags[-1]:.2f}s; replies {dict(replies)}; "
                f"pays {dict(pay_results)}"
            )

        assert set(replies) <= EXPECTED, f"unexpected replies: {replies}"
        assert replies[(409, "limit_exceeded")] > 0, "nobody hit the per-user limit: the test lost its point"
        assert not replay_mismatch, replay_mismatch[:5]
        # Every unit sold (more if a unit came back from a timeout while shoppers were still buying).
        assert len(accepted) >= STOCK, f"{len(accepted)} accepted for {STOCK} units"
        assert set(accepted_at) == set(accepted), "a 202 named an order that no shopper holds"
        payers = sum(pay_results.values())
        assert payers == sum(1 for k in range(1, len(accepted) + 1) if k % PAY_EVERY[1] < PAY_EVERY[0])
        assert pay_results == Counter({"paid": payers}), f"not every payer made it: {pay_results}"

        # Every unpaid order times out (within expires_at + 2 s), and its unit comes back.
        def settled() -> bool:
            open_orders = db.value(
                "SELECT COUNT(*) FROM orders WHERE sale_id = %s AND status IN ('created', 'paying')", int(sale_id)
            )
            return open_orders == 0

        wait_until(settled, PAYMENT_TIMEOUT + 20, "every unpaid order to time out", interval=0.2)
        timeout_lag = float(
            db.value(
                "SELECT MAX(TIMESTAMPDIFF(MICROSECOND, expires_at, cancelled_at)) / 1000000 FROM orders "
                "WHERE sale_id = %s AND cancel_reason = 'timeout'",
                int(sale_id),
            )
        )
        with capsys.disabled():
            print(f"timeouts: the last unpaid order was cancelled {timeout_lag:.2f}s after its expires_at")
        assert timeout_lag <= TIMEOUT_BOUND_SECONDS, f"a timeout was processed {timeout_lag:.2f}s late"
        rows = db.order_rows(sale_id)
        assert set(rows) == {int(o) for o in accepted}, "the order rows are not exactly the accepted orders"
        assert db.value("SELECT COUNT(*) FROM orders WHERE sale_id = %s", int(sale_id)) == len(accepted)
        statuses = Counter((status, reason) for status, reason, _u, _q in rows.values())
        assert {o for o, (status, *_r) in rows.items() if status == "paid"} == paid_ids, "paid != answered 200"
        expected = Counter({("paid", None): len(paid_ids), ("cancelled", "timeout"): len(accepted) - len(paid_ids)})
        assert statuses == expected, statuses
        assert all(rows[int(o)][2] == user for o, user in accepted.items())

        stock, stock_left, limit = db.sale_row(sale_id)
        taken = sum(q for status, _r, _u, q in rows.values() if status != "cancelled")
        assert stock == stock_left + taken, (stock, stock_left, taken)
        with load.client() as client:
            cached = wait_until(
                lambda: client.get(f"/api/v1/sales/{sale_id}").json()["stock_left"] == stock - taken,
                10,
                "the cache to count every returned unit",
            )
            assert cached
        holders = Counter()
        for status, _r, user, quantity in rows.values():
            if status != "cancelled":
                holders[user] += quantity
        assert not [u for u, q in holders.items() if q > limit], "a user holds more than the limit"
        charged_and_cancelled = db.value(
            "SELECT COUNT(*) FROM orders o JOIN fake_charges c ON c.idempotency_key = CAST(o.id AS CHAR) "
            "WHERE o.sale_id = %s AND o.status = 'cancelled'",
            int(sale_id),
        )
        assert charged_and_cancelled == 0
        with capsys.disabled():
            print(audit(world, sale_id, timeout=40))
    finally:
        sampler.done.set()
        db.close()
