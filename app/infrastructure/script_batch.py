"""Calls of one Lua script made in the same event-loop tick, sent to Redis in one round trip.

Each caller queues its keys and arguments and awaits a future; the first caller of a tick schedules the flush
(`loop.call_soon`), which packs every queued EVALSHA, writes them on one pooled connection and reads the
replies in order. What a failure means depends on when it happens:

- an argument that cannot be packed: that call alone fails, unsent, with the packer's error;
- before anything is sent (no connection to be had, the script cannot be loaded again): the scripts concerned did
  not run, and each of their callers gets `NotSent`;
- once sending has started (a broken connection, a timeout, a reply that cannot be parsed): nobody knows which
  scripts ran, or whether one still will, so each call of the batch still waiting gets `ReplyLost` and its caller
  settles the outcome itself (a reservation by its record). A script is never sent again after that, and the
  connection is dropped, since replies may still be on their way on it;
- a NOSCRIPT reply: the script did not run; it is loaded once and those calls alone are sent again, once;
- any other error reply belongs to its own call only.

Both errors are `redis.exceptions.ConnectionError`s (code that cannot tell them apart treats both as an outage),
one object per caller, with what happened as its `__cause__`. A caller cancelled after its call was sent does not
stop the batch: its reply is read and dropped, and the connection stays usable.

The queue belongs to one event loop; a call from another loop (tests run several) starts afresh."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, ResponseError

MAX_BATCH = 256  # calls written on one connection at once; more go in further batches, on other connections


class NotSent(RedisConnectionError):
    """The call never reached Redis: its script did not run."""


class ReplyLost(RedisConnectionError):
    """The call was sent (or partly) and its reply was lost: the script may have run, or may still run."""


@dataclass(slots=True)
class _Call:
    args: tuple[Any, ...]  # keys, then arguments
    numkeys: int
    future: asyncio.Future[Any]


class ScriptBatch:
    def __init__(self, redis: Redis, script: AsyncScript, max_batch: int = MAX_BATCH) -> None:
        self._redis = redis
        self._script = script
        self._max = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[_Call] | None = None  # the calls of this tick, None once its flush has taken them
        self._tasks: set[asyncio.Task[None]] = set()  # batches on their way (a task needs a reference)
        self._packer: AbstractConnection | None = None  # never connected: packs with the pool's settings

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._queue, self._tasks = loop, None, set()
        queue = self._queue
        if queue is None:
            queue = self._queue = []
            loop.call_soon(self._flush, queue)
        future: asyncio.Future[Any] = loop.create_future()
        queue.append(_Call((*keys, *args), len(keys), future))
        return await future

    def _flush(self, queue: list[_Call]) -> None:
        if self._queue is queue:
            self._queue = None
        calls = [c for c in queue if not c.future.done()]  # a caller cancelled meanwhile is not sent
        for i in range(0, len(calls), self._max):
            task = asyncio.get_running_loop().create_task(self._run(calls[i : i + self._max]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, calls: list[_Call]) -> None:
        try:
            again = await self._send(calls)
            if again:
                self._script.sha = await self._redis.script_load(self._script.script)
                for call in await self._send(again):
                    _settle(call.future, exc=NoScriptError("NOSCRIPT after the script was loaded again"))
        except BaseException as exc:  # every caller still waiting hears of it: its call was not sent
            for call in calls:
                _settle(call.future, exc=_caused(NotSent(f"the batched script call was not sent: {exc!r}"), exc))
            if not isinstance(exc, Exception):
                raise

    def _pack(self, calls: list[_Call]) -> tuple[list[_Call], bytes]:
        """The calls that could be packed and their commands as one buffer; the others fail here, unsent."""
        packer = self._packer
        if packer is None:
            packer = self._packer = self._redis.connection_pool.make_connection()
        sha = self._script.sha
        sent: list[_Call] = []
        chunks: list[bytes] = []
        for call in calls:
            if call.future.done():
                continue
            try:
                chunks += packer.pack_command("EVALSHA", sha, call.numkeys, *call.args)
            except (DataError, TypeError, ValueError) as exc:
                _settle(call.future, exc=exc)
                continue
            sent.append(call)
        return sent, b"".join(chunks)

    async def _send(self, calls: list[_Call]) -> list[_Call]:
        """One round trip; returns the calls answered NOSCRIPT (their script did not run)."""
        sent, packed = self._pack(calls)
        if not sent:
            return []
        pool = self._redis.connection_pool
        conn = await pool.get_connection()
        noscript: list[_Call] = []
        try:
            try:
                await conn.send_packed_command(packed)  # the client's socket timeout applies, as for any command
                for call in sent:
                    try:
                        reply = await conn.read_response()
                    except NoScriptError:
                        noscript.append(call)
                        continue
                    except ResponseError as exc:
                        _settle(call.future, exc=exc)
                        continue
                    _settle(call.future, result=reply)
            except BaseException as exc:
                # Sent, or partly: which scripts ran is unknown, and replies may still come on this connection.
                # The callers hear it first: nothing after this may leave a sent call to be told "not sent".
                for call in sent:
                    _settle(
                        call.future,
                        exc=_caused(ReplyLost(f"the reply to a batched script call was lost: {exc!r}"), exc),
                    )
                with contextlib.suppress(Exception):
                    await conn.disconnect(nowait=True)
                if not isinstance(exc, Exception):
                    raise
                return []
        finally:
            await asyncio.shield(pool.release(conn))  # a cancellation here must not leak the connection
        return noscript


def _caused(error: RedisConnectionError, cause: BaseException) -> RedisConnectionError:
    error.__cause__ = cause
    return error


def _settle(future: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():  # its caller was cancelled
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
