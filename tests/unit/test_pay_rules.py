"""The rules of paying an order (Orders.pay), on fakes of its ports: who may pay, once, what a decline leaves, and
what happens to a charge that lands after the sweep gave the order back. The same path against MariaDB:
tests/pipeline/test_recovery.py and the end-to-end tests."""

from __future__ import annotations

import pytest

from app.application.orders import Orders, PaymentFailed
from app.domain.errors import Conflict, NotFound
from app.domain.models import OrderStatus as S
from app.infrastructure.tokens import Principal
from tests.unit.order_fakes import NothingPending, OrderRows, Provider, order

OWNER = Principal("u1", "user")


def orders(rows: OrderRows, provider: Provider) -> Orders:
    return Orders(rows, NothingPending(), provider, rows)


async def test_an_open_order_is_charged_once_and_paid() -> None:
    rows, provider = OrderRows(order()), Provider()
    paid = await orders(rows, provider).pay(OWNER, 7)
    assert paid.status is S.PAID and rows.orders[7].status is S.PAID
    assert (provider.charges, provider.refunds) == (["7"], [])


async def test_paying_a_paid_order_again_charges_nothing() -> None:
    rows, provider = OrderRows(order(status=S.PAID)), Provider()
    assert (await orders(rows, provider).pay(OWNER, 7)).status is S.PAID
    assert provider.charges == []


async def test_a_declined_charge_leaves_the_order_open() -> None:
    rows, provider = OrderRows(order()), Provider(ok=False)
    with pytest.raises(PaymentFailed) as caught:
        await orders(rows, provider).pay(OWNER, 7)
    assert caught.value.status == 402
    assert rows.orders[7].status is S.CREATED and provider.refunds == []


@pytest.mark.parametrize(
    ("status", "expired", "code"),
    [
        (S.CANCELLED, False, "order_cancelled"),
        (S.PAYING, False, "payment_in_progress"),
        (S.CREATED, True, "order_expired"),  # the window closed: nothing is claimed
    ],
)
async def test_what_cannot_be_paid_is_refused_without_a_charge(status: S, expired: bool, code: str) -> None:
    rows, provider = OrderRows(order(status=status), expired=(7,) if expired else ()), Provider()
    with pytest.raises(Conflict) as caught:
        await orders(rows, provider).pay(OWNER, 7)
    assert caught.value.code == code
    assert provider.charges == [] and rows.orders[7].status is status


async def test_another_users_order_is_not_found() -> None:
    rows, provider = OrderRows(order(user="u2")), Provider()
    with pytest.raises(NotFound):
        await orders(rows, provider).pay(OWNER, 7)
    with pytest.raises(NotFound):  # an admin pays no one else's order either
        await orders(rows, provider).pay(Principal("admin", "admin"), 7)
    assert provider.charges == []


async def test_a_late_charge_on_a_reopened_order_is_kept_while_it_can_be_paid() -> None:
    rows = OrderRows(order())
    # The sweep took the stalled payment for dead and gave the order back (paying -> created) mid-charge.
    provider = Provider(meanwhile=lambda: rows.move(7, S.PAYING, S.CREATED))
    assert (await orders(rows, provider).pay(OWNER, 7)).status is S.PAID
    assert provider.refunds == []


@pytest.mark.parametrize(("then", "code"), [("cancelled", "order_cancelled"), ("expired", "order_expired")])
async def test_a_late_charge_that_can_no_longer_pay_is_refunded(then: str, code: str) -> None:
    rows = OrderRows(order())

    def given_back() -> None:
        rows.move(7, S.PAYING, S.CREATED)
        if then == "cancelled":
            rows.move(7, S.CREATED, S.CANCELLED, reason="user")
        rows.expired.add(7)

    provider = Provider(meanwhile=given_back)
    with pytest.raises(Conflict) as caught:
        await orders(rows, provider).pay(OWNER, 7)
    assert caught.value.code == code
    assert provider.refunds == ["7"] and rows.orders[7].status is not S.PAID
