"""Fixtures of the property tests: a world of their own (database, key prefix, queues) with the real API (one
process) and `flashsale worker all` (relay, order writer, timeout worker), torn down afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipeline.harness import Running, running_world


@pytest.fixture(scope="module")
def pipe() -> Iterator[Running]:
    with running_world(("all",)) as run:
        yield run
