"""An API process SIGKILLed under load, and started again: the hand-off guarantee. A purchase's reservation and
its hand-off entry are one Lua call, so every 202 ends up as an order, and so does every purchase the process
had reserved but not yet answered when it died; nothing is oversold."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable

import redis

from tests.faults.report import report, tally
from tests.pipeline.harness import Burst, Db, Running, audit, handoff_length, running_world, wait_until
from tests.support import free_port, make_sale, wait_ready

STOCK = 2500
PURCHASES = 4000  # 10 s of purchases: time for the freezes before each kill
RATE = 400  # purchases per second: about what one API process answers here, so requests are always in its hands
KILLS_AT = (300, 1500)  # purchases sent when the API is killed (the stock lasts past both)
# Before each kill the process group is frozen (SIGSTOP) for FREEZE_S: Redis runs whatever reservations were sent,
# the client reads whatever replies were written. Purchases still in flight then that hold units were reserved and
# can no longer be answered: the kill lands only once there are some (else the process is let go and tried again).
FREEZE_S = 0.1
PROBES = 100


def reserved_of(run: Running, sale_id: str, users: set[str]) -> set[str]:
    """Those of the users holding units in the sale's cache (their purchase was reserved)."""
    if not users:
        return set()
    r = redis.Redis.from_url(run.world.settings.redis_url, decode_responses=True)
    try:
        wanted = sorted(users)
        held = r.hmget(run.names.sale(int(sale_id)).users, wanted)
    finally:
        r.close()
    return {u for u, q in zip(wanted, held, strict=True) if q and int(q) > 0}


def freeze_until_reserved_in_flight(pid: int, reserved_in_flight: Callable[[], set[str]]) -> set[str]:
    """Freeze the process group until a freeze finds reserved purchases in flight; left frozen then, for the kill."""
    for _ in range(PROBES):
        os.killpg(pid, signal.SIGSTOP)
        try:
            time.sleep(FREEZE_S)
            held = reserved_in_flight()
        except BaseException:
            os.killpg(pid, signal.SIGCONT)  # never leave the group stopped (its teardown would wait on it)
            raise
        if held:
            return held
        os.killpg(pid, signal.SIGCONT)
        time.sleep(random.uniform(0.01, 0.05))
    return set()


def test_an_api_killed_under_load_loses_no_accepted_order() -> None:
    with running_world(workers=("relay", "orders", "timeouts")) as run, Db(run.world) as db:
        with run.client() as client:
            sale = make_sale(client, run.world, stock=STOCK, per_user_limit=1, payment_timeout_seconds=600)
        port = free_port()
        run.base = f"http://127.0.0.1:{port}"  # the burst goes to this process, killed and started again

        def start_api() -> None:
            proc = run.world.spawn("api", "--port", str(port), "--workers", "1")
            wait_ready(run.base, proc)
            procs.append(proc)

        procs: list = []
        start_api()
        burst = Burst(run, sale["id"], PURCHASES, RATE, prefix="api", connections=64, tolerant=True)
        burst.start()
        codes, downtimes, caught = [], [], []
        for mark in KILLS_AT:
            wait_until(lambda m=mark: burst.sent >= m, 30, f"{mark} purchases sent")
            held = freeze_until_reserved_in_flight(
                procs[-1].pid, lambda: reserved_of(run, sale["id"], burst.in_flight())
            )
            caught.append(held)
            killed = time.monotonic()
            codes.append(run.world.stop(procs[-1], signal.SIGKILL))
            start_api()
            downtimes.append(time.monotonic() - killed)
        accepted = burst.finish()
        assert all(caught), f"a kill found no reserved purchase in flight in {PROBES} freezes: {caught}"
        assert codes == [-signal.SIGKILL] * len(codes), codes

        started = time.monotonic()
        wait_until(lambda: handoff_length(run.world, sale["id"]) == 0, 30, "the hand-off to drain")
        wait_until(lambda: db.count_orders(sale["id"]) >= len(accepted), 60, "the accepted orders to be written")
        written_in = time.monotonic() - started
        audit(run.world, sale["id"], accepted=accepted)

        unanswered = burst.unanswered()
        rows = dict(db.rows("SELECT user_id, id FROM orders WHERE sale_id = %s", int(sale["id"])))
        reserved_unanswered = unanswered & set(rows)
        # Each kill took purchases that were reserved and never answered (not just answered late), and each of
        # them is an order.
        for i, held in enumerate(caught):
            assert held & reserved_unanswered, (i, held, {u: burst.outcomes.get(u) for u in held})
        # The kills landed while purchases were in the process's hands, some of them already reserved.
        assert unanswered and reserved_unanswered, (len(unanswered), burst.outcomes)
        stock, left, _limit = db.sale_row(sale["id"])
        assert left == stock - len(rows) >= 0, (stock, left, len(rows))
        outcomes = [f"{o} x{n}" for o, n in Counter(burst.outcomes.values()).most_common()]
        notes = (
            f"{len(codes)} SIGKILLs of the API process (frozen first, with {[len(h) for h in caught]} reserved "
            "purchases in flight), "
            f"down {max(downtimes):.2f}s at most; "
            f"{len(unanswered)} purchases without a reply, {len(reserved_unanswered)} of them reserved and written; "
            f"{len(rows)} of {stock} units sold; replies: {', '.join(outcomes)}; "
            f"all written {written_in:.2f}s after the burst"
        )
        record = tally(db, sale["id"], accepted, "API process SIGKILL", max(downtimes), notes, unsure=burst.unsure())
        report(record)
