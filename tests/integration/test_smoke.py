"""The smallest end-to-end check: a purchase through the real API answers 202 with a pending order."""

from __future__ import annotations

import httpx

from tests.support import World, make_sale


def test_purchase_accepted(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=2)
    reply = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=world.headers("alice"))
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["status"] == "pending"
    assert body["order_id"].isdigit()
    after = client.get(f"/api/v1/sales/{sale['id']}").json()
    assert after["stock_left"] == 1
