"""Hostile bodies on every endpoint that reads one: oversized (declared or streamed) is 413 `payload_too_large`;
deeply nested, non-UTF-8 (Latin-1, UTF-16/32, lone surrogates), enormous numbers and non-JSON content types are
422 `invalid_request`; never a 5xx, and nothing is created or changed."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.hostile.conftest import V1, expect, holdings
from tests.support import World, make_sale, window

CAP = 16 * 1024
BUYER = "bruno"


@pytest.fixture(scope="module")
def scene(client_module: httpx.Client, world: World) -> dict:
    sale = make_sale(client_module, world, stock=30, per_user_limit=10)
    first = client_module.post(f"{V1}/sales/{sale['id']}/purchase", headers=world.headers(BUYER))
    assert first.status_code == 202, first.text
    return {"sale": sale, "user": f"hostile_{secrets.token_hex(3)}", "name": f"hostile-{secrets.token_hex(3)}"}


def endpoints(world: World, scene: dict) -> list[tuple[str, str, dict[str, str], dict]]:
    """Each endpoint that reads a body: method, path, the right caller's headers, and a body it would accept."""
    sale = scene["sale"]
    starts, ends = window()
    admin = world.headers("admin", admin=True)
    credentials = {"username": scene["user"], "password": "long-enough-password"}
    return [
        ("POST", f"{V1}/users", {}, credentials),
        ("POST", f"{V1}/auth/token", {}, credentials),
        ("POST", f"{V1}/commodities", admin, {"name": scene["name"], "description": "d", "price_cents": 1}),
        ("POST", f"{V1}/sales", admin, {"commodity_id": sale["commodity_id"], "name": scene["name"], "price_cents": 1,
                                        "stock": 1, "starts_at": starts, "ends_at": ends}),
        ("PATCH", f"{V1}/sales/{sale['id']}", admin, {"paused": True}),
        ("POST", f"{V1}/sales/{sale['id']}/purchase", world.headers(BUYER), {"quantity": 1}),
    ]  # fmt: skip


def snapshot(client: httpx.Client, world: World, scene: dict) -> tuple:
    names = [
        item["name"]
        for kind in ("commodities", "sales")
        for item in client.get(f"{V1}/{kind}", params={"limit": 100}).json()["items"]
    ]
    login = client.post(f"{V1}/auth/token", json={"username": scene["user"], "password": "long-enough-password"})
    return holdings(client, world, scene["sale"]["id"], BUYER), scene["name"] in names, login.status_code


@pytest.fixture
def unchanged(client: httpx.Client, world: World, scene: dict) -> Iterator[None]:
    """The test's refused requests created nothing (no user, commodity, sale, order) and changed no sale."""
    before = snapshot(client, world, scene)
    assert before[1:] == (False, 401)
    yield
    assert snapshot(client, world, scene) == before


def send(client: httpx.Client, method: str, url: str, headers: dict[str, str], content, content_type: str):
    return client.request(method, url, content=content, headers={**headers, "Content-Type": content_type})


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def bad_bodies(good: dict) -> dict[str, tuple[bytes, str]]:
    """Bodies each endpoint must refuse with 422, and the Content-Type they are sent with."""
    field, value = next(iter(good.items()))
    text = json.dumps(good)
    rest = json.dumps({k: v for k, v in good.items() if k != field})[1:]

    def first_field_raw(raw: bytes) -> bytes:  # the body with the first field's value written out as given
        return b'{"' + field.encode() + b'": ' + raw + (b", " + rest.encode() if rest != "}" else b"}")

    # Latin-1 text where the endpoint would store it (its first field), else in a field of its own.
    latin1 = json.dumps({**good, field: "é"} if isinstance(value, str) else {**good, "é": 1}, ensure_ascii=False)
    return {
        "nested-arrays": (nested(5000), "application/json"),
        "nested-objects": (b'{"a":' * 2500 + b"1" + b"}" * 2500, "application/json"),
        "nested-in-a-field": (first_field_raw(nested(4000)), "application/json"),
        "latin-1": (latin1.encode("latin-1"), "application/json"),
        "utf-16": (text.encode("utf-16"), "application/json"),
        "utf-16-le-no-bom": (text.encode("utf-16-le"), "application/json"),
        "utf-32": (text.encode("utf-32"), "application/json"),
        "invalid-utf-8": (first_field_raw(b'"\xc3\x28"'), "application/json"),
        "huge-integer": (first_field_raw(b"9" * 6000), "application/json"),
        "nan": (first_field_raw(b"NaN"), "application/json"),
        "infinity": (first_field_raw(b"1e999"), "application/json"),
        "form": (b"&".join(f"{k}={v}".encode() for k, v in good.items()), "application/x-www-form-urlencoded"),
        "multipart": (
            b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
        "xml": (b"<request><quantity>1</quantity></request>", "application/xml"),
        "nul-bytes": (b"\x00" * 64, "application/octet-stream"),
    }


BAD = sorted(bad_bodies({"name": "x"}))


@pytest.mark.parametrize("kind", BAD)
def test_malformed_bodies_are_422(client: httpx.Client, world: World, scene: dict, unchanged: None, kind: str) -> None:
    for method, url, headers, good in endpoints(world, scene):
        content, content_type = bad_bodies(good)[kind]
        assert len(content) <= CAP
        expect(send(client, method, url, headers, content, content_type), 422, "invalid_request")


def test_lone_surrogates_in_every_string_field(
    client: httpx.Client, world: World, scene: dict, unchanged: None
) -> None:
    """A string a JSON escape makes from half a UTF-16 pair is not text (and cannot be stored): 422, not 500."""
    for method, url, headers, good in endpoints(world, scene):
        for field, value in good.items():
            if not isinstance(value, str):
                continue
            body = json.dumps({**good, field: value + "\ud83d"}).encode()
            expect(send(client, method, url, headers, body, "application/json"), 422, "invalid_request")
        # And in a field's name (which the 422's message names).
        body = json.dumps({**good, "\udc00": 1}).encode()
        expect(send(client, method, url, headers, body, "application/json"), 422, "invalid_request")


def test_oversized_bodies_are_413(client: httpx.Client, world: World, scene: dict, unchanged: None) -> None:
    bodiless = [
        ("POST", f"{V1}/sales/{scene['sale']['id']}/preheat", world.headers("admin", admin=True)),
        ("POST", f"{V1}/orders/1/pay", world.headers(BUYER)),
        ("POST", f"{V1}/orders/1/cancel", world.headers(BUYER)),
    ]
    for method, url, headers, good in endpoints(world, scene):
        text = json.dumps(good)
        padded = (text[:-1] + ', "pad": "' + "x" * CAP + '"}').encode()
        expect(send(client, method, url, headers, padded, "application/json"), 413, "payload_too_large")

        def chunks(body: bytes = padded) -> Iterator[bytes]:  # no Content-Length: cut off as it grows
            for at in range(0, len(body), 1024):
                yield body[at : at + 1024]

        expect(send(client, method, url, headers, chunks(), "application/json"), 413, "payload_too_large")
    for method, url, headers in bodiless:
        expect(send(client, method, url, headers, b"x" * (CAP + 1), "application/json"), 413, "payload_too_large")


def test_the_good_bodies_are_accepted(client: httpx.Client, world: World) -> None:
    """The control: the same endpoints accept the well-formed bodies the bad ones were made from (on a scene of
    its own, so the others' stays untouched)."""
    scene = {"sale": make_sale(client, world, stock=5), "user": f"good_{secrets.token_hex(3)}", "name": "good"}
    statuses = [
        client.request(method, url, json=good, headers=headers).status_code
        for method, url, headers, good in endpoints(world, scene)
    ]
    assert statuses == [201, 200, 201, 201, 200, 409], statuses  # the last: the sale was just paused
