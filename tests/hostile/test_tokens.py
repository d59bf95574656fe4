"""Forged, stale and wrong-role tokens on every protected endpoint: 401 `unauthorized` (403 `forbidden` for a
valid user token on an admin endpoint), and the refused request changed nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.hostile.conftest import V1, expect, holdings, wait_written
from tests.support import TEST_SECRET, World, make_sale, window


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(data: dict) -> str:
    return b64(json.dumps(data).encode())


def claims(user: str = "mallory", role: str = "admin", exp_in: int | None = 3600) -> dict:
    out: dict = {"sub": user, "role": role, "iat": int(time.time())}
    if exp_in is not None:
        out["exp"] = int(time.time()) + exp_in
    return out


def hs256_with(key: bytes, header: dict, body: dict) -> str:
    """A token signed by hand (PyJWT rightly refuses to use a PEM public key as an HMAC secret)."""
    signing_input = f"{segment(header)}.{segment(body)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def forged_tokens() -> dict[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    other_key = "another-secret-" + secrets.token_hex(20)
    return {
        "alg-none": f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims())}.",
        "alg-none-unsigned-two-parts": f"{segment({'alg': 'none'})}.{segment(claims())}",
        "alg-None-with-real-signature": hs256_with(TEST_SECRET.encode(), {"alg": "None"}, claims()),
        "another-key": jwt.encode(claims(), other_key, algorithm="HS256"),
        "rs256-own-key": jwt.encode(claims(), private, algorithm="RS256"),
        "rs256-with-embedded-jwk": jwt.encode(claims(), private, algorithm="RS256", headers={"jwk": jwk}),
        # Key confusion: an RS256 key pair's PUBLIC key (which an attacker may know) offered as the HS256 secret.
        "hs256-signed-with-rsa-public-key": hs256_with(public_pem, {"alg": "HS256", "typ": "JWT"}, claims()),
        "hs256-signed-with-rsa-public-key-no-newline": hs256_with(
            public_pem.strip(), {"alg": "HS256", "typ": "JWT"}, claims()
        ),
        "expired": jwt.encode(claims(exp_in=-5), TEST_SECRET, algorithm="HS256"),
        "no-exp": jwt.encode(claims(exp_in=None), TEST_SECRET, algorithm="HS256"),
        "exp-not-a-number": jwt.encode({**claims(exp_in=None), "exp": "never"}, TEST_SECRET, algorithm="HS256"),
        "role-superuser": jwt.encode(claims(role="superuser"), TEST_SECRET, algorithm="HS256"),
        "role-Admin": jwt.encode(claims(role="Admin"), TEST_SECRET, algorithm="HS256"),
        "role-empty": jwt.encode(claims(role=""), TEST_SECRET, algorithm="HS256"),
        "role-list": jwt.encode({**claims(), "role": ["admin"]}, TEST_SECRET, algorithm="HS256"),
        "no-role": jwt.encode({k: v for k, v in claims().items() if k != "role"}, TEST_SECRET, algorithm="HS256"),
        "sub-not-a-string": jwt.encode({**claims(), "sub": 42}, TEST_SECRET, algorithm="HS256"),
        "claims-swapped-under-a-real-signature": (
            lambda good: f"{good.split('.')[0]}.{segment(claims())}.{good.split('.')[2]}"
        )(jwt.encode(claims(role="user"), TEST_SECRET, algorithm="HS256")),
    }


FORGED = forged_tokens()


@pytest.fixture(scope="module")
def scene(client_module: httpx.Client, world: World, workers: None) -> dict:
    """A loaded sale with one order of `owner`, and an unloaded, unpaused sale the admin endpoints would change."""
    live = make_sale(client_module, world, stock=50, per_user_limit=5)
    idle = make_sale(client_module, world, stock=50, preheat=False)
    bought = client_module.post(f"{V1}/sales/{live['id']}/purchase", headers=world.headers("owner"))
    assert bought.status_code == 202, bought.text
    # written before any reading of the state, so the writer cannot change it between two readings
    wait_written(client_module, world, "owner", bought.json()["order_id"])
    return {"live": live, "idle": idle, "order": bought.json()["order_id"], "marker": f"forged-{secrets.token_hex(4)}"}


def user_calls(scene: dict) -> list[tuple[str, str, dict | None]]:
    live, order = scene["live"]["id"], scene["order"]
    return [
        ("POST", f"{V1}/sales/{live}/purchase", {"quantity": 1}),
        ("GET", f"{V1}/orders", None),
        ("GET", f"{V1}/orders/{order}", None),
        ("POST", f"{V1}/orders/{order}/pay", None),
        ("POST", f"{V1}/orders/{order}/cancel", None),
    ]


def admin_calls(scene: dict, idle: dict | None = None, name: str | None = None) -> list[tuple[str, str, dict | None]]:
    idle = idle or scene["idle"]
    name = name or scene["marker"]
    starts, ends = window()
    return [
        ("POST", f"{V1}/commodities", {"name": name, "price_cents": 1}),
        ("POST", f"{V1}/sales", {"commodity_id": idle["commodity_id"], "name": name, "price_cents": 1,
                                 "stock": 1, "starts_at": starts, "ends_at": ends}),
        ("PATCH", f"{V1}/sales/{idle['id']}", {"paused": True, "stock": 7}),
        ("POST", f"{V1}/sales/{idle['id']}/preheat", None),
    ]  # fmt: skip


def state(client: httpx.Client, world: World, scene: dict) -> tuple:
    """Everything a forged request could have changed."""
    names = [
        item["name"]
        for kind in ("commodities", "sales")
        for item in client.get(f"{V1}/{kind}", params={"limit": 100}).json()["items"]
    ]
    return (
        holdings(client, world, scene["live"]["id"], "owner", "mallory"),
        holdings(client, world, scene["idle"]["id"]),
        scene["marker"] in names,
    )


@pytest.mark.parametrize("name", sorted(FORGED))
def test_forged_token_is_refused_everywhere(client: httpx.Client, world: World, scene: dict, name: str) -> None:
    before = state(client, world, scene)
    assert before[2] is False
    headers = {"Authorization": f"Bearer {FORGED[name]}"}
    for method, url, body in user_calls(scene) + admin_calls(scene):
        expect(client.request(method, url, json=body, headers=headers), 401, "unauthorized")
    assert state(client, world, scene) == before


def test_user_token_on_every_admin_endpoint(client: httpx.Client, world: World, scene: dict) -> None:
    before = state(client, world, scene)
    # A valid user token, even one whose user id reads "admin".
    for user in ("eve", "admin", "root"):
        for method, url, body in admin_calls(scene):
            reply = client.request(method, url, json=body, headers=world.headers(user))
            expect(reply, 403, "forbidden")
    assert state(client, world, scene) == before
    # The same calls with an admin token do go through (on a sale of their own, so the scene stays as it was):
    # the refusals above were about the role alone.
    admin = world.headers("admin", admin=True)
    other = make_sale(client, world, stock=50, preheat=False)
    for method, url, body in admin_calls(scene, other, "made-by-admin"):
        reply = client.request(method, url, json=body, headers=admin)
        assert reply.status_code in (200, 201), reply.text
    changed = client.get(f"{V1}/sales/{other['id']}").json()
    assert (changed["paused"], changed["stock"], changed["preheated"]) == (True, 7, True)


def test_the_genuine_tokens_still_work(client: httpx.Client, world: World, scene: dict) -> None:
    """The control: the same calls with a token the API issued are accepted (so the 401s above are the tokens')."""
    reply = client.get(f"{V1}/orders/{scene['order']}", headers=world.headers("owner"))
    assert reply.status_code == 200, reply.text
    token = jwt.encode(claims(user="mallory", role="user"), TEST_SECRET, algorithm="HS256")
    assert client.get(f"{V1}/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
