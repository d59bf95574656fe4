"""Commodities and sales: reads for anyone, writes for admins; preheat."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.auth import admin
from app.api.bodies import Reply, decode
from app.api.schema import page_args, path_id, read_body
from app.api.shapes import CommodityPage, NewCommodity, NewSale, SaleChange, SalePage
from app.api.views import commodity_view, page, sale_view
from app.application.catalogue import NewSale as SaleToCreate
from app.bootstrap import Container
from app.domain.errors import InvalidRequest
from app.domain.timefmt import parse_rfc3339


def _c(request: Request) -> Container:
    return request.app.state.container


async def create_commodity(request: Request) -> Response:
    raw = await read_body(request)
    admin(request)
    body = decode(raw, NewCommodity)
    commodity = await _c(request).catalogue.create_commodity(
        body.name, body.description, body.price_cents, body.image_url
    )
    return Reply(commodity_view(commodity), status_code=201)


async def list_commodities(request: Request) -> Response:
    limit, cursor = page_args(request)
    items = await _c(request).catalogue.commodities(limit, cursor)
    return Reply(page(CommodityPage, [commodity_view(c) for c in items], limit))


async def get_commodity(request: Request) -> Response:
    return Reply(commodity_view(await _c(request).catalogue.commodity(path_id(request))))


async def create_sale(request: Request) -> Response:
    raw = await read_body(request)
    admin(request)
    body = decode(raw, NewSale)
    starts_at = parse_rfc3339(body.starts_at, "starts_at")
    ends_at = parse_rfc3339(body.ends_at, "ends_at")
    if ends_at <= starts_at:
        raise InvalidRequest("ends_at must be after starts_at", field="ends_at")
    view = await _c(request).catalogue.create_sale(
        SaleToCreate(
            commodity_id=int(body.commodity_id),
            name=body.name,
            price_cents=body.price_cents,
            stock=body.stock,
            starts_at=starts_at,
            ends_at=ends_at,
            per_user_limit=1 if body.per_user_limit is None else body.per_user_limit,
            payment_timeout_seconds=900 if body.payment_timeout_seconds is None else body.payment_timeout_seconds,
        )
    )
    return Reply(sale_view(view), status_code=201)


async def list_sales(request: Request) -> Response:
    limit, cursor = page_args(request)
    views = await _c(request).catalogue.sales(limit, cursor)
    return Reply(page(SalePage, [sale_view(v) for v in views], limit))


async def get_sale(request: Request) -> Response:
    return Reply(sale_view(await _c(request).catalogue.sale(path_id(request))))


async def change_sale(request: Request) -> Response:
    raw = await read_body(request)
    admin(request)
    body = decode(raw, SaleChange)
    sale_id = path_id(request)
    view = await _c(request).catalogue.change_sale(sale_id, paused=body.paused, stock=body.stock)
    return Reply(sale_view(view))


async def preheat_sale(request: Request) -> Response:
    admin(request)
    view, _loaded = await _c(request).preheater.preheat(path_id(request))
    return Reply(sale_view(view))
