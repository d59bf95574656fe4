"""Fixtures of the order-pipeline tests. Each module gets its OWN world (database, key prefix, queues) with
a real API and real workers, so nothing here disturbs the session world of tests/unit and tests/integration
(which runs without workers)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.pipeline.harness import Running, running_world


@pytest.fixture(scope="module")
def pipe() -> Iterator[Running]:
    """A world of this module: the API (one process) and `flashsale worker all`."""
    with running_world(("all",)) as run:
        yield run


@pytest.fixture
def http(pipe: Running) -> Iterator[httpx.Client]:
    with pipe.client() as c:
        yield c
