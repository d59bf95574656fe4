"""The storefront: the page at `/` and its static assets under `/static` (cacheable; the page itself is not)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).resolve().parent / "static"
ASSET_CACHE = "public, max-age=300"


class Assets(StaticFiles):
    """Static files with a cache lifetime, so a sale's first second does not refetch them. Every file, and every
    missing one, counts under the one route label `static` in the request metrics."""

    route_label = "static"

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = ASSET_CACHE
        return response


async def index(_request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


STOREFRONT = [
    Route("/", index, methods=["GET"]),
    Mount("/static", app=Assets(directory=STATIC), name="static"),
]
