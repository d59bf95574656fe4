"""The request around its body: the body under its cap, ids in the path, paging in the query. Bodies themselves
are Structs (app/api/shapes.py), decoded in app/api/bodies.py."""

from __future__ import annotations

from starlette.requests import Request

from app.api.shapes import MAX_BODY
from app.domain.errors import InvalidRequest

__all__ = ["ID_MAX", "MAX_BODY", "page_args", "parse_id", "path_id", "query_id", "read_body"]

ID_MAX = (1 << 63) - 1


async def read_body(request: Request) -> bytes:
    """The raw body, 413 if over the cap. A declared Content-Length is refused by the middleware already; a
    streamed body is cut there one byte past the cap, so it shows here. Routes call this before checking the
    token, so 413 comes first as the contract orders (Starlette keeps the body for the later parse)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        from app.api.errors import PayloadTooLarge

        raise PayloadTooLarge()
    return raw


def path_id(request: Request, name: str = "id") -> int:
    """A decimal id in the path; anything malformed is simply not found."""
    return parse_id(request.path_params.get(name, ""))


def parse_id(raw: object) -> int:
    """A decimal id as the path carries it; anything malformed is simply not found."""
    from app.domain.errors import NotFound

    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise NotFound("not found")
    value = int(raw)
    if not 0 < value <= ID_MAX:
        raise NotFound("not found")
    return value


def page_args(request: Request) -> tuple[int, int | None]:
    """`limit` (1..100, default 50) and `cursor` (an opaque decimal id) from the query string."""
    limit_raw = request.query_params.get("limit", "50")
    if not limit_raw.isascii() or not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 100:
        raise InvalidRequest("limit must be an integer from 1 to 100", field="limit")
    return int(limit_raw), query_id(request, "cursor", "cursor is not one this API gave out")


def query_id(request: Request, name: str, message: str) -> int | None:
    """An optional decimal id in the query string; anything else is a 422 with `message`."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise InvalidRequest(message, field=name)
    return int(raw)
