"""What Redis keeps for a user who loops purchase and cancel stays bounded: records of orders the database
holds are dropped, the per-user structures have a size that does not grow with the loop, and the number of
orders one user may place in one sale is capped."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.pipeline.harness import Running, buy, running_world, wait_status
from tests.support import make_sale

CAP = 12  # FLASHSALE_ORDERS_PER_USER_MAX of this module's world


@pytest.fixture(scope="module")
def capped() -> Iterator[Running]:
    with running_world(("all",), FLASHSALE_ORDERS_PER_USER_MAX=str(CAP)) as run:
        yield run


def sale_state(run: Running, sale_id: str) -> dict[str, tuple[int, int]]:
    """Every Redis key of the sale but the rate-limit hash: (elements, bytes of its members and values)."""
    r = redis.Redis.from_url(run.world.settings.redis_url, decode_responses=True)
    try:
        state = {}
        for key in r.scan_iter(match=f"{run.world.namespace}:{{sale:{sale_id}}}:*", count=1000):
            kind = r.type(key)
            if key.endswith(":rate"):
                continue
            if kind == "hash":
                items = r.hgetall(key)
                state[key] = (len(items), sum(len(k) + len(v) for k, v in items.items()))
            elif kind == "set":
                members = r.smembers(key)
                state[key] = (len(members), sum(len(m) for m in members))
            elif kind == "stream":
                state[key] = (r.xlen(key), 0)
            else:
                state[key] = (1, len(r.get(key) or ""))
        return state
    finally:
        r.close()


def loop_buy_and_cancel(run: Running, client: httpx.Client, sale_id: str, user: str, times: int) -> None:
    for _ in range(times):
        order_id = buy(client, run.world, sale_id, user)
        wait_status(client, run.world, user, order_id, "created")
        reply = client.post(f"/api/v1/orders/{order_id}/cancel", headers=run.world.headers(user))
        assert reply.status_code == 200 and reply.json()["status"] == "cancelled", reply.text


def test_a_user_looping_purchase_and_cancel_keeps_redis_state_bounded(capped: Running) -> None:
    with capped.client() as client:
        sale = make_sale(client, capped.world, stock=5, per_user_limit=1)
        loop_buy_and_cancel(capped, client, sale["id"], "looper", 3)
        early = sale_state(capped, sale["id"])
        loop_buy_and_cancel(capped, client, sale["id"], "looper", CAP - 3)
        late = sale_state(capped, sale["id"])

        assert set(late) == set(early), (sorted(early), sorted(late))
        grown = {k: (early[k], late[k]) for k in late if late[k][0] != early[k][0] or late[k][1] > early[k][1] + 2}
        # (a count of placed orders going from one digit to two is the only growth allowed)
        assert not grown, f"Redis state grew with the loop (elements, bytes) before -> after: {grown}"

        # The cap: no more orders for this user in this sale, stock untouched; another user still buys.
        over = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=capped.world.headers("looper"))
        assert over.status_code == 409, over.text
        assert over.json()["error"] == "limit_exceeded", over.text
        assert client.get(f"/api/v1/sales/{sale['id']}").json()["stock_left"] == 5
        buy(client, capped.world, sale["id"], "someone-else")

        # Everything the user did is still there to read, from the database.
        listed = client.get(
            "/api/v1/orders", params={"sale_id": sale["id"], "limit": 100}, headers=capped.world.headers("looper")
        ).json()["items"]
        assert [o["status"] for o in listed] == ["cancelled"] * CAP


def test_the_cap_is_never_below_the_per_user_limit(capped: Running) -> None:
    """A user may always reach the sale's limit one unit at a time, whatever the cap."""
    with capped.client() as client:
        sale = make_sale(client, capped.world, stock=CAP + 5, per_user_limit=CAP + 3)
        for _ in range(CAP + 3):
            buy(client, capped.world, sale["id"], "collector")
        over = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=capped.world.headers("collector"))
        assert over.json()["error"] == "limit_exceeded", over.text
