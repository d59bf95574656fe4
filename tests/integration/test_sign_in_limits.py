"""Password hashing is bounded per process, and sign-ins have a rate of their own, through the real API.

argon2 is CPU-bound on purpose, so without a bound anyone who can reach POST /users or /auth/token could keep
every core of the API busy hashing (the per-address rate alone allows thousands a second)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Iterator

import aiohttp
import httpx
import pytest

from tests.support import World, make_sale

V1 = "/api/v1"


@pytest.fixture
def api_with(world: World) -> Iterator:
    """Start an API process of the session's world with extra settings; stopped after the test."""
    started: list = []

    def start(**env: str) -> str:
        base = world.start_api(env=env)
        started.append(world.procs[-1])
        return base

    yield start
    for proc in started:
        world.stop(proc)
        world.procs.remove(proc)


async def _register_at_once(base: str, names: list[str]) -> list[tuple[int, dict, str | None]]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=len(names))) as session:

        async def one(name: str) -> tuple[int, dict, str | None]:
            async with session.post(f"{base}{V1}/users", json={"username": name, "password": "pw-" + name}) as r:
                return r.status, await r.json(), r.headers.get("Retry-After")

        return await asyncio.gather(*(one(name) for name in names))


def test_password_hashing_beyond_the_bound_answers_503_and_changes_nothing(api_with) -> None:
    base = api_with(FLASHSALE_PASSWORD_HASH_CONCURRENCY="1", FLASHSALE_RATE_LIMIT_LOGIN="0")
    names = [f"gate_{secrets.token_hex(3)}_{i}" for i in range(30)]
    replies = asyncio.run(_register_at_once(base, names))
    codes = Counter(status for status, _body, _retry in replies)
    assert set(codes) <= {201, 503}, codes
    # One hash at a time and a few waiting: thirty at once cannot all be admitted.
    assert codes[503] > 0, codes
    assert codes[201] > 0, codes
    for status, body, retry_after in replies:
        if status == 503:
            assert body["error"] == "unavailable" and body["message"], body
            assert retry_after is not None and int(retry_after) >= 1
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, (status, _body, _retry) in zip(names, replies, strict=True):
            login = client.post(f"{V1}/auth/token", json={"username": name, "password": "pw-" + name})
            # A refused registration wrote nothing: the name is free and no token is issued for it.
            assert login.status_code == (200 if status == 201 else 401), (name, status, login.text)
            if status == 503:
                again = client.post(f"{V1}/users", json={"username": name, "password": "pw-" + name})
                assert again.status_code == 201, again.text


async def _burst(base: str, path: str, body: dict[str, str], count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return list(await asyncio.gather(*(client.post(path, json=body) for _ in range(count))))


def test_sign_ins_have_their_own_lower_rate(api_with, world: World) -> None:
    # Purchases unlimited, sign-ins two a second (per address and per username).
    base = api_with(FLASHSALE_RATE_LIMIT_LOGIN="2", FLASHSALE_RATE_LIMIT_USER="0", FLASHSALE_RATE_LIMIT_ADDRESS="0")
    name = f"rate_{secrets.token_hex(4)}"
    credentials = {"username": name, "password": "correct-horse"}
    with httpx.Client(base_url=base, timeout=30) as client:
        time.sleep(1 - time.time() % 1)  # start at a second's beginning: the window is one second
        assert client.post(f"{V1}/users", json=credentials).status_code == 201
        began = time.time()
        # All at once: sent one after another, each waits for its password hash, and on a loaded machine two
        # hashes can take a whole second, so the rate is never reached and the test proves nothing.
        replies = asyncio.run(_burst(base, f"{V1}/auth/token", credentials, 8))
        seconds = int(time.time()) - int(began) + 1  # one-second windows the logins touched
        codes = Counter(r.status_code for r in replies)
        assert set(codes) <= {200, 429}, codes
        assert codes[429] > 0, codes
        # The registration took one of the first second's two.
        assert codes[200] <= 2 * seconds - 1, (codes, seconds)
        for reply in replies:
            if reply.status_code == 429:
                assert reply.json()["error"] == "rate_limited"
                assert int(reply.headers["Retry-After"]) >= 1
        # The purchase path is not held to the sign-in rate.
        sale = make_sale(client, world, stock=10, per_user_limit=10)
        bought = [
            client.post(f"{V1}/sales/{sale['id']}/purchase", headers=world.headers(name)).status_code for _ in range(5)
        ]
        assert bought == [202] * 5, bought
