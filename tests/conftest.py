"""Shared fixtures. Tests that need a service fail (never skip) when it is missing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.document import conform
from tests.support import World, world_context


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    """One isolated deployment (database, key prefix, queues) for the session, strategy `redis`."""
    with world_context() as w:
        yield w


@pytest.fixture(scope="session")
def api(world: World) -> Iterator[str]:
    """A real API process for the session's world; its base URL."""
    yield world.start_api()


@pytest.fixture
def client(api: str) -> Iterator[httpx.Client]:
    """An HTTP client of the session's API; every response it gets must match /openapi.json (tests/document.py)."""
    with httpx.Client(base_url=api, timeout=30, event_hooks={"response": [conform]}) as c:
        yield c
