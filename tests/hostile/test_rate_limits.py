"""The rate limits over HTTP, on an API started with low limits: per user and per client address, on purchases
and on logins, a request over the limit is 429 `rate_limited` with an integer `Retry-After`, and reserves or
issues nothing. The limits count per one-second window, so a run of requests spanning W windows may have at most
limit x W accepted; each run sends more than that, so the limit must have refused some."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.hostile.conftest import V1, expect
from tests.support import World, make_sale

PER_USER = 2
PER_ADDRESS = 5
PER_LOGIN = 3  # FLASHSALE_RATE_LIMIT_LOGIN: sign-ins per user name and per address
TRIES = 24


@pytest.fixture(scope="module")
def limited(world: World) -> Iterator[httpx.Client]:
    """An API of the session's world with low limits (the session's own API has them off)."""
    env = {
        "FLASHSALE_RATE_LIMIT_USER": str(PER_USER),
        "FLASHSALE_RATE_LIMIT_ADDRESS": str(PER_ADDRESS),
        "FLASHSALE_RATE_LIMIT_LOGIN": str(PER_LOGIN),
    }
    base = world.start_api(env=env)
    proc = world.procs[-1]
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            yield client
    finally:
        world.stop(proc)
        world.procs.remove(proc)


def burst(send: Callable[[int], httpx.Response], ok: int, limit: int) -> list[httpx.Response]:
    """Send TRIES requests as fast as one client can; check the limit held in every window it spanned."""
    start = time.time()
    replies = [send(i) for i in range(TRIES)]
    windows = int(time.time()) - int(start) + 1
    assert limit * windows < TRIES, f"too slow to test the limit: {windows} windows"
    allowed = [r for r in replies if r.status_code == ok]
    limited = [r for r in replies if r.status_code == 429]
    assert len(allowed) + len(limited) == TRIES, [(r.status_code, r.text) for r in replies]
    assert 1 <= len(allowed) <= limit * windows, (len(allowed), windows)
    for reply in limited:
        expect(reply, 429, "rate_limited")
        assert int(reply.headers["Retry-After"]) >= 1
    return allowed


def fresh_window() -> None:
    """Wait for the next one-second window: the login limits of this address are shared by the login tests."""
    time.sleep(1.02 - time.time() % 1)


def stock_left(client: httpx.Client, sale: dict) -> int:
    return int(client.get(f"{V1}/sales/{sale['id']}").json()["stock_left"])


def test_purchases_per_user(limited: httpx.Client, world: World) -> None:
    sale = make_sale(limited, world, stock=1000, per_user_limit=1000)
    user = f"buyer{secrets.token_hex(3)}"
    headers = world.headers(user)
    allowed = burst(lambda _: limited.post(f"{V1}/sales/{sale['id']}/purchase", headers=headers), 202, PER_USER)
    assert stock_left(limited, sale) == 1000 - len(allowed)
    mine = limited.get(f"{V1}/orders", params={"sale_id": sale["id"]}, headers=headers).json()["items"]
    assert sorted(o["id"] for o in mine) == sorted(r.json()["order_id"] for r in allowed)


def test_purchases_per_address(limited: httpx.Client, world: World) -> None:
    """Each request by another user (whose own limit is never reached), all from this one address."""
    sale = make_sale(limited, world, stock=1000, per_user_limit=1000)
    tag = secrets.token_hex(3)
    headers = [world.headers(f"shopper{tag}{i}") for i in range(TRIES)]
    allowed = burst(lambda i: limited.post(f"{V1}/sales/{sale['id']}/purchase", headers=headers[i]), 202, PER_ADDRESS)
    assert stock_left(limited, sale) == 1000 - len(allowed)


def test_logins_per_user(limited: httpx.Client) -> None:
    name, password = f"login_{secrets.token_hex(4)}", "correct-horse-battery"
    fresh_window()  # the address's login count is shared by the login tests
    assert limited.post(f"{V1}/users", json={"username": name, "password": password}).status_code == 201
    credentials = {"username": name, "password": password}
    allowed = burst(lambda _: limited.post(f"{V1}/auth/token", json=credentials), 200, PER_LOGIN)
    assert all(r.json()["token_type"] == "bearer" for r in allowed)


def test_logins_per_address(limited: httpx.Client) -> None:
    """Each attempt for another user name (wrong credentials, 401), all from this one address."""
    tag = secrets.token_hex(3)
    fresh_window()

    def attempt(i: int) -> httpx.Response:
        return limited.post(f"{V1}/auth/token", json={"username": f"nobody_{tag}_{i}", "password": "guessing-1234"})

    allowed = burst(attempt, 401, PER_LOGIN)
    for reply in allowed:
        expect(reply, 401, "invalid_credentials")
