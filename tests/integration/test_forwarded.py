"""The per-address rate limit behind a proxy: X-Forwarded-For names the shopper only when the connection comes from
a proxy listed in FLASHSALE_FORWARDED_ALLOW_IPS; from any other peer the header is ignored and the peer's own
address counts (so a shopper cannot pick a fresh address per request)."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.support import World, make_sale

LIMIT = 2  # purchases per second per address
TRIES = 12  # far over the limit even if the requests straddle a few one-second windows


def buy_from(base: str, world: World, sale: dict, forwarded_for: list[str]) -> list[int]:
    """One purchase per entry, each by another user (no per-user limit in play), sent as fast as possible."""
    statuses = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for address in forwarded_for:
            headers = {**world.headers(f"u{secrets.token_hex(4)}"), "X-Forwarded-For": address}
            reply = client.post(f"/api/v1/sales/{sale['id']}/purchase", headers=headers)
            assert reply.status_code in (202, 429), reply.text
            if reply.status_code == 429:
                assert reply.json()["error"] == "rate_limited"
            statuses.append(reply.status_code)
    return statuses


@pytest.fixture(scope="module")
def sale(api: str, world: World) -> dict:
    with httpx.Client(base_url=api, timeout=30) as client:
        return make_sale(client, world, stock=1000, per_user_limit=100)


def test_from_a_trusted_proxy_the_forwarded_address_is_the_shopper(world: World, sale: dict) -> None:
    base = world.start_api(
        env={"FLASHSALE_RATE_LIMIT_ADDRESS": str(LIMIT), "FLASHSALE_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    )
    tag = secrets.randbelow(200) + 1
    shoppers = [f"198.51.{tag}.{i}" for i in range(1, TRIES + 1)]
    assert buy_from(base, world, sale, shoppers) == [202] * TRIES  # every shopper has a limit of its own
    # One shopper behind the proxy is still limited; a chain's last untrusted hop is the shopper.
    assert 429 in buy_from(base, world, sale, [f"203.0.{tag}.7"] * TRIES)
    assert 429 in buy_from(base, world, sale, [f"192.0.{tag}.9, 127.0.0.1"] * TRIES)


@pytest.mark.parametrize("trusted", [None, "10.0.0.1"], ids=["no-proxy-trusted", "another-proxy-trusted"])
def test_from_an_untrusted_peer_the_header_is_ignored(world: World, sale: dict, trusted: str | None) -> None:
    env = {"FLASHSALE_RATE_LIMIT_ADDRESS": str(LIMIT)}
    if trusted is not None:
        env["FLASHSALE_FORWARDED_ALLOW_IPS"] = trusted
    base = world.start_api(env=env)
    tag = secrets.randbelow(200) + 1
    statuses = buy_from(base, world, sale, [f"198.18.{tag}.{i}" for i in range(1, TRIES + 1)])
    assert 429 in statuses  # all of them count as the peer, 127.0.0.1
    assert statuses.count(202) <= LIMIT * 3  # at most a few windows' worth got through
