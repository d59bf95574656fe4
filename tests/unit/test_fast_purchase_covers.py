"""The purchase fast path does the work of the API's middleware itself: an app whose middleware list differs
from what it covers is refused when it is made, not left to skip a middleware on every purchase."""

from __future__ import annotations

import pytest
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from app.api import app as module
from app.api.fast_purchase import COVERS, check_middleware


def test_the_apis_middleware_is_what_the_fast_path_covers() -> None:
    check_middleware(module.MIDDLEWARE)
    assert isinstance(module.create_app(), module.Api)


def test_a_middleware_the_fast_path_does_not_cover_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "MIDDLEWARE", [*module.MIDDLEWARE, Middleware(GZipMiddleware)])
    with pytest.raises(RuntimeError, match="fast path"):
        module.create_app()


def test_a_missing_or_reordered_middleware_is_refused() -> None:
    with pytest.raises(RuntimeError):
        check_middleware([Middleware(cls) for cls in reversed(COVERS)])
    with pytest.raises(RuntimeError):
        check_middleware([Middleware(COVERS[0])])
