"""Commodities and sales: reads for anyone, writes for admins; preheat."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.api.auth import admin
from app.api.schema import DESCRIPTION, MONEY, NAME, Field, json_body, page_args, path_id, read_body, validate
from app.api.views import commodity_json, page_json, sale_json
from app.application.catalogue import NewSale
from app.bootstrap import Container
from app.domain.errors import InvalidRequest

COMMODITY = {
    "name": NAME,
    "description": DESCRIPTION,
    "price_cents": MONEY,
    "image_url": Field("url", required=False, lo=1, hi=2048),
}
SALE = {
    "commodity_id": Field("str", lo=1, hi=19),
    "name": NAME,
    "price_cents": MONEY,
    "stock": Field("int", lo=1, hi=10_000_000),
    "starts_at": Field("time"),
    "ends_at": Field("time"),
    "per_user_limit": Field("int", required=False, lo=1, hi=1000, default=1),
    "payment_timeout_seconds": Field("int", required=False, lo=1, hi=86_400, default=900),
}
SALE_CHANGE = {
    "paused": Field("bool", required=False),
    "stock": Field("int", required=False, lo=1, hi=10_000_000),
}


def _c(request: Request) -> Container:
    return request.app.state.container


async def create_commodity(request: Request) -> JSONResponse:
    await read_body(request)
    admin(request)
    data = validate(await json_body(request), COMMODITY)
    commodity = await _c(request).catalogue.create_commodity(
        data["name"], data["description"], data["price_cents"], data["image_url"]
    )
    return JSONResponse(commodity_json(commodity), status_code=201)


async def list_commodities(request: Request) -> JSONResponse:
    limit, cursor = page_args(request)
    items = await _c(request).catalogue.commodities(limit, cursor)
    return JSONResponse(page_json([commodity_json(c) for c in items], limit))


async def get_commodity(request: Request) -> JSONResponse:
    return JSONResponse(commodity_json(await _c(request).catalogue.commodity(path_id(request))))


async def create_sale(request: Request) -> JSONResponse:
    await read_body(request)
    admin(request)
    data = validate(await json_body(request), SALE)
    raw_id = data["commodity_id"]
    if not raw_id.isascii() or not raw_id.isdigit():
        raise InvalidRequest("commodity_id must be a decimal id string")
    view = await _c(request).catalogue.create_sale(
        NewSale(
            commodity_id=int(raw_id),
            name=data["name"],
            price_cents=data["price_cents"],
            stock=data["stock"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            per_user_limit=data["per_user_limit"],
            payment_timeout_seconds=data["payment_timeout_seconds"],
        )
    )
    return JSONResponse(sale_json(view), status_code=201)


async def list_sales(request: Request) -> JSONResponse:
    limit, cursor = page_args(request)
    views = await _c(request).catalogue.sales(limit, cursor)
    return JSONResponse(page_json([sale_json(v) for v in views], limit))


async def get_sale(request: Request) -> JSONResponse:
    return JSONResponse(sale_json(await _c(request).catalogue.sale(path_id(request))))


async def change_sale(request: Request) -> JSONResponse:
    await read_body(request)
    admin(request)
    data = validate(await json_body(request), SALE_CHANGE)
    sale_id = path_id(request)
    view = await _c(request).catalogue.change_sale(sale_id, paused=data["paused"], stock=data["stock"])
    return JSONResponse(sale_json(view))


async def preheat_sale(request: Request) -> JSONResponse:
    admin(request)
    view, _loaded = await _c(request).preheater.preheat(path_id(request))
    return JSONResponse(sale_json(view))
