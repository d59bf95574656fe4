"""The document against the validation actually applied, operation by operation, in process against the real
services: for each request body, a valid example made from the document is accepted (the operation's success
status), and bodies that each break one documented rule (type, bounds, length, pattern, unknown field, missing
field) are refused with 422 `invalid_request` naming that field. Each example is first checked against the
document itself, so the two can only agree or fail here."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.api.app import create_app
from app.api.operations import OPERATIONS
from tests.document import broken_bodies, component, valid_body, validator
from tests.support import World, make_sale, window

BODIED = [op for op in OPERATIONS if op.request is not None]


@pytest.fixture(scope="module")
def app_client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.settings), base_url="http://127.0.0.1") as c:
        yield c


Case = tuple[str, dict[str, str], dict[str, Any]]  # the path, the caller's headers, what the valid body must hold


def scene(client: TestClient, world: World, path: str) -> Case:
    """A fresh scene for one valid request to `path`: what must exist first, and the values no schema can state
    (an existing commodity, `ends_at` after `starts_at`, a username not yet taken)."""
    admin = world.headers("admin", admin=True)
    if path.endswith("/users"):
        return path, {}, {"username": f"walk_{secrets.token_hex(4)}"}
    if path.endswith("/auth/token"):
        username = f"walk_{secrets.token_hex(4)}"
        password = valid_body("Credentials")["password"]
        made = client.post("/api/v1/users", json={"username": username, "password": password})
        assert made.status_code == 201, made.text
        return path, {}, {"username": username}
    if path.endswith("/commodities"):
        return path, admin, {}
    if path.endswith("/sales"):
        sale = make_sale(client, world, preheat=False)  # type: ignore[arg-type]  # TestClient is an httpx.Client
        starts, ends = window()
        return path, admin, {"commodity_id": sale["commodity_id"], "starts_at": starts, "ends_at": ends}
    sale = make_sale(client, world, stock=1000, per_user_limit=1000)  # type: ignore[arg-type]
    path = path.replace("{id}", sale["id"])
    if path.endswith("/purchase"):
        return path, world.headers(f"walk-{secrets.token_hex(3)}"), {}
    return path, admin, {}


def op_id(op: Any) -> str:
    return f"{op.method} {op.path}"


@pytest.mark.parametrize("op", BODIED, ids=op_id)
def test_the_documented_valid_body_is_accepted(app_client: TestClient, world: World, op: Any) -> None:
    path, headers, overrides = scene(app_client, world, op.path)
    body = valid_body(op.request.__name__, overrides)
    assert not list(validator(component(op.request.__name__)).iter_errors(body)), body
    reply = app_client.request(op.method, path, json=body, headers=headers)
    assert reply.status_code == op.ok, (body, reply.text)


@pytest.mark.parametrize("op", BODIED, ids=op_id)
def test_each_documented_rule_is_enforced_and_named(app_client: TestClient, world: World, op: Any) -> None:
    path, headers, overrides = scene(app_client, world, op.path)
    good = valid_body(op.request.__name__, overrides)
    cases = broken_bodies(op.request.__name__, good)
    assert {c.rule for c in cases} >= {"type", "additionalProperties"}
    check = validator(component(op.request.__name__))
    for case in cases:
        assert list(check.iter_errors(case.body)), f"the document accepts {case}"
        reply = app_client.request(op.method, path, json=case.body, headers=headers)
        assert reply.status_code == 422, (case, reply.text)
        answer = reply.json()
        assert answer["error"] == "invalid_request" and answer["field"] == case.field, (case, answer)
        assert case.field in answer["message"], answer


def test_the_walk_covers_every_rule_of_every_body() -> None:
    rules: set[str] = set()
    for op in BODIED:
        rules |= {c.rule for c in broken_bodies(op.request.__name__, valid_body(op.request.__name__))}
    assert rules == {"additionalProperties", "required", "type", "minimum", "maximum", "minLength", "maxLength",
                     "pattern"}  # fmt: skip


QUERIES: list[tuple[str, str, Callable[[World], dict[str, str]]]] = [
    ("/api/v1/commodities", "limit", lambda w: {}),
    ("/api/v1/commodities", "cursor", lambda w: {}),
    ("/api/v1/sales", "limit", lambda w: {}),
    ("/api/v1/sales", "cursor", lambda w: {}),
    ("/api/v1/orders", "limit", lambda w: w.headers("walker")),
    ("/api/v1/orders", "cursor", lambda w: w.headers("walker")),
    ("/api/v1/orders", "sale_id", lambda w: w.headers("walker")),
]


@pytest.mark.parametrize(("path", "name", "headers"), QUERIES)
def test_query_parameters_are_checked_as_documented(
    app_client: TestClient, world: World, path: str, name: str, headers: Callable[[World], dict[str, str]]
) -> None:
    from app.api.openapi import document

    params = {p["name"]: p["schema"] for p in document()["paths"][path]["get"]["parameters"]}
    schema = params[name]
    check = validator(schema)
    good = 1 if schema["type"] == "integer" else "12"
    assert not list(check.iter_errors(good))
    assert app_client.get(path, params={name: good}, headers=headers(world)).status_code == 200
    bad = ["x", "-1", "1.5", "0" if schema["type"] == "integer" else "1" * 20, "101" if name == "limit" else "a"]
    for value in bad:
        as_json: Any = int(value) if schema["type"] == "integer" and value.lstrip("-").isdigit() else value
        assert list(check.iter_errors(as_json)), value
        reply = app_client.get(path, params={name: value}, headers=headers(world))
        assert reply.status_code == 422 and reply.json()["field"] == name, (value, reply.text)


@pytest.mark.parametrize(
    ("starts", "ends", "status"),
    [
        ("1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", 201),  # the whole range: it sells
        ("9999-12-31T23:59:58z", "9999-12-31t23:59:59.999999999+00:00", 201),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-00:01", 422),  # year 10000 in UTC
        ("0001-01-01T00:00:00+00:01", "2026-01-01T00:00:00Z", 422),  # before year 1 in UTC
        ("1969-12-31T23:59:59Z", "2026-01-01T00:00:00Z", 422),
        ("2026-01-01T00:00:00+0000", "2027-01-01T00:00:00Z", 422),
    ],
)
def test_times_at_the_edges_of_the_range_are_422_or_work_never_500(
    app_client: TestClient, world: World, starts: str, ends: str, status: int
) -> None:
    admin = world.headers("admin", admin=True)
    commodity = app_client.post("/api/v1/commodities", json={"name": "edge", "price_cents": 1}, headers=admin)
    body = {"commodity_id": commodity.json()["id"], "name": "edge", "price_cents": 1, "stock": 5,
            "starts_at": starts, "ends_at": ends, "payment_timeout_seconds": 86_400}  # fmt: skip
    reply = app_client.post("/api/v1/sales", json=body, headers=admin)
    assert reply.status_code == status, reply.text
    if status == 422:
        assert reply.json()["field"] in ("starts_at", "ends_at"), reply.text
        return
    sale = reply.json()["id"]
    assert app_client.post(f"/api/v1/sales/{sale}/preheat", headers=admin).status_code == 200
    bought = app_client.post(f"/api/v1/sales/{sale}/purchase", headers=world.headers("edge-buyer"))
    assert bought.status_code in (202, 409), bought.text  # 409 not_started for the sale of year 9999
    assert app_client.get(f"/api/v1/sales/{sale}").status_code == 200
