"""Fixtures of the hostile-input suite: the session's real API (tests/conftest.py), workers that write orders,
and a reading of what a sale and a user hold, to prove a refused request changed nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.document import conform
from tests.support import World

V1 = "/api/v1"


def expect(reply: httpx.Response, status: int, code: str) -> dict:
    """The contract's error body: {"error": code, "message": text}, as JSON."""
    assert reply.status_code == status, (reply.request.method, reply.request.url, reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    body = reply.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    return body


@pytest.fixture(scope="module")
def client_module(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=30, event_hooks={"response": [conform]}) as c:
        yield c


@pytest.fixture(scope="session")
def workers(world: World) -> Iterator[None]:
    """The order writer and the timeout worker for the session's world (orders get written to the database)."""
    proc = world.start_workers("all")
    time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else proc.returncode
    yield


def holdings(client: httpx.Client, world: World, sale_id: str, *users: str) -> tuple:
    """What a sale and some users hold: the sale's view and each user's orders of it (ids and statuses)."""
    sale = client.get(f"{V1}/sales/{sale_id}").json()
    orders = []
    for user in users:
        reply = client.get(f"{V1}/orders", params={"sale_id": sale_id, "limit": 100}, headers=world.headers(user))
        assert reply.status_code == 200, reply.text
        # pending -> created is the order writer's doing (it may run meanwhile), never a refused request's
        orders.append(sorted((o["id"], o["status"].replace("pending", "created")) for o in reply.json()["items"]))
    return sale["stock"], sale["stock_left"], sale["paused"], sale["preheated"], tuple(map(tuple, orders))


def wait_written(client: httpx.Client, world: World, user: str, order_id: str, timeout: float = 15) -> dict:
    """Wait until the order writer has put the order in the database (status `created`)."""
    deadline = time.monotonic() + timeout
    while True:
        order = client.get(f"{V1}/orders/{order_id}", headers=world.headers(user)).json()
        if order["status"] != "pending":
            return order
        assert time.monotonic() < deadline, f"order {order_id} still pending after {timeout}s"
        time.sleep(0.1)
