"""RabbitMQ: the topology (all durable quorum queues) and a publisher that keeps many confirms in flight.

- `<ns>.orders`: accepted orders from the relay. No broker delivery limit: the broker would count a writer's
  crash (its unacknowledged messages handed back) as a failed delivery, so a writer in a crash loop would
  dead-letter good orders. The order writers count failed writes themselves (`ATTEMPTS_HEADER`) and move an
  order that keeps failing to `<ns>.orders.dlq`, so it never loops or blocks the queue.
- `<ns>.delay.<N>ms`: payment-timeout delay buckets. Each has one fixed TTL, so its messages expire in order
  and timeouts of different durations never wait behind each other; expired messages are dead-lettered (at
  least once) into `<ns>.timeouts`. No `x-expires`: a delay queue never disappears with messages in it.
- `<ns>.timeouts`: due (or nearly due) payment timeouts."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any, Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import AMQPChannelError, AMQPConnectionError, ChannelInvalidStateError

from app.domain.errors import ConfigError, ServiceUnavailable
from app.infrastructure.keys import Names

log = logging.getLogger(__name__)

# Delay buckets in milliseconds: a timeout waits in the largest bucket not longer than what remains.
DELAY_BUCKETS_MS = (
    100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000,
    1_800_000, 3_600_000, 7_200_000, 14_400_000, 43_200_000, 86_400_000,
)  # fmt: skip


# Failed writes of an order so far, carried by the copy the order writer queues again (absent: none).
ATTEMPTS_HEADER = "x-flashsale-attempts"

# A timeout may fire this much after its deadline, to save a round of re-parking near the end.
OVERSHOOT_MS = 250


def bucket_for(remaining_ms: int) -> int:
    """The smallest bucket that reaches the deadline if it overshoots by at most OVERSHOOT_MS; otherwise the
    largest that does not overshoot (the message is parked again when it comes back early)."""
    for bucket in DELAY_BUCKETS_MS:
        if remaining_ms <= bucket <= remaining_ms + OVERSHOOT_MS:
            return bucket
    fitting = [b for b in DELAY_BUCKETS_MS if b <= remaining_ms]
    return fitting[-1] if fitting else DELAY_BUCKETS_MS[0]


def _quorum(**extra: Any) -> dict[str, Any]:
    return {"x-queue-type": "quorum", **extra}


def _dead_letter_to(queue: str) -> dict[str, Any]:
    return {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def connect(url: str) -> AbstractRobustConnection:
    try:
        return await aio_pika.connect_robust(url, timeout=5)
    except Exception as exc:
        raise ServiceUnavailable("RabbitMQ", "FLASHSALE_AMQP_URL", str(exc)) from exc


async def declare_topology(channel: AbstractChannel, names: Names, max_attempts: int) -> None:
    await channel.declare_queue(names.orders_dlq, durable=True, arguments=_quorum())
    try:
        await channel.declare_queue(
            names.orders_queue, durable=True, arguments=_quorum(**_dead_letter_to(names.orders_dlq))
        )
    except aio_pika.exceptions.ChannelPreconditionFailed as exc:
        # A queue declared by an earlier release, with the broker's delivery limit (a crash counted as a failed
        # write): RabbitMQ refuses to redeclare it with other arguments. See the README's upgrade note.
        raise ConfigError(
            f"RabbitMQ queue {names.orders_queue} exists with other arguments ({exc}): an earlier release declared "
            "it with x-delivery-limit; drain it (stop the API, let the order writers empty it), delete it "
            "(rabbitmqctl delete_queue), and start the workers again"
        ) from exc
    await channel.declare_queue(
        names.timeouts_queue,
        durable=True,
        arguments=_quorum(**{"x-delivery-limit": max_attempts}, **_dead_letter_to(names.orders_dlq)),
    )
    for ms in DELAY_BUCKETS_MS:
        await channel.declare_queue(
            names.delay_queue(ms),
            durable=True,
            arguments=_quorum(**{"x-message-ttl": ms}, **_dead_letter_to(names.timeouts_queue)),
        )


def all_queues(names: Names) -> list[str]:
    return [names.orders_queue, names.orders_dlq, names.timeouts_queue] + [
        names.delay_queue(ms) for ms in DELAY_BUCKETS_MS
    ]


def message(body: dict[str, Any] | list[Any] | bytes, message_id: str) -> aio_pika.Message:
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return aio_pika.Message(
        raw,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        content_type="application/json",
        message_id=message_id,
    )


class Publisher:
    """Publishes with confirms, many in flight at once; returns only when the broker has confirmed all."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel

    async def publish_all(self, routed: Iterable[tuple[str, aio_pika.Message]]) -> None:
        exchange = self._channel.default_exchange
        await asyncio.gather(*(exchange.publish(msg, routing_key=queue, mandatory=True) for queue, msg in routed))

    async def publish(self, queue: str, msg: aio_pika.Message) -> None:
        await self.publish_all([(queue, msg)])


# Settling a message whose channel is gone (the broker restarted, or the connection dropped and the robust
# connection opened new channels) raises one of these. The broker has requeued that message already and
# delivers it again on the new channel, so there is nothing left to settle.
CHANNEL_GONE = (ChannelInvalidStateError, AMQPConnectionError, AMQPChannelError)


async def settle(msg: AbstractIncomingMessage, how: Literal["ack", "requeue", "dead-letter"]) -> bool:
    """Acknowledge, requeue or dead-letter a delivered message; False (and nothing raised) when its channel is
    gone, as after a broker reconnect: the broker gave the message back when that channel closed."""
    try:
        if how == "ack":
            await msg.ack()
        elif how == "requeue":
            await msg.nack(requeue=True)
        else:
            await msg.reject(requeue=False)
    except CHANNEL_GONE as exc:
        log.info("message %s not settled (%s); the broker delivers it again", msg.message_id, exc)
        return False
    return True
