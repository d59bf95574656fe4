"""The purchase fast path (app/api/fast_purchase.py) answers POST /sales/{id}/purchase, and answers it exactly as
the Starlette route behind it would: the same status, headers and body (in the same two sends), the same
metrics, for every answer of the contract. Each case goes to the app `create_app` makes (the fast path) and to
the Starlette app inside it (the route), in process, against the session's real stores."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.types import ASGIApp, Message

from app.api.app import Api, create_app
from app.infrastructure.script_batch import NotSent, ReplyLost
from tests.support import World, make_sale

V1 = "/api/v1"
BIG = 16 * 1024 + 1


@pytest.fixture
async def served(world: World) -> AsyncIterator[Api]:
    app = create_app(dataclasses.replace(world.settings, rate_limit_user=3))
    async with app.router.lifespan_context(app.app):
        yield app


async def call(
    app: ASGIApp,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    chunks: Sequence[bytes] = (b"",),
    method: str = "POST",
    sent: list[Message] | None = None,
) -> list[Message]:
    """One request straight through ASGI; every message the app sends (into `sent`, if given)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.7", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    incoming: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent = [] if sent is None else sent

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def answer(sent: list[Message]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], list(sent[0]["headers"]), sent[1]["body"]


def requests_counted(status: int) -> float:
    labels = {"route": "purchase", "method": "POST", "code": str(status)}
    return REGISTRY.get_sample_value("flashsale_http_requests_total", labels) or 0.0


def outcomes_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("flashsale_purchases_total", {"outcome": outcome}) or 0.0


async def both(served: Api, path: str, **kwargs: Any) -> tuple[Any, Any]:
    """The fast path's answer and the route's, each proven to come from where it should."""
    taken = served.purchase.answered
    fast = answer(await call(served, path, **kwargs))
    assert served.purchase.answered == taken + 1, "the fast path did not answer"
    slow = answer(await call(served.app, path, **kwargs))
    assert served.purchase.answered == taken + 1, "the route's answer went through the fast path"
    return fast, slow


@pytest.fixture
def sales(client: httpx.Client, world: World) -> dict[str, dict]:
    return {
        "open": make_sale(client, world, stock=50, per_user_limit=1),
        "one_left": make_sale(client, world, stock=1, per_user_limit=5),
        "ended": make_sale(client, world, start_offset=-7200, length=60),
        "not_started": make_sale(client, world, start_offset=3600),
        "not_loaded": make_sale(client, world, preheat=False),
    }


def auth(world: World, user: str | None = None) -> tuple[str, str]:
    return ("Authorization", f"Bearer {world.token(user or 'u-' + secrets.token_hex(4))}")


async def test_the_purchase_route_is_the_fast_paths_and_the_rest_is_starlettes(served: Api, world: World) -> None:
    taken = served.purchase.answered
    assert answer(await call(served, "/healthz", method="GET"))[0] == 200
    assert answer(await call(served, f"{V1}/sales/1/purchase", method="GET"))[0] == 405
    assert answer(await call(served, f"{V1}/sales/1/purchase/", headers=[auth(world)]))[0] == 307  # Starlette's
    assert served.purchase.answered == taken
    assert answer(await call(served, f"{V1}/sales/1/purchase"))[0] == 401
    assert served.purchase.answered == taken + 1


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("declared_too_large", 413),
        ("streamed_too_large", 413),
        ("no_token", 401),
        ("bad_token", 401),
        ("bad_token_first", 401),
        ("bad_key_first", 422),
        ("too_large_and_no_token", 413),
        ("bad_json", 422),
        ("bad_quantity", 422),
        ("unknown_field", 422),
        ("bad_key", 422),
        ("bad_json_and_no_token", 401),
        ("malformed_id", 404),
        ("no_such_sale", 404),
        ("ended", 409),
        ("not_started", 409),
        ("not_loaded", 503),
        ("content_length_not_a_number", 413),  # a length that bounds nothing: refused as too large
        ("id_zero", 404),
        ("id_of_20_digits", 404),
        ("insufficient_stock", 409),
    ],
)
async def test_each_error_is_answered_exactly_as_the_route_answers_it(
    served: Api, world: World, sales: dict[str, dict], case: str, status: int
) -> None:
    sale = f"{V1}/sales/{sales['open']['id']}/purchase"
    token = auth(world)
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "declared_too_large": (sale, {"headers": [token, ("Content-Length", str(BIG))], "chunks": [b"x" * BIG]}),
        "streamed_too_large": (sale, {"headers": [token], "chunks": [b"{" * 9000, b" " * 9000, b"}"]}),
        "no_token": (sale, {}),
        "bad_token": (sale, {"headers": [("Authorization", "Bearer not.a.token")]}),
        # A header sent twice: the first one counts, as Starlette's Headers.get reads it.
        "bad_token_first": (sale, {"headers": [("Authorization", "Bearer junk"), token]}),
        "bad_key_first": (sale, {"headers": [token, ("Idempotency-Key", "a b"), ("Idempotency-Key", "ok")]}),
        "too_large_and_no_token": (sale, {"chunks": [b"x" * BIG]}),
        "bad_json": (sale, {"headers": [token], "chunks": [b"{nope"]}),
        "bad_quantity": (sale, {"headers": [token], "chunks": [b'{"quantity": 0}']}),
        "unknown_field": (sale, {"headers": [token], "chunks": [b'{"qty": 1}']}),
        "bad_key": (sale, {"headers": [token, ("Idempotency-Key", "no spaces")]}),
        "bad_json_and_no_token": (sale, {"chunks": [b"{nope"]}),
        "malformed_id": (f"{V1}/sales/abc/purchase", {"headers": [token]}),
        "no_such_sale": (f"{V1}/sales/987654321987/purchase", {"headers": [token]}),
        "ended": (f"{V1}/sales/{sales['ended']['id']}/purchase", {"headers": [token]}),
        "not_started": (f"{V1}/sales/{sales['not_started']['id']}/purchase", {"headers": [token]}),
        "not_loaded": (f"{V1}/sales/{sales['not_loaded']['id']}/purchase", {"headers": [token]}),
        "content_length_not_a_number": (sale, {"headers": [token, ("Content-Length", "abc")]}),
        "id_zero": (f"{V1}/sales/0/purchase", {"headers": [token]}),
        "id_of_20_digits": (f"{V1}/sales/{'9' * 20}/purchase", {"headers": [token]}),
        "insufficient_stock": (
            f"{V1}/sales/{sales['one_left']['id']}/purchase",
            {"headers": [token], "chunks": [b'{"quantity": 2}']},
        ),
    }
    path, kwargs = cases[case]
    counted = requests_counted(status)
    fast, slow = await both(served, path, **kwargs)
    assert fast == slow
    assert fast[0] == status
    assert requests_counted(status) == counted + 2  # once each, under the same route label
    body = json.loads(fast[2])
    assert set(body) <= {"error", "message", "field"} and body["message"]
    if status == 503:
        assert (b"retry-after", b"1") in fast[1]


async def test_accepted_replayed_and_refused_purchases_answer_alike(
    served: Api, world: World, sales: dict[str, dict]
) -> None:
    sale = f"{V1}/sales/{sales['open']['id']}/purchase"
    user = "buyer-" + secrets.token_hex(4)
    accepted = outcomes_counted("accepted")
    first = answer(await call(served, sale, headers=[auth(world, user), ("Idempotency-Key", "k-1")]))
    assert first[0] == 202 and json.loads(first[2])["status"] == "pending"
    assert outcomes_counted("accepted") == accepted + 1
    # A replay of the key: the same 202, byte for byte, from either path.
    replayed = outcomes_counted("replay")
    fast, slow = await both(served, sale, headers=[auth(world, user), ("Idempotency-Key", "k-1")])
    assert fast == slow == first
    assert outcomes_counted("replay") == replayed + 2
    # The user's one unit is taken: the next purchase is past the per-user limit, on either path.
    fast, slow = await both(served, sale, headers=[auth(world, user)], chunks=[b'{"quantity": 1}'])
    assert fast == slow
    assert fast[0] == 409 and json.loads(fast[2])["error"] == "limit_exceeded"
    # Over the per-user rate (3 a second here), with Retry-After. The rate counts per second of Redis' clock: a
    # second that turns between the calls starts a fresh count, so the round is tried again then.
    for _round in range(5):
        hurried = auth(world, "hurried-" + secrets.token_hex(4))
        for _ in range(3):
            await call(served, sale, headers=[hurried], chunks=[b'{"quantity": 7}'])
        fast, slow = await both(served, sale, headers=[hurried], chunks=[b'{"quantity": 7}'])
        if fast[0] == slow[0] == 429:
            break
    assert fast == slow
    assert fast[0] == 429 and (b"retry-after", b"1") in fast[1]


async def test_an_unexpected_error_is_a_500_then_raised_to_the_server(
    served: Api, world: World, sales: dict[str, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(_req: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(served.app.state.container.purchase, "purchase", broken)
    sale = f"{V1}/sales/{sales['open']['id']}/purchase"
    counted = requests_counted(500)
    answers = []
    for app in (served, served.app):
        sent: list[Message] = []
        with pytest.raises(RuntimeError, match="a bug"):
            await call(app, sale, headers=[auth(world)], sent=sent)
        answers.append(answer(sent))
    assert answers[0] == answers[1]
    assert answers[0][0] == 500 and json.loads(answers[0][2])["error"] == "internal_error"
    assert requests_counted(500) == counted + 2


async def test_a_sold_out_sale_answers_alike(served: Api, world: World, sales: dict[str, dict]) -> None:
    sale = f"{V1}/sales/{sales['one_left']['id']}/purchase"
    assert answer(await call(served, sale, headers=[auth(world)]))[0] == 202  # the last unit
    keyed = ("Idempotency-Key", "k-late")
    # A keyed purchase always reaches Redis; its sold_out teaches the process the flag.
    assert answer(await call(served, sale, headers=[auth(world), keyed]))[0] == 409
    for key, shortcut in (((), 2), ((keyed,), 0)):  # the in-process flag's answer, and Redis' own
        before = REGISTRY.get_sample_value("flashsale_sold_out_shortcuts_total") or 0.0
        fast, slow = await both(served, sale, headers=[auth(world), *key])
        assert fast == slow
        assert fast[0] == 409 and json.loads(fast[2])["error"] == "sold_out"
        assert (REGISTRY.get_sample_value("flashsale_sold_out_shortcuts_total") or 0.0) == before + shortcut


@pytest.mark.parametrize(
    ("error", "key", "settles", "says"),
    [
        (NotSent, None, True, "nothing was reserved"),
        (ReplyLost, "k-lost", True, "nothing was reserved"),  # no record: the id is fenced, a late call is refused
        (ReplyLost, None, True, "nothing was reserved"),
        (ReplyLost, "k-lost", False, "same Idempotency-Key"),  # Redis stays down: nobody can tell
        (ReplyLost, None, False, "GET /api/v1/orders"),
    ],
)
async def test_a_redis_failure_is_answered_alike(
    served: Api,
    world: World,
    sales: dict[str, dict],
    monkeypatch: pytest.MonkeyPatch,
    error: type[Exception],
    key: str | None,
    settles: bool,
    says: str,
) -> None:
    """A reservation that never reached Redis; one whose reply was lost, settled against the real Redis; and one
    that cannot be settled (Redis stays unreachable for the settling tries)."""
    cache = served.app.state.container.cache
    calls = 0

    async def failing(*_args: Any, **_kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise error("Redis went away")

    async def unreachable(*_args: Any, **_kwargs: Any) -> Any:
        raise RedisConnectionError("Redis is still away")

    monkeypatch.setattr(cache, "reserve", failing)
    if not settles:
        monkeypatch.setattr(cache, "settle", unreachable)
    sale = f"{V1}/sales/{sales['open']['id']}/purchase"
    headers = [auth(world), *((("Idempotency-Key", key),) if key else ())]
    counted = requests_counted(503)
    fast, slow = await both(served, sale, headers=headers)
    assert calls == 2
    assert fast == slow
    assert fast[0] == 503 and (b"retry-after", b"1") in fast[1]
    body = json.loads(fast[2])
    assert body["error"] == "unavailable" and says in body["message"], body
    assert requests_counted(503) == counted + 2
    fenced = await cache.redis.smembers(cache.names.sale(int(sales["open"]["id"])).fenced)
    if error is ReplyLost and settles:
        assert len(fenced) == 2  # each path's order id, so that a late call reserves nothing
    else:
        assert not fenced
