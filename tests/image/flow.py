"""One order end to end through a World's API and workers: proof that the roles run, not just start."""

from __future__ import annotations

import httpx

from tests.pipeline.harness import wait_until
from tests.support import World, make_sale


def order_reaches_the_database(world: World, base: str) -> None:
    """A purchase answers 202 (the Lua reservation ran); the relay and the order writer turn it into an order row
    (`created`), and the sale's stock went down by one."""
    with httpx.Client(base_url=base, timeout=30) as client:
        sale = make_sale(client, world, stock=3)
        shopper = world.headers("shopper")
        reply = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=shopper)
        assert reply.status_code == 202, reply.text
        order_id = reply.json()["order_id"]

        def written() -> bool:
            order = client.get(f"/api/v1/orders/{order_id}", headers=shopper)
            assert order.status_code == 200, order.text
            return order.json()["status"] == "created"

        wait_until(written, 60, "the order written by the workers")
        assert client.get(f"/api/v1/sales/{sale['id']}").json()["stock_left"] == 2
