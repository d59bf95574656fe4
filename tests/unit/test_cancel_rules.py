"""The rules of cancelling an order (Orders.cancel), on fakes of its ports: the owner cancels an open order once and
its stock is owed back once; past the window it ends cancelled by `timeout`; a paid order stays paid. Against
MariaDB and Redis: tests/pipeline (test_end_to_end, test_user_state)."""

from __future__ import annotations

import pytest

from app.application.orders import Orders
from app.domain.errors import Conflict, NotFound
from app.domain.models import OrderStatus as S
from app.infrastructure.tokens import Principal
from tests.unit.order_fakes import NothingPending, OrderRows, Provider, order

OWNER = Principal("u1", "user")


def orders(rows: OrderRows) -> Orders:
    return Orders(rows, NothingPending(), Provider(), rows)


async def test_the_owner_cancels_an_open_order_and_its_stock_is_owed_back_once() -> None:
    rows = OrderRows(order())
    first = await orders(rows).cancel(OWNER, 7)
    again = await orders(rows).cancel(OWNER, 7)  # repeating it changes nothing
    assert first.status is again.status is S.CANCELLED and first.cancel_reason == "user"
    assert [(r.order_id, r.quantity) for r in rows.returns] == [(7, 2)]


async def test_past_its_window_an_unpaid_order_ends_cancelled_by_timeout() -> None:
    rows = OrderRows(order(), expired=(7,))
    cancelled = await orders(rows).cancel(OWNER, 7)
    assert (cancelled.status, cancelled.cancel_reason) == (S.CANCELLED, "timeout")
    assert len(rows.returns) == 1


@pytest.mark.parametrize("status", [S.PAID, S.PAYING])
async def test_a_paid_or_paying_order_is_not_cancelled(status: S) -> None:
    rows = OrderRows(order(status=status))
    with pytest.raises(Conflict) as caught:
        await orders(rows).cancel(OWNER, 7)
    assert caught.value.code == "order_paid"
    assert rows.orders[7].status is status and rows.returns == []


async def test_no_one_cancels_another_users_order() -> None:
    rows = OrderRows(order(user="u2"))
    with pytest.raises(NotFound):
        await orders(rows).cancel(OWNER, 7)
    assert rows.orders[7].status is S.CREATED and rows.returns == []
