"""While the API serves, the collector runs with the API's thresholds and start-up's objects frozen; both are
undone when it stops (tests and `--reload` start apps again in one process)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.api import app as module


async def test_serving_sets_the_thresholds_and_freezes_then_undoes_both(monkeypatch: pytest.MonkeyPatch) -> None:
    @contextlib.asynccontextmanager
    async def container(*_args: Any, **_kwargs: Any) -> AsyncIterator[object]:
        yield object()  # the stores are not what this is about

    monkeypatch.setattr(module, "open_container", container)
    monkeypatch.setattr(module, "setup_logging", lambda _fmt: None)
    before = gc.get_threshold()
    assert before != module.GC_THRESHOLDS
    api = module.create_app(module.Settings.from_env({"FLASHSALE_JWT_SECRET": "s" * 40}))
    async with api.router.lifespan_context(api.app):
        assert gc.get_threshold() == module.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
