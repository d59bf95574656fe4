"""Fixtures of the property tests: a world of their own (database, key prefix, queues) with the real API (one
process) and `flashsale worker all` (relay, order writer, timeout worker), torn down afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from tests.pipeline.harness import Running, running_world


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis' own files (it keeps no example database here, but caches other things) outside the checkout."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def pipe() -> Iterator[Running]:
    with running_world(("all",)) as run:
        yield run
