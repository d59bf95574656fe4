"""Another user's order is 404 `not_found` for every verb, whatever state it is in (pending in the hand-off,
created, paid, cancelled), with the same body as an order that does not exist (no existence oracle); the
attempts change nothing. An admin may read any order but pays and cancels only their own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.hostile.conftest import V1, expect, holdings, wait_written
from tests.support import World, make_sale

OWNER = "olivia"
INTRUDER = "ivan"
MISSING = "987654321987654321"


def buy(client: httpx.Client, world: World, sale: dict, user: str = OWNER) -> str:
    reply = client.post(f"{V1}/sales/{sale['id']}/purchase", json={"quantity": 2}, headers=world.headers(user))
    assert reply.status_code == 202, reply.text
    return str(reply.json()["order_id"])


def verbs(order_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"{V1}/orders/{order_id}"),
        ("POST", f"{V1}/orders/{order_id}/pay"),
        ("POST", f"{V1}/orders/{order_id}/cancel"),
    ]


def refused_to_others(client: httpx.Client, world: World, sale: dict, order_id: str) -> None:
    """Every verb on the order by another user (and pay/cancel by an admin) is the same 404 as a missing order."""
    before = holdings(client, world, sale["id"], OWNER, INTRUDER)
    missing = {method: expect(client.request(method, url, headers=world.headers(INTRUDER)), 404, "not_found")
               for method, url in verbs(MISSING) if method == "GET"}  # fmt: skip
    for user, admin in ((INTRUDER, False), ("ivan.2", False), ("admin", True)):
        for method, url in verbs(order_id):
            if admin and method == "GET":
                continue  # an admin reads any order: checked below
            body = expect(client.request(method, url, headers=world.headers(user, admin=admin)), 404, "not_found")
            if method == "GET":
                assert body == missing["GET"]
    # The intruder's list does not show it, even filtered by its sale.
    listed = client.get(f"{V1}/orders", params={"sale_id": sale["id"]}, headers=world.headers(INTRUDER)).json()
    assert order_id not in [o["id"] for o in listed["items"]]
    assert holdings(client, world, sale["id"], OWNER, INTRUDER) == before
    # An admin reads it; the owner still sees it as before.
    seen = client.get(f"{V1}/orders/{order_id}", headers=world.headers("admin", admin=True))
    assert seen.status_code == 200 and seen.json()["user_id"] == OWNER, seen.text


@pytest.fixture(scope="module")
def sale(client_module: httpx.Client, world: World) -> dict:
    return make_sale(client_module, world, stock=40, per_user_limit=20)


def test_a_pending_order(client: httpx.Client, world: World, sale: dict) -> None:
    """Before any order writer runs (this test asks for none), the order waits in the hand-off as `pending`."""
    order_id = buy(client, world, sale)
    assert client.get(f"{V1}/orders/{order_id}", headers=world.headers(OWNER)).json()["status"] == "pending"
    refused_to_others(client, world, sale, order_id)
    assert client.get(f"{V1}/orders/{order_id}", headers=world.headers(OWNER)).json()["status"] == "pending"


@pytest.fixture
def written(client: httpx.Client, world: World, sale: dict, workers: None) -> Iterator[str]:
    order_id = buy(client, world, sale)
    assert wait_written(client, world, OWNER, order_id)["status"] == "created"
    yield order_id


def test_a_created_order(client: httpx.Client, world: World, sale: dict, written: str) -> None:
    refused_to_others(client, world, sale, written)
    assert client.get(f"{V1}/orders/{written}", headers=world.headers(OWNER)).json()["status"] == "created"
    # The owner can still pay it: nobody else's attempt touched it.
    paid = client.post(f"{V1}/orders/{written}/pay", headers=world.headers(OWNER))
    assert paid.status_code == 200 and paid.json()["status"] == "paid", paid.text


def test_a_paid_order(client: httpx.Client, world: World, sale: dict, written: str) -> None:
    paid = client.post(f"{V1}/orders/{written}/pay", headers=world.headers(OWNER))
    assert paid.status_code == 200, paid.text
    refused_to_others(client, world, sale, written)
    again = client.get(f"{V1}/orders/{written}", headers=world.headers(OWNER)).json()
    assert (again["status"], again["paid_at"]) == ("paid", paid.json()["paid_at"])


def test_a_cancelled_order(client: httpx.Client, world: World, sale: dict, written: str) -> None:
    cancelled = client.post(f"{V1}/orders/{written}/cancel", headers=world.headers(OWNER))
    assert cancelled.status_code == 200 and cancelled.json()["cancel_reason"] == "user", cancelled.text
    refused_to_others(client, world, sale, written)
    assert client.get(f"{V1}/orders/{written}", headers=world.headers(OWNER)).json()["status"] == "cancelled"
