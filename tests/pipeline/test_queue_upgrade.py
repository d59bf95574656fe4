"""An order queue declared by an earlier release (with the broker's delivery limit, which counted a crash as a
failed write) cannot be redeclared without it: RabbitMQ refuses. A worker then refuses to start with one line
that names the queue and the upgrade step, instead of a traceback."""

from __future__ import annotations

from typing import Any

import aio_pika

from tests.pipeline.harness import _amqp
from tests.support import world_context


def test_a_worker_names_the_upgrade_step_for_an_order_queue_of_an_earlier_release() -> None:
    with world_context() as world:
        queue = f"{world.namespace}.orders"

        async def declare_old(channel: aio_pika.abc.AbstractChannel) -> Any:
            return await channel.declare_queue(
                queue, durable=True, arguments={"x-queue-type": "quorum", "x-delivery-limit": 5}
            )

        _amqp(world, declare_old)
        result = world.cli("worker", "orders", check=False, timeout=60)
        assert result.returncode != 0, result
        assert f"RabbitMQ queue {queue} exists with other arguments" in result.stderr, result.stderr
        assert "delete it" in result.stderr and "Traceback" not in result.stderr, result.stderr
