"""GET /orders, GET /orders/{id}, POST /orders/{id}/pay, POST /orders/{id}/cancel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.auth import principal
from app.api.bodies import Reply
from app.api.schema import page_args, path_id, query_id
from app.api.shapes import OrderPage
from app.api.views import order_view, page
from app.application.orders import Orders


def _orders(request: Request) -> Orders:
    return request.app.state.container.orders


async def list_orders(request: Request) -> Response:
    who = principal(request)
    limit, cursor = page_args(request)
    sale_id = query_id(request, "sale_id", "sale_id must be a decimal id")
    orders = await _orders(request).list(who, sale_id, limit, cursor)
    return Reply(page(OrderPage, [order_view(o) for o in orders], limit))


async def get_order(request: Request) -> Response:
    who = principal(request)
    return Reply(order_view(await _orders(request).get(who, path_id(request))))


async def pay_order(request: Request) -> Response:
    who = principal(request)
    return Reply(order_view(await _orders(request).pay(who, path_id(request))))


async def cancel_order(request: Request) -> Response:
    who = principal(request)
    return Reply(order_view(await _orders(request).cancel(who, path_id(request))))
