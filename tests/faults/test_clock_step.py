"""A clock step back on the API host, and the order-id generator's rule: a step of up to 1 s is waited out (the
purchases are answered late, with ids that never repeat); beyond it, minting stops (503 `unavailable`, nothing
reserved) until the clock has caught up.

The generator reads the wall clock through the function its constructor takes; here that is the real clock
plus a step the test sets, so the real generator, node lease, routes and error mapping run against the real
Redis, database and workers. No hook in the production code: the step cannot be put into the API process
itself (it reads the host's clock), so the purchases go through the same routes in this process."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware

from app.api.app import ROUTES
from app.api.errors import HANDLERS
from app.api.middleware import BodyLimit, Metrics
from app.application.purchase import Limits, RedisPurchase
from app.bootstrap import Container, open_container
from app.config import Settings
from app.domain.errors import Unavailable
from app.infrastructure.idgen import IdGenerator, NodeLease
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts
from app.infrastructure.redis_client import make_redis
from tests.faults.report import report, tally
from tests.pipeline.harness import Db, audit, handoff_length, running_world, wait_all_written, wait_until
from tests.support import make_sale


class SteppedClock:
    """The wall clock in milliseconds, stepped by `step(ms)` (negative: back)."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms

    def step(self, ms: int) -> None:
        self.offset_ms += ms


async def test_the_generator_waits_out_a_short_step_and_refuses_a_long_one() -> None:
    redis = make_redis(Settings.from_env(require_secret=False).redis_url, 4)
    names = Names(f"t{secrets.token_hex(3)}")
    lease = NodeLease(redis, Scripts.register(redis), names, lease_seconds=30)
    node = await lease.acquire()
    try:
        clock = SteppedClock()
        ids = IdGenerator(lease, clock_ms=clock)
        first = await ids.next_id()
        clock.step(-600)
        began = time.monotonic()
        second = await ids.next_id()
        waited = time.monotonic() - began
        assert second > first and waited >= 0.5, (first, second, waited)  # minted only once caught up
        clock.step(-1500)
        try:
            await ids.next_id()
            raise AssertionError("an id was minted 1.5 s back in time")
        except Unavailable as exc:
            assert "clock stepped back" in str(exc)
        await asyncio.sleep(1.6)  # the clock catches up with the last id minted
        assert await ids.next_id() > second
    finally:
        await redis.delete(names.node_lease(node))
        await redis.aclose()


def purchase_app(container: Container) -> Starlette:
    """The API's routes, error handlers and middleware around a container (no lifespan: it is open already)."""
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(Metrics, routes=ROUTES), Middleware(BodyLimit)],
        exception_handlers=HANDLERS,
    )
    app.state.container = container
    return app


QUANTITY = 4
STOCK = 1000


async def buy_all(
    client: httpx.AsyncClient, token_of: Callable[[str], str], sale_id: str, users: list[str]
) -> dict[str, tuple[int, str, float]]:
    """Concurrent purchases of QUANTITY units: user -> (status, order id or error code, seconds taken)."""
    gate = asyncio.Semaphore(16)

    async def one(user: str) -> tuple[str, tuple[int, str, float]]:
        async with gate:
            began = time.monotonic()
            reply = await client.post(
                f"/api/v1/sales/{sale_id}/purchase",
                headers={"Authorization": f"Bearer {token_of(user)}"},
                json={"quantity": QUANTITY},
            )
            body = reply.json()
            return user, (reply.status_code, body.get("order_id") or body.get("error"), time.monotonic() - began)

    return dict(await asyncio.gather(*(one(u) for u in users)))


def test_purchases_across_clock_steps() -> None:
    with running_world(workers=("relay", "orders")) as run, Db(run.world) as db:
        world = run.world
        with run.client() as client:
            sale = make_sale(client, world, stock=STOCK, per_user_limit=QUANTITY, payment_timeout_seconds=600)
        clock = SteppedClock()
        moments: list[float] = []  # the long step, the start of the purchases after it

        async def phases() -> list[dict[str, tuple[int, str, float]]]:
            async with open_container(world.settings, mint_ids=True) as c:
                assert c.lease is not None and isinstance(c.purchase, RedisPurchase)
                s = world.settings
                limits = Limits(s.rate_limit_user, s.rate_limit_address, s.handoff_backlog_max, s.orders_per_user_max)
                c.purchase = RedisPurchase(c.db, c.cache, IdGenerator(c.lease, clock_ms=clock), c.flags, limits)
                transport = httpx.ASGITransport(app=purchase_app(c))
                async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=30) as client:
                    done = [await buy_all(client, world.token, sale["id"], [f"c0-{i}" for i in range(60)])]
                    clock.step(-700)  # waited out
                    done.append(await buy_all(client, world.token, sale["id"], [f"c1-{i}" for i in range(60)]))
                    clock.step(-1500)  # beyond the rule: refused
                    moments.append(time.monotonic())
                    done.append(await buy_all(client, world.token, sale["id"], [f"c2-{i}" for i in range(30)]))
                    await asyncio.sleep(1.6)  # caught up: minting again
                    moments.append(time.monotonic())
                    done.append(await buy_all(client, world.token, sale["id"], [f"c3-{i}" for i in range(60)]))
                    return done

        before, short, long, after = asyncio.run(phases())
        assert all(status == 202 for status, _v, _s in [*before.values(), *short.values(), *after.values()])
        # The short step was waited out: the first purchases after it were answered only once the clock caught up.
        assert max(seconds for _st, _v, seconds in short.values()) >= 0.6
        assert {(status, value) for status, value, _s in long.values()} == {(503, "unavailable")}
        accepted = {value for phase in (before, short, after) for _st, value, _s in phase.values()}
        assert len(accepted) == 180, "an order id was minted twice"

        wait_until(lambda: handoff_length(world, sale["id"]) == 0, 30, "the hand-off to drain")
        rows = wait_all_written(db, sale["id"], accepted, timeout=30)
        refused_users = set(long)
        assert not {user for _status, _r, user, _q in rows.values()} & refused_users, "a refused purchase reserved"
        stock, left, _limit = db.sale_row(sale["id"])
        assert left == stock - QUANTITY * len(accepted)
        audit(world, sale["id"], accepted=accepted)
        notes = (
            "wall clock stepped back 0.7 s (waited out: every purchase answered 202, the slowest in "
            f"{max(s for _st, _v, s in short.values()):.2f}s), then 1.5 s more (30 purchases 503 unavailable, nothing "
            "reserved), minting again once caught up; in-process routes, generator clock from its constructor"
        )
        recovered = moments[1] - moments[0] + min(s for _st, _v, s in after.values())
        report(tally(db, sale["id"], accepted, "clock step back on the API host", recovered, notes))
