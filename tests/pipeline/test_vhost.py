"""A deployment on its own RabbitMQ virtual host: every queue depth (the audit, the preheat's drain check) is read
from the vhost the AMQP URL names, never from the default one.

Another deployment with the same namespace runs on the default vhost `/` (its queues have the same names and are
empty), so a depth read from the wrong vhost answers 0 while this deployment's orders wait in its own."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import aio_pika
import httpx
import pytest

from app.infrastructure.amqp import declare_topology
from app.infrastructure.keys import Names
from tests.pipeline.harness import audit_lines, buy, handoff_length, lose_cache, publish, running_world, wait_until
from tests.support import make_sale

API = "http://127.0.0.1:15672/api"


def rabbitmqctl(*args: str) -> None:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    """A private virtual host that guest may use; deleted (with its queues) afterwards."""
    name = f"flashsale-test-{secrets.token_hex(3)}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        rabbitmqctl("delete_vhost", name)


def api_messages(vhost: str, queue: str) -> int | None:
    """The management API's count of a queue (None until its statistics exist)."""
    reply = httpx.get(f"{API}/queues/{quote(vhost, safe='')}/{queue}", auth=("guest", "guest"), timeout=5)
    if reply.status_code != 200:
        return None
    value = reply.json().get("messages")
    return None if value is None else int(value)


@contextlib.contextmanager
def twin_on_default_vhost(names: Names) -> Iterator[None]:
    """The same queues, empty, on `/`: what a second deployment with the same namespace would have."""

    async def declare() -> None:
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/", timeout=10)
        try:
            await declare_topology(await connection.channel(), names, 5)
        finally:
            await connection.close()

    asyncio.run(declare())
    try:
        yield
    finally:
        with httpx.Client(auth=("guest", "guest"), timeout=5) as client:
            for queue in (names.orders_queue, names.orders_dlq, names.timeouts_queue):
                client.delete(f"{API}/queues/%2F/{queue}")
            # the delay buckets too
            for item in client.get(f"{API}/queues/%2F").json():
                if item["name"].startswith(f"{names.namespace}.delay."):
                    client.delete(f"{API}/queues/%2F/{item['name']}")


def test_queue_depths_are_read_from_the_vhost_of_the_amqp_url(vhost: str) -> None:
    url = f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"
    with running_world(("relay",), FLASHSALE_AMQP_URL=url) as run, run.client() as http:
        world, names = run.world, run.names
        with twin_on_default_vhost(names):
            sale = make_sale(http, world, stock=5)
            for i in range(3):
                buy(http, world, sale["id"], f"v{i}")
            # The relay moves them to this vhost's order queue; no order writer runs, so they wait there.
            wait_until(lambda: handoff_length(world, sale["id"]) == 0, 20, "the relay to move the orders")
            publish(world, names.orders_dlq, [b"not json"], message_id="dead-1")
            wait_until(lambda: api_messages(vhost, names.orders_queue) == 1, 30, "statistics of the order queue")
            wait_until(lambda: api_messages(vhost, names.orders_dlq) == 1, 30, "statistics of the dead letters")
            wait_until(lambda: api_messages("/", names.orders_queue) == 0, 30, "statistics of the twin queue")
            wait_until(lambda: api_messages("/", names.orders_dlq) == 0, 30, "statistics of the twin DLQ")

            result = world.cli("audit", sale["id"], check=False)
            lines = audit_lines(result.stdout)
            assert result.returncode == 1, result.stdout + result.stderr
            assert lines["pipeline_drained"].startswith("FAIL"), result.stdout
            assert "1 message(s) in the order queue" in lines["pipeline_drained"], result.stdout
            assert lines["no_dead_letters"].startswith("FAIL"), result.stdout
            assert "1 message(s) in the dead-letter queue" in lines["no_dead_letters"], result.stdout

            # The cache is lost while the orders wait in this vhost's queue: the reload must be refused.
            lose_cache(world, sale["id"])
            reply = http.post(f"/api/v1/sales/{sale['id']}/preheat", headers=world.headers("admin", admin=True))
            assert reply.status_code == 503, reply.text
            assert reply.json()["error"] == "not_ready"
