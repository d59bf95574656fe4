"""Every error code of the contract, reached through the real API, and the ORDER in which a purchase is
checked (413, 401, 422, 404, replay, ended, not_started, paused, not_ready, sold_out, 429, limit_exceeded,
insufficient_stock)."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import jwt
import pytest
import redis

from app.infrastructure.keys import Names
from tests.private_services import PrivateRedis
from tests.support import TEST_SECRET, World, make_sale, window

V1 = "/api/v1"
BIG = 16 * 1024 + 1


def expect(reply: httpx.Response, status: int, code: str) -> dict:
    """The contract's error body: {"error": code, "message": non-empty text}."""
    assert reply.status_code == status, (reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    return body


def buy(
    client: httpx.Client,
    world: World,
    sale_id: str,
    user: str,
    quantity: int | None = None,
    key: str | None = None,
) -> httpx.Response:
    headers = world.headers(user)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = None if quantity is None else {"quantity": quantity}
    return client.post(f"{V1}/sales/{sale_id}/purchase", json=body, headers=headers)


def accepted(reply: httpx.Response) -> str:
    assert reply.status_code == 202, reply.text
    assert reply.json()["status"] == "pending"
    return str(reply.json()["order_id"])


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(user: str = "mallory", role: str = "user", exp_in: int = 3600) -> dict:
    return {"sub": user, "role": role, "exp": int(time.time()) + exp_in}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def purchase_url(sale: dict) -> str:
    return f"{V1}/sales/{sale['id']}/purchase"


@pytest.fixture(scope="module")
def sale(client_module: httpx.Client, world: World) -> dict:
    """A plain active sale with plenty of stock, for checks that must not change it."""
    return make_sale(client_module, world, stock=1000, per_user_limit=100)


@pytest.fixture(scope="module")
def client_module(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=30) as c:
        yield c


# --- 401 -----------------------------------------------------------------------------------------------


def test_valid_token_is_accepted(client: httpx.Client, world: World, sale: dict) -> None:
    token = jwt.encode(claims(), TEST_SECRET, algorithm="HS256")
    assert client.post(purchase_url(sale), headers=bearer(token)).status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Token abc.def.ghi"},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer a.b.c"},
    ],
    ids=["missing", "empty", "no-token", "other-scheme", "basic", "garbage", "three-parts"],
)
def test_missing_or_malformed_credentials(client: httpx.Client, sale: dict, headers: dict) -> None:
    expect(client.post(purchase_url(sale), headers=headers), 401, "unauthorized")


def test_expired_token(client: httpx.Client, sale: dict) -> None:
    token = jwt.encode(claims(exp_in=-30), TEST_SECRET, algorithm="HS256")
    expect(client.post(purchase_url(sale), headers=bearer(token)), 401, "unauthorized")


def test_bad_signature(client: httpx.Client, sale: dict) -> None:
    token = jwt.encode(claims(), "another-secret-" + "y" * 40, algorithm="HS256")
    expect(client.post(purchase_url(sale), headers=bearer(token)), 401, "unauthorized")
    # Claims changed under a genuine signature.
    good = jwt.encode(claims(), TEST_SECRET, algorithm="HS256")
    head, _claims, sig = good.split(".")
    forged = f"{head}.{b64({**claims(), 'role': 'admin'})}.{sig}"
    expect(client.post(purchase_url(sale), headers=bearer(forged)), 401, "unauthorized")


def test_alg_none_is_refused(client: httpx.Client, world: World, sale: dict) -> None:
    for alg in ("none", "None", "NONE"):
        header = b64({"alg": alg, "typ": "JWT"})
        for token in (f"{header}.{b64(claims())}.", f"{header}.{b64(claims())}"):
            expect(client.post(purchase_url(sale), headers=bearer(token)), 401, "unauthorized")
    # An admin endpoint is not opened by an unsigned admin token either.
    header = b64({"alg": "none", "typ": "JWT"})
    token = f"{header}.{b64(claims('root', 'admin'))}."
    expect(client.post(f"{V1}/sales/{sale['id']}/preheat", headers=bearer(token)), 401, "unauthorized")


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # HS512 with our key: refused for its algorithm
def test_other_algorithms_and_bad_claims_are_refused(client: httpx.Client, sale: dict) -> None:
    tokens = [
        jwt.encode(claims(), TEST_SECRET, algorithm="HS512"),
        jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, TEST_SECRET, algorithm="HS256"),  # no role
        jwt.encode({"sub": "x", "role": "user"}, TEST_SECRET, algorithm="HS256"),  # no exp
        jwt.encode(claims(role="superuser"), TEST_SECRET, algorithm="HS256"),
        jwt.encode(claims(user="a b"), TEST_SECRET, algorithm="HS256"),
    ]
    for token in tokens:
        expect(client.post(purchase_url(sale), headers=bearer(token)), 401, "unauthorized")


def test_invalid_credentials(client: httpx.Client) -> None:
    name = f"cred_{secrets.token_hex(4)}"
    assert client.post(f"{V1}/users", json={"username": name, "password": "correct-horse"}).status_code == 201
    reply = client.post(f"{V1}/auth/token", json={"username": name, "password": "wrong-horse"})
    expect(reply, 401, "invalid_credentials")
    reply = client.post(f"{V1}/auth/token", json={"username": name + "x", "password": "correct-horse"})
    expect(reply, 401, "invalid_credentials")


# --- 403, 404, 405, 413 --------------------------------------------------------------------------------


def test_user_calling_admin_endpoints(client: httpx.Client, world: World, sale: dict) -> None:
    user = world.headers("eve")
    starts, ends = window()
    calls = [
        ("POST", f"{V1}/commodities", {"name": "x", "price_cents": 1}),
        ("POST", f"{V1}/sales", {"commodity_id": sale["commodity_id"], "name": "x", "price_cents": 1,
                                 "stock": 1, "starts_at": starts, "ends_at": ends}),
        ("PATCH", f"{V1}/sales/{sale['id']}", {"paused": True}),
        ("POST", f"{V1}/sales/{sale['id']}/preheat", None),
    ]  # fmt: skip
    for method, url, body in calls:
        expect(client.request(method, url, json=body, headers=user), 403, "forbidden")
    assert client.get(f"{V1}/sales/{sale['id']}").json()["paused"] is False


def test_not_found(client: httpx.Client, world: World) -> None:
    user = world.headers("nina")
    expect(client.post(f"{V1}/sales/987654321987/purchase", headers=user), 404, "not_found")
    for bad in ("abc", "0", "-1", "1.5", "99999999999999999999", "%E2%91%A0", "12abc"):
        expect(client.post(f"{V1}/sales/{bad}/purchase", headers=user), 404, "not_found")
        expect(client.get(f"{V1}/sales/{bad}"), 404, "not_found")
    expect(client.get(f"{V1}/sales/987654321987"), 404, "not_found")
    expect(client.get(f"{V1}/nothing-here"), 404, "not_found")
    expect(client.post(f"{V1}/sales/1/purchase/extra", headers=user), 404, "not_found")
    expect(client.get("/no/such/route"), 404, "not_found")


def test_method_not_allowed(client: httpx.Client, world: World, sale: dict) -> None:
    """405 `method_not_allowed` with `Allow`: every method some route of that path serves (RFC 9110)."""
    cases = [
        (client.get(purchase_url(sale), headers=world.headers("nina")), "POST"),
        (client.delete(f"{V1}/sales"), "GET, HEAD, POST"),
        (client.put(f"{V1}/sales/{sale['id']}", json={}), "GET, HEAD, PATCH"),
        (client.post("/healthz"), "GET, HEAD"),
    ]
    for reply, allow in cases:
        expect(reply, 405, "method_not_allowed")
        assert reply.headers["allow"] == allow, (reply.request.url, reply.headers)


def test_payload_too_large(client: httpx.Client, world: World, sale: dict) -> None:
    body = json.dumps({"quantity": 1, "pad": "x" * BIG}).encode()
    headers = {**world.headers("olga"), "Content-Type": "application/json"}
    expect(client.post(purchase_url(sale), content=body, headers=headers), 413, "payload_too_large")

    # The same without a Content-Length (chunked): cut off as it grows past the cap.
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 1024

    expect(client.post(purchase_url(sale), content=chunks(), headers=headers), 413, "payload_too_large")
    # Exactly 16 KiB is still allowed (and then judged as JSON).
    padded = b'{"quantity": 1}' + b" " * (16 * 1024 - 15)
    assert len(padded) == 16 * 1024
    assert client.post(purchase_url(sale), content=padded, headers=headers).status_code == 202
    # Other endpoints have the same cap.
    reply = client.post(f"{V1}/users", content=b"{" + b" " * BIG + b"}", headers=headers)
    expect(reply, 413, "payload_too_large")


# --- 422 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"quantity": 1',
        b"\xff\xfe",
        b"[]",
        b'"quantity"',
        b"null",
        b'{"quantity": "2"}',
        b'{"quantity": true}',
        b'{"quantity": false}',
        b'{"quantity": 1.5}',
        b'{"quantity": [1]}',
        b'{"quantity": 0}',
        b'{"quantity": -1}',
        b'{"quantity": 101}',
        b'{"quantity": 1, "coupon": "FREE"}',
        b'{"qty": 1}',
    ],
)
def test_invalid_purchase_body(client: httpx.Client, world: World, sale: dict, body: bytes) -> None:
    headers = {**world.headers("pete"), "Content-Type": "application/json"}
    expect(client.post(purchase_url(sale), content=body, headers=headers), 422, "invalid_request")


def test_quantity_bounds_are_inclusive(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=200, per_user_limit=200)
    accepted(buy(client, world, sale["id"], "quinn", quantity=100))
    accepted(buy(client, world, sale["id"], "quinn", quantity=1))
    # An empty body buys one unit.
    assert client.post(purchase_url(sale), headers=world.headers("rosa")).status_code == 202
    assert client.get(f"{V1}/sales/{sale['id']}").json()["stock_left"] == 98


@pytest.mark.parametrize("key", ["bad key!", "k" * 65, "", "ключ", "a/b", "a.b", "a:b"])
def test_invalid_idempotency_key(client: httpx.Client, world: World, sale: dict, key: str) -> None:
    headers = [(k.encode(), v.encode()) for k, v in world.headers("sam").items()]
    headers.append((b"Idempotency-Key", key.encode()))
    expect(client.post(purchase_url(sale), json={}, headers=headers), 422, "invalid_request")


def test_longest_idempotency_key_is_fine(client: httpx.Client, world: World, sale: dict) -> None:
    accepted(buy(client, world, sale["id"], "sam", key="A-z_0" * 12 + "abcd"))


def test_idempotency_key_reused_with_another_quantity(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=10, per_user_limit=5)
    first = accepted(buy(client, world, sale["id"], "tina", quantity=2, key="order-1"))
    expect(buy(client, world, sale["id"], "tina", quantity=1, key="order-1"), 422, "idempotency_key_reused")
    expect(buy(client, world, sale["id"], "tina", key="order-1"), 422, "idempotency_key_reused")
    assert accepted(buy(client, world, sale["id"], "tina", quantity=2, key="order-1")) == first
    assert client.get(f"{V1}/sales/{sale['id']}").json()["stock_left"] == 8


def test_create_sale_validation(client: httpx.Client, world: World, sale: dict) -> None:
    admin = world.headers("admin", admin=True)
    starts, ends = window()
    good = {
        "commodity_id": sale["commodity_id"],
        "name": "validated",
        "price_cents": 100,
        "stock": 5,
        "starts_at": starts,
        "ends_at": ends,
    }
    bad = [
        {**good, "starts_at": starts.rstrip("Z")},  # a time without an offset
        {**good, "ends_at": "2030-01-01T00:00:00"},
        {**good, "starts_at": "2030-01-01"},
        {**good, "ends_at": starts},  # not after the start
        {**good, "stock": 0},
        {**good, "stock": 10_000_001},
        {**good, "stock": "5"},
        {**good, "per_user_limit": 1001},
        {**good, "payment_timeout_seconds": 0},
        {**good, "price_cents": -1},
        {**good, "commodity_id": 1},
        {**good, "commodity_id": "987654321987"},
        {**good, "name": ""},
        {**good, "surprise": 1},
    ]
    for body in bad:
        expect(client.post(f"{V1}/sales", json=body, headers=admin), 422, "invalid_request")
    created = client.post(f"{V1}/sales", json=good, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["starts_at"].endswith("Z")


# --- 409 -------------------------------------------------------------------------------------------------


def test_ended(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, start_offset=-7200, length=3600)
    assert sale["status"] == "ended" and not sale["preheated"]
    expect(buy(client, world, sale["id"], "uma"), 409, "ended")


def test_not_started(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, start_offset=3600)
    assert sale["status"] == "scheduled" and sale["preheated"]
    expect(buy(client, world, sale["id"], "uma"), 409, "not_started")


def test_paused_and_resumed(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=5)
    admin = world.headers("admin", admin=True)
    reply = client.patch(f"{V1}/sales/{sale['id']}", json={"paused": True}, headers=admin)
    assert reply.status_code == 200 and reply.json()["paused"] is True
    expect(buy(client, world, sale["id"], "vera"), 409, "paused")
    reply = client.patch(f"{V1}/sales/{sale['id']}", json={"paused": False}, headers=admin)
    assert reply.status_code == 200 and reply.json()["paused"] is False
    accepted(buy(client, world, sale["id"], "vera"))


def test_sold_out(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=2)
    accepted(buy(client, world, sale["id"], "wade"))
    accepted(buy(client, world, sale["id"], "xena"))
    for user in ("yuri", "zack", "yuri"):
        expect(buy(client, world, sale["id"], user), 409, "sold_out")
    after = client.get(f"{V1}/sales/{sale['id']}").json()
    assert after["stock_left"] == 0 and after["status"] == "sold_out"


def test_limit_exceeded(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=10, per_user_limit=2)
    accepted(buy(client, world, sale["id"], "abe"))
    expect(buy(client, world, sale["id"], "abe", quantity=2), 409, "limit_exceeded")
    accepted(buy(client, world, sale["id"], "abe"))
    expect(buy(client, world, sale["id"], "abe"), 409, "limit_exceeded")
    expect(buy(client, world, sale["id"], "bea", quantity=3), 409, "limit_exceeded")
    assert client.get(f"{V1}/sales/{sale['id']}").json()["stock_left"] == 8


def test_insufficient_stock(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=3, per_user_limit=10)
    accepted(buy(client, world, sale["id"], "cal", quantity=2))
    expect(buy(client, world, sale["id"], "dee", quantity=2), 409, "insufficient_stock")
    assert client.get(f"{V1}/sales/{sale['id']}").json()["stock_left"] == 1
    accepted(buy(client, world, sale["id"], "dee", quantity=1))


def test_stock_below_sold(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=5, per_user_limit=3)
    admin = world.headers("admin", admin=True)
    accepted(buy(client, world, sale["id"], "eli", quantity=3))
    reply = client.patch(f"{V1}/sales/{sale['id']}", json={"stock": 2}, headers=admin)
    expect(reply, 409, "stock_below_sold")
    reply = client.patch(f"{V1}/sales/{sale['id']}", json={"stock": 2, "paused": True}, headers=admin)
    expect(reply, 409, "stock_below_sold")
    after = client.get(f"{V1}/sales/{sale['id']}").json()
    assert (after["stock"], after["stock_left"], after["paused"]) == (5, 2, False)  # nothing changed
    reply = client.patch(f"{V1}/sales/{sale['id']}", json={"stock": 3}, headers=admin)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["stock"], reply.json()["stock_left"]) == (3, 0)
    expect(buy(client, world, sale["id"], "fay"), 409, "sold_out")


def test_username_taken(client: httpx.Client) -> None:
    name = f"taken_{secrets.token_hex(4)}"
    first = client.post(f"{V1}/users", json={"username": name, "password": "long-enough"})
    assert first.status_code == 201 and first.json()["username"] == name
    again = client.post(f"{V1}/users", json={"username": name, "password": "other-password"})
    expect(again, 409, "username_taken")


# --- 503 -------------------------------------------------------------------------------------------------


def expect_not_ready(reply: httpx.Response) -> None:
    expect(reply, 503, "not_ready")
    assert int(reply.headers["Retry-After"]) >= 1


def test_not_ready_when_never_preheated(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=5, preheat=False)
    assert sale["preheated"] is False
    expect_not_ready(buy(client, world, sale["id"], "gus"))
    expect_not_ready(buy(client, world, sale["id"], "gus", key="first-try"))
    admin = world.headers("admin", admin=True)
    assert client.post(f"{V1}/sales/{sale['id']}/preheat", headers=admin).status_code == 200
    accepted(buy(client, world, sale["id"], "gus", key="first-try"))


def test_not_ready_when_the_cache_is_lost(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=5)
    accepted(buy(client, world, sale["id"], "hal"))
    r = redis.Redis.from_url(world.settings.redis_url)
    try:
        keys = list(r.scan_iter(match=f"{world.namespace}:{{sale:{sale['id']}}}:*", count=1000))
        assert keys
        r.delete(*keys)
    finally:
        r.close()
    expect_not_ready(buy(client, world, sale["id"], "ida"))
    expect_not_ready(buy(client, world, sale["id"], "hal", key="again"))
    view = client.get(f"{V1}/sales/{sale['id']}").json()
    assert view["preheated"] is False


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    store = PrivateRedis(durable=True)
    store.start()
    try:
        yield store
    finally:
        store.close()


def test_unavailable_when_redis_is_down(world: World, private_redis: PrivateRedis) -> None:
    base = world.start_api(env={"FLASHSALE_REDIS_URL": private_redis.url})
    proc = world.procs[-1]
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            sale = make_sale(client, world, stock=5)
            keys = Names(world.namespace).sale(int(sale["id"]))
            first = accepted(buy(client, world, sale["id"], "kim"))
            private_redis.kill()

            for reply in (
                buy(client, world, sale["id"], "lou", key="while-down"),
                buy(client, world, sale["id"], "lou"),
            ):
                expect(reply, 503, "unavailable")
                assert int(reply.headers["Retry-After"]) >= 1

            private_redis.start()
            with contextlib.closing(private_redis.client()) as r:
                # Nothing was reserved for the refused purchases: the one accepted order is all there is.
                assert int(r.hget(keys.meta, "stock_left")) == 4
                assert r.xlen(keys.handoff) == 1
                assert set(r.hkeys(keys.res)) == {"", first}
                assert r.hget(keys.users, "lou") is None
                assert r.hget(keys.idem, "lou|while-down") is None

            # Once Redis is back, a retry with the same key gets the real outcome.
            deadline = time.monotonic() + 10
            while True:
                reply = buy(client, world, sale["id"], "lou", key="while-down")
                if reply.status_code != 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            second = accepted(reply)
            assert accepted(buy(client, world, sale["id"], "lou", key="while-down")) == second
            assert client.get(f"{V1}/sales/{sale['id']}").json()["stock_left"] == 3
    finally:
        world.stop(proc)
        world.procs.remove(proc)


# --- idempotent replays ------------------------------------------------------------------------------------


def test_replay_after_sold_out_answers_the_original_202(client: httpx.Client, world: World) -> None:
    sale = make_sale(client, world, stock=1)
    first = buy(client, world, sale["id"], "jan", key="the-one")
    order_id = accepted(first)
    expect(buy(client, world, sale["id"], "kit"), 409, "sold_out")
    for _ in range(2):
        again = buy(client, world, sale["id"], "jan", key="the-one")
        assert again.status_code == 202
        assert again.json() == first.json()
        assert again.json()["order_id"] == order_id
    expect(buy(client, world, sale["id"], "jan", key="another"), 409, "sold_out")
    expect(buy(client, world, sale["id"], "jan"), 409, "sold_out")


def test_replay_is_scoped_to_user_and_sale(client: httpx.Client, world: World) -> None:
    one = make_sale(client, world, stock=5)
    two = make_sale(client, world, stock=5)
    a = accepted(buy(client, world, one["id"], "lea", key="same"))
    b = accepted(buy(client, world, one["id"], "max", key="same"))
    c = accepted(buy(client, world, two["id"], "lea", key="same"))
    assert len({a, b, c}) == 3


# --- 429 -------------------------------------------------------------------------------------------------


def test_rate_limited(world: World) -> None:
    base = world.start_api(env={"FLASHSALE_RATE_LIMIT_USER": "2"})
    proc = world.procs[-1]
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            sale = make_sale(client, world, stock=100, per_user_limit=100)
            replies = [buy(client, world, sale["id"], "ned") for _ in range(6)]
            # At most two a second: six requests in well under a second cross at most one second boundary.
            limited = [r for r in replies if r.status_code == 429]
            assert len(limited) >= 2, [r.status_code for r in replies]
            for reply in limited:
                expect(reply, 429, "rate_limited")
                assert int(reply.headers["Retry-After"]) >= 1
            assert all(r.status_code in (202, 429) for r in replies)
            left = client.get(f"{V1}/sales/{sale['id']}").json()["stock_left"]
            assert left == 100 - sum(r.status_code == 202 for r in replies)
    finally:
        world.stop(proc)
        world.procs.remove(proc)


# --- the order of the checks -------------------------------------------------------------------------------


def test_order_413_before_401(client: httpx.Client, world: World, sale: dict) -> None:
    body = b"{" + b" " * BIG + b"}"
    expect(client.post(purchase_url(sale), content=body), 413, "payload_too_large")
    expect(client.post(purchase_url(sale), content=body, headers=bearer("junk")), 413, "payload_too_large")
    expect(client.post(f"{V1}/sales/abc/purchase", content=body), 413, "payload_too_large")


def test_order_401_before_422_and_404(client: httpx.Client, world: World, sale: dict) -> None:
    headers = {"Content-Type": "application/json", **bearer("junk")}
    expect(client.post(purchase_url(sale), content=b"{oops", headers=headers), 401, "unauthorized")
    expect(client.post(purchase_url(sale), json={"quantity": 0}), 401, "unauthorized")
    expect(client.post(f"{V1}/sales/987654321987/purchase"), 401, "unauthorized")
    expect(client.post(f"{V1}/sales/abc/purchase", headers={"Idempotency-Key": "bad key!"}), 401, "unauthorized")


def test_order_422_before_404(client: httpx.Client, world: World) -> None:
    headers = {**world.headers("ola"), "Content-Type": "application/json"}
    for url in (f"{V1}/sales/987654321987/purchase", f"{V1}/sales/abc/purchase"):
        expect(client.post(url, content=b"{oops", headers=headers), 422, "invalid_request")
        expect(client.post(url, json={"quantity": 101}, headers=headers), 422, "invalid_request")
        bad_key = {**headers, "Idempotency-Key": "bad key!"}
        expect(client.post(url, json={}, headers=bad_key), 422, "invalid_request")


def test_order_window_before_pause_before_not_ready(client: httpx.Client, world: World) -> None:
    admin = world.headers("admin", admin=True)
    # Never preheated: the window and the pause answer before not_ready.
    ended = make_sale(client, world, start_offset=-7200, length=3600, preheat=False)
    scheduled = make_sale(client, world, start_offset=3600, preheat=False)
    paused = make_sale(client, world, preheat=False)
    for s in (ended, scheduled, paused):
        assert client.patch(f"{V1}/sales/{s['id']}", json={"paused": True}, headers=admin).status_code == 200
    expect(buy(client, world, ended["id"], "pia"), 409, "ended")
    expect(buy(client, world, scheduled["id"], "pia"), 409, "not_started")
    expect(buy(client, world, paused["id"], "pia"), 409, "paused")
    # Loaded: not started and paused answers not_started.
    loaded = make_sale(client, world, start_offset=3600)
    assert client.patch(f"{V1}/sales/{loaded['id']}", json={"paused": True}, headers=admin).status_code == 200
    expect(buy(client, world, loaded["id"], "pia"), 409, "not_started")


def test_order_replay_then_paused_then_sold_out_then_limit(client: httpx.Client, world: World) -> None:
    admin = world.headers("admin", admin=True)
    sale = make_sale(client, world, stock=3, per_user_limit=2)
    first = accepted(buy(client, world, sale["id"], "quy", quantity=2, key="q"))
    # limit_exceeded before insufficient_stock: 1 left, quy asks for 2 more past a limit of 2.
    expect(buy(client, world, sale["id"], "quy", quantity=2), 409, "limit_exceeded")
    accepted(buy(client, world, sale["id"], "ray"))
    # Sold out, and quy is at the limit: sold_out answers first.
    expect(buy(client, world, sale["id"], "quy"), 409, "sold_out")
    # Paused and sold out: paused. A replay still answers its 202.
    assert client.patch(f"{V1}/sales/{sale['id']}", json={"paused": True}, headers=admin).status_code == 200
    expect(buy(client, world, sale["id"], "sol"), 409, "paused")
    expect(buy(client, world, sale["id"], "sol", key="new"), 409, "paused")
    assert accepted(buy(client, world, sale["id"], "quy", quantity=2, key="q")) == first


def test_order_after_the_sale_ends(client: httpx.Client, world: World) -> None:
    """A sale that sold out and then ended: 409 ended, and an idempotent replay still answers 202."""
    sale = make_sale(client, world, stock=1, start_offset=-60, length=62)
    assert sale["preheated"] and sale["status"] == "active"
    original = buy(client, world, sale["id"], "tom", key="before-end")
    order_id = accepted(original)
    expect(buy(client, world, sale["id"], "uli"), 409, "sold_out")
    ends = datetime.fromisoformat(sale["ends_at"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.1)
    view = client.get(f"{V1}/sales/{sale['id']}").json()
    assert view["status"] == "ended", view
    expect(buy(client, world, sale["id"], "uli"), 409, "ended")
    expect(buy(client, world, sale["id"], "uli", key="after-end"), 409, "ended")
    expect(buy(client, world, sale["id"], "tom", key="other"), 409, "ended")
    replay = buy(client, world, sale["id"], "tom", key="before-end")
    assert replay.status_code == 202 and replay.json() == original.json()
    assert replay.json()["order_id"] == order_id
    expect(buy(client, world, sale["id"], "tom", quantity=2, key="before-end"), 422, "idempotency_key_reused")


def test_a_streamed_oversized_body_without_a_token_is_413_first(client: httpx.Client, world: World) -> None:
    """No Content-Length (chunked): the cap is found while reading, still before the token is checked."""

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 1024

    sale = make_sale(client, world, stock=1)
    for path in (f"/api/v1/sales/{sale['id']}/purchase", "/api/v1/commodities"):
        reply = client.post(path, content=chunks())
        assert reply.status_code == 413, reply.text
        assert reply.json()["error"] == "payload_too_large"
