"""Session fixtures of the operator tests (conftest.py imports them): one world with its API and workers, one
namespace, and one `flashsale operator` process serving it, shared by the tests that can share them (each test
has FlashSales of its own names). A test that restarts or kills the operator leaves it running again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.kubernetes.conftest import Kube
from tests.kubernetes.operator_support import OperatorProcess, consumer_deployment
from tests.pipeline.harness import Running, running_world


@pytest.fixture(scope="session")
def sale_world() -> Iterator[Running]:
    """An isolated world (database, key prefix, queues) with a real API process and all the workers."""
    with running_world(("all",)) as run:
        yield run


@pytest.fixture(scope="session")
def operator_namespace(kube: Kube) -> Iterator[str]:
    name = f"fs-op-{uuid.uuid4().hex[:8]}"
    kube.kubectl("create", "namespace", name)
    consumer_deployment(kube, name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def flashsale_operator(
    sale_world: Running, kube: Kube, flashsale_crd: str, operator_namespace: str
) -> Iterator[OperatorProcess]:
    operator = OperatorProcess(sale_world.world, kube, operator_namespace)
    operator.start()
    yield operator
    # FlashSales left behind would hold the namespace's deletion on their finalizer once the operator is gone.
    left = kube.get_json("-n", operator_namespace, "flashsales")["items"]
    for item in left:
        kube.kubectl(
            "-n",
            operator_namespace,
            "patch",
            "flashsale",
            item["metadata"]["name"],
            "--type",
            "merge",
            "-p",
            json.dumps({"metadata": {"finalizers": None}}),
            check=False,
        )
    operator.stop()
