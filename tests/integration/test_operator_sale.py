"""The operator's lifecycle functions called directly (no kopf, no Kubernetes) against the real database and
Redis: a handler re-run (or two at once, or a restarted operator) finds the sale it made; stock set as an
absolute total is added once however often it is applied; a cut below what is sold is refused and changes
nothing; a spec that cannot run is Failed. The status goes to a list instead of the API server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from app.application.sale_orders import SaleOrders
from app.bootstrap import drain_check, open_container
from flashsale_operator.config import OperatorConfig
from flashsale_operator.context import Operator
from flashsale_operator.lifecycle import SpecInvalid, apply_spec, finalize
from flashsale_operator.scaling import Consumers, ScaleResult
from flashsale_operator.spec import Resource
from tests.pipeline.harness import Db
from tests.support import World, window


class StatusLog:
    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    async def write(self, ref: Resource, status: dict[str, Any]) -> bool:
        self.written.append(status)
        return True

    def condition(self, kind: str) -> dict[str, str]:
        return next(c for c in self.written[-1]["conditions"] if c["type"] == kind)


class NoScaler:
    async def reconcile(self, *, consumers: Consumers, live: bool, now: datetime, **_: Any) -> ScaleResult:
        return ScaleResult(consumers.min_replicas if live else 0, "deployment", None)

    async def remove(self, *, namespace: str, name: str) -> None:
        return None


@pytest.fixture
async def operators(world: World) -> AsyncIterator[list[Operator]]:
    """Operators as a restart makes them: each new one shares the stores and remembers nothing."""
    async with open_container(world.settings) as c:
        made: list[Operator] = []

        def new() -> Operator:
            op = Operator(
                c.catalogue,
                c.preheater,
                SaleOrders(c.db, drain_check(c.cache, c.in_flight, c.names)),
                c.cache,
                NoScaler(),
                StatusLog(),
                OperatorConfig(drain_slack_seconds=0),
                use_cache=True,
            )
            made.append(op)
            return op

        new()
        new()
        yield made


def resource(name: str) -> Resource:
    return Resource("shop", name, str(uuid.uuid4()))


WINDOW = window(-5, 3600)  # one window for every spec of the module: a window cannot change on a live sale


def spec(**changes: Any) -> dict[str, Any]:
    """A FlashSale spec (with the CRD's defaults filled in, as the API server does) of a sale open now."""
    starts, ends = WINDOW
    return {
        "commodity": {"name": "Test commodity", "priceCents": 2500},
        "priceCents": 1500,
        "stock": 6,
        "startsAt": starts,
        "endsAt": ends,
        "perUserLimit": 1,
        "paymentTimeoutSeconds": 60,
        "preheatLeadSeconds": 3,
        "paused": False,
        "consumers": {"minReplicas": 1, "maxReplicas": 4, "messagesPerReplica": 50},
    } | changes


async def test_reruns_and_racing_handlers_find_the_sale_they_made(operators: list[Operator], world: World) -> None:
    first, restarted = operators
    ref = resource("mugs")
    views = await asyncio.gather(*(apply_spec(first, ref, spec(), 1) for _ in range(3)))
    again = await apply_spec(restarted, ref, spec(), 1)
    assert {v.sale.id for v in views} == {again.sale.id}
    with Db(world) as db:
        assert db.value("SELECT COUNT(*) FROM sales WHERE external_key = %s", ref.key) == 1
        assert db.value("SELECT COUNT(*) FROM commodities WHERE external_key = %s", ref.key) == 1
    assert restarted.status.written[-1]["saleId"] == str(again.sale.id)  # type: ignore[attr-defined]


async def buy(api: str, world: World, sale_id: int, user: str, quantity: int = 1) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        reply = await client.post(
            f"/api/v1/sales/{sale_id}/purchase", json={"quantity": quantity}, headers=world.headers(user)
        )
    assert reply.status_code == 202, reply.text


async def test_stock_is_a_total_so_retries_and_restarts_add_it_once(
    operators: list[Operator], world: World, api: str
) -> None:
    first, restarted = operators
    ref = resource("kettles")
    view = await apply_spec(first, ref, spec(stock=5, perUserLimit=1), 1)
    assert view.preheated  # inside its window: loaded before its first status
    for user in ("k0", "k1"):
        await buy(api, world, view.sale.id, user)
    raised = spec(stock=9, perUserLimit=1)
    for op in (first, first, restarted, restarted):  # the handler retried, then re-run after a restart
        view = await apply_spec(op, ref, raised, 2)
        assert (view.sale.stock, view.stock_left) == (9, 7)
    with Db(world) as db:
        assert db.sale_row(view.sale.id)[0] == 9  # (no workers here: the row's stock left waits for the orders)
    assert restarted.status.written[-1]["stockLeft"] == 7  # type: ignore[attr-defined]


async def test_a_cut_below_sold_is_refused_and_changes_nothing(
    operators: list[Operator], world: World, api: str
) -> None:
    op = operators[0]
    ref = resource("vases")
    view = await apply_spec(op, ref, spec(stock=4, perUserLimit=3), 1)
    await buy(api, world, view.sale.id, "v0", quantity=3)
    view = await apply_spec(op, ref, spec(stock=2, perUserLimit=3, paused=True), 2)
    assert (view.sale.stock, view.stock_left, view.sale.paused) == (4, 1, True)  # the pause still applies
    refusal = op.status.condition("SpecApplied")  # type: ignore[attr-defined]
    assert refusal["status"] == "False" and refusal["reason"] == "StockBelowSold"
    assert refusal["message"].startswith("spec.stock refused: stock 2 is below what is sold"), refusal
    with Db(world) as db:
        assert db.sale_row(view.sale.id)[0] == 4
    assert (await op.catalogue.sale(view.sale.id)).stock_left == 1
    assert op.status.written[-1]["observedGeneration"] == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"endsAt": "2020-01-01T00:00:00Z"}, "spec.endsAt"),
        ({"commodity": None, "commodityRef": "99999999"}, "spec.commodityRef"),
    ],
)
async def test_a_spec_that_cannot_run_is_failed(
    operators: list[Operator], world: World, changes: dict[str, Any], field: str
) -> None:
    op = operators[0]
    ref = resource("broken")
    with pytest.raises(SpecInvalid, match=field.replace(".", r"\.")):
        await apply_spec(op, ref, {k: v for k, v in (spec() | changes).items() if v is not None}, 1)
    status = op.status.written[-1]  # type: ignore[attr-defined]
    assert status["phase"] == "Failed" and "saleId" not in status
    assert op.status.condition("SpecValid")["status"] == "False"  # type: ignore[attr-defined]
    with Db(world) as db:
        assert db.value("SELECT COUNT(*) FROM sales WHERE external_key = %s", ref.key) == 0


async def test_finalize_ends_the_sale_and_removes_its_cache(operators: list[Operator], world: World) -> None:
    op = operators[0]
    ref = resource("lamps")
    view = await apply_spec(op, ref, spec(), 1)
    assert await op.cache.is_loaded(view.sale.id)
    await finalize(op, ref, spec(), waited_seconds=0)
    assert not await op.cache.is_loaded(view.sale.id)
    ended = await op.catalogue.sale(view.sale.id)
    assert ended.status.value == "ended"
    await finalize(op, ref, spec(), waited_seconds=0)  # a re-run after a crash finds nothing more to do


async def test_a_sale_ended_before_its_start_ends_at_its_start(operators: list[Operator], world: World) -> None:
    """Ending a sale that has not opened yet never puts its end before its start."""
    op = operators[0]
    ref = resource("later")
    starts, ends = window(600, 3600)
    view = await apply_spec(op, ref, spec(startsAt=starts, endsAt=ends), 1)
    ended = await op.catalogue.end_sale(view.sale.id)
    assert ended.sale.ends_at == ended.sale.starts_at == view.sale.starts_at
    with Db(world) as db:
        assert db.value("SELECT ends_at >= starts_at FROM sales WHERE id = %s", view.sale.id) == 1
    # A sale that is open ends now, as before.
    live = await apply_spec(op, resource("open"), spec(), 1)
    cut = await op.catalogue.end_sale(live.sale.id)
    assert live.sale.starts_at < cut.sale.ends_at < live.sale.ends_at
