"""How many messages wait in a queue, unacknowledged ones included.

The management API counts both; where it is unreachable, a passive declare over AMQP counts only the ready
ones, and the answer says so."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx
from aio_pika.abc import AbstractChannel


@dataclass(frozen=True)
class QueueStats:
    ready: int
    unacknowledged: int
    consumers: int


@dataclass(frozen=True)
class Depth:
    messages: int  # ready + unacknowledged
    exact: bool  # False when unacknowledged ones could not be counted


class QueueDepth:
    def __init__(self, api_url: str, vhost: str = "/") -> None:
        parts = urlsplit(api_url)
        self._base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{parts.path.rstrip('/')}"
        self._auth = (parts.username or "guest", parts.password or "guest")
        self._vhost = vhost
        # Built once: a client made per call would load the CA store again each time (most of a sample's cost).
        self._tls: ssl.SSLContext = httpx.create_ssl_context()

    async def _queue(self, queue: str) -> dict | None:
        """The management API's record of the queue, once its statistics exist; None when unreachable."""
        url = f"{self._base}/api/queues/{quote(self._vhost, safe='')}/{quote(queue, safe='')}"
        try:
            async with httpx.AsyncClient(timeout=3, auth=self._auth, verify=self._tls) as client:
                reply = await client.get(url)
        except httpx.HTTPError:
            return None
        if reply.status_code != 200:
            return None
        data = reply.json()
        if "messages" not in data:  # freshly declared: the stats have not been emitted yet
            return None
        return dict(data)

    async def from_api(self, queue: str) -> int | None:
        data = await self._queue(queue)
        return None if data is None else int(data.get("messages", 0))

    async def stats(self, queue: str) -> QueueStats | None:
        """Ready and unacknowledged messages and consumers, from the management API (None if unreachable)."""
        data = await self._queue(queue)
        if data is None:
            return None
        return QueueStats(
            int(data.get("messages_ready", 0)),
            int(data.get("messages_unacknowledged", 0)),
            int(data.get("consumers", 0)),
        )

    async def ready(self, queue: str, channel: AbstractChannel) -> Depth:
        """Ready messages over AMQP (a passive declare): exact at once, and all of a queue nobody consumes."""
        declared = await channel.declare_queue(queue, passive=True)
        return Depth(int(declared.declaration_result.message_count or 0), True)

    async def depth(self, queue: str, channel: AbstractChannel | None = None) -> Depth:
        value = await self.from_api(queue)
        if value is not None:
            return Depth(value, True)
        if channel is None:
            return Depth(-1, False)
        return Depth((await self.ready(queue, channel)).messages, False)
