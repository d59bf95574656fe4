"""SIGTERM stops the API gracefully: it exits 0 and hands back its order-id node lease (released, kept from
reuse for a lease's length)."""

from __future__ import annotations

import signal
import time

import redis

from tests.support import world_context


def test_sigterm_stops_the_api_cleanly_and_releases_its_node() -> None:
    with world_context() as world:
        world.start_api(workers=2)
        proc = world.procs[-1]
        r = redis.Redis.from_url(world.settings.redis_url)
        try:
            # One lease per server process; the second may still be starting when the first answers /readyz.
            deadline = time.monotonic() + 20
            while len(list(r.scan_iter(match=f"{world.namespace}:node:*"))) < 2:
                assert time.monotonic() < deadline, "the second server process never leased a node"
                time.sleep(0.1)
            assert world.stop(proc, signal.SIGTERM, timeout=30) == 0
            leases = list(r.scan_iter(match=f"{world.namespace}:node:*"))
            assert len(leases) == 2
            assert all(r.get(key).startswith(b"released:") for key in leases), [r.get(k) for k in leases]
        finally:
            r.close()
