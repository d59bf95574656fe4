"""Script calls of one event-loop tick share a round trip (app/infrastructure/script_batch.py), against the real
Redis, and a fake server where Redis itself cannot misbehave on cue."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, NoScriptError, ResponseError

from app.infrastructure.redis_client import REDIS_DOWN, make_redis
from app.infrastructure.script_batch import NotSent, ReplyLost, ScriptBatch

URL = "redis://127.0.0.1:6379/0"
# Counts its runs in KEYS[1] (so a script run twice shows), answers ARGV[1], fails on cue.
BODY = """
redis.call('INCR', KEYS[1])
if ARGV[1] == 'boom' then return redis.error_reply('ERR boom') end
return ARGV[1]
"""


def fresh_script(redis: Redis) -> AsyncScript:
    """A script this Redis has never seen (as after SCRIPT FLUSH): its first EVALSHA answers NOSCRIPT."""
    return redis.register_script(f"-- {secrets.token_hex(8)}\n{BODY}")


class Sends:
    """Every packed write of an EVALSHA, as sent: one per round trip of the batch."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    @property
    def evalshas(self) -> list[int]:
        return [w.count(b"EVALSHA") for w in self.writes]


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sends]:
    seen = Sends()
    real = AbstractConnection.send_packed_command

    async def spy(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        data = command if isinstance(command, bytes) else b"".join(command)
        if b"EVALSHA" in data:
            seen.writes.append(data)
        await real(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", spy)
    yield seen


@pytest.fixture
async def counter(redis: Redis) -> AsyncIterator[str]:
    key = f"test:batch:{secrets.token_hex(6)}"
    yield key
    await redis.delete(key)


async def loaded(redis: Redis) -> AsyncScript:
    script = fresh_script(redis)
    await redis.script_load(script.script)
    return script


async def test_calls_of_one_tick_go_in_one_round_trip(redis: Redis, counter: str, sends: Sends) -> None:
    batch = ScriptBatch(redis, await loaded(redis))
    results = await asyncio.gather(*(batch([counter], [f"v{i}"]) for i in range(20)))
    assert results == [f"v{i}" for i in range(20)]  # each caller gets its own reply, in order
    assert sends.evalshas == [20]
    assert await redis.get(counter) == "20"


async def test_a_batch_is_split_at_its_cap(redis: Redis, counter: str, sends: Sends) -> None:
    batch = ScriptBatch(redis, await loaded(redis), max_batch=4)
    results = await asyncio.gather(*(batch([counter], [f"v{i}"]) for i in range(10)))
    assert results == [f"v{i}" for i in range(10)]
    assert sorted(sends.evalshas) == [2, 4, 4]


async def test_a_caller_cancelled_before_the_flush_is_not_sent(redis: Redis, counter: str, sends: Sends) -> None:
    batch = ScriptBatch(redis, await loaded(redis))
    tasks = [asyncio.ensure_future(batch([counter], [f"v{i}"])) for i in range(3)]
    await asyncio.sleep(0)  # every task has queued its call; the flush runs after this test resumes
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[0] == "v0" and done[2] == "v2"
    assert isinstance(done[1], asyncio.CancelledError)
    assert sends.evalshas == [2]
    assert await redis.get(counter) == "2"  # the cancelled call never ran


async def test_noscript_loads_the_script_once_and_sends_those_calls_again(
    redis: Redis, counter: str, sends: Sends, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    real = redis.script_load

    async def load(script: str) -> str:
        loads.append(script)
        return await real(script)

    monkeypatch.setattr(redis, "script_load", load)
    batch = ScriptBatch(redis, fresh_script(redis))
    results = await asyncio.gather(*(batch([counter], [f"v{i}"]) for i in range(5)))
    assert results == [f"v{i}" for i in range(5)]
    assert len(loads) == 1
    assert sends.evalshas == [5, 5]
    assert await redis.get(counter) == "5"


async def test_noscript_is_sent_again_at_most_once(
    redis: Redis, counter: str, sends: Sends, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def load_elsewhere(_script: str) -> str:
        return "0" * 40  # a digest Redis does not know: the second try answers NOSCRIPT too

    monkeypatch.setattr(redis, "script_load", load_elsewhere)
    batch = ScriptBatch(redis, fresh_script(redis))
    done = await asyncio.gather(*(batch([counter], [f"v{i}"]) for i in range(3)), return_exceptions=True)
    assert all(isinstance(d, NoScriptError) for d in done)
    assert sends.evalshas == [3, 3]
    assert await redis.get(counter) is None


async def test_an_error_reply_reaches_its_own_caller_only(redis: Redis, counter: str) -> None:
    batch = ScriptBatch(redis, await loaded(redis))
    done = await asyncio.gather(*(batch([counter], [v]) for v in ("a", "boom", "c")), return_exceptions=True)
    assert done[0] == "a" and done[2] == "c"
    assert isinstance(done[1], ResponseError) and not isinstance(done[1], RedisConnectionError)
    assert "boom" in str(done[1])


async def test_an_argument_that_cannot_be_packed_fails_its_call_alone(redis: Redis, counter: str) -> None:
    batch = ScriptBatch(redis, await loaded(redis))
    done = await asyncio.gather(batch([counter], ["a"]), batch([counter], [object()]), return_exceptions=True)
    assert done[0] == "a"
    assert isinstance(done[1], Exception) and not isinstance(done[1], RedisConnectionError)
    assert await redis.get(counter) == "1"


async def test_a_failure_after_sending_fails_every_waiting_call_and_the_pool_stays_usable(
    counter: str, sends: Sends, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = make_redis(URL, 1)  # one connection: the next batch reuses the one that failed
    try:
        batch = ScriptBatch(redis, await loaded(redis))
        real = AbstractConnection.read_response
        reads = 0

        async def garbled(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            if reads == 2:
                raise InvalidResponse("garbled reply")
            return await real(self, *args, **kwargs)

        monkeypatch.setattr(AbstractConnection, "read_response", garbled)
        done = await asyncio.gather(*(batch([counter], [f"v{i}"]) for i in range(4)), return_exceptions=True)
        monkeypatch.setattr(AbstractConnection, "read_response", real)
        assert done[0] == "v0"
        for lost in done[1:]:
            assert isinstance(lost, ReplyLost) and isinstance(lost, REDIS_DOWN)
            assert isinstance(lost.__cause__, InvalidResponse)
        assert len({id(lost) for lost in done[1:]}) == 3  # one error per caller: tracebacks are not shared
        assert sends.evalshas == [4]  # nothing was sent again
        assert await redis.get(counter) == "4"  # every script ran once; the callers settle it themselves
        # The replies left unread went with the dropped connection: the next batch reads its own.
        assert await asyncio.gather(*(batch([counter], [f"w{i}"]) for i in range(3))) == ["w0", "w1", "w2"]
    finally:
        await redis.aclose()


async def test_a_timeout_after_sending_fails_every_call_and_sends_nothing_again() -> None:
    """A server that reads and never answers: the client's socket timeout ends the wait, as for any command."""
    received = bytearray()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            received.extend(data)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    redis = Redis(host="127.0.0.1", port=port, socket_timeout=0.2, protocol=2, driver_info=None)  # no handshake
    try:
        batch = ScriptBatch(redis, redis.register_script(BODY))
        done = await asyncio.gather(*(batch(["k"], [f"v{i}"]) for i in range(3)), return_exceptions=True)
        for lost in done:
            assert isinstance(lost, ReplyLost), lost
            assert "Timeout" in repr(lost.__cause__)
        assert received.count(b"EVALSHA") == 3
        assert all(not c.is_connected for c in redis.connection_pool._available_connections)  # type: ignore[attr-defined]
    finally:
        await redis.aclose()
        server.close()
        await server.wait_closed()


def test_a_new_event_loop_starts_with_an_empty_queue() -> None:
    """A call queued on a loop that stopped before its flush must not strand the calls of the next loop."""
    redis = make_redis(URL, 2)
    script = redis.register_script(BODY)
    batch = ScriptBatch(redis, script)
    key = f"test:batch:{secrets.token_hex(6)}"
    first = asyncio.new_event_loop()
    stranded = first.create_task(batch([key], ["old"]))
    first.call_soon(first.stop)
    first.run_forever()  # the task queued its call; the loop stopped before the flush ran
    assert not stranded.done()

    async def second_loop() -> list[Any]:
        try:
            await redis.script_load(script.script)
            return await asyncio.wait_for(asyncio.gather(batch([key], ["a"]), batch([key], ["b"])), 30)
        finally:
            await redis.delete(key)
            await redis.aclose()

    assert asyncio.run(second_loop()) == ["a", "b"]
    stranded.cancel()
    first.run_until_complete(asyncio.gather(stranded, return_exceptions=True))
    first.close()


async def test_a_refused_connection_fails_every_call_as_not_sent() -> None:
    """Nothing listens on the port: no script can have run, and each caller is told so."""
    probe = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    redis = Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, protocol=2, driver_info=None)
    try:
        batch = ScriptBatch(redis, redis.register_script(BODY))
        done = await asyncio.gather(*(batch(["k"], [f"v{i}"]) for i in range(3)), return_exceptions=True)
        for error in done:
            assert isinstance(error, NotSent) and not isinstance(error, ReplyLost), error
            assert isinstance(error, REDIS_DOWN) and error.__cause__ is not None
        assert len({id(error) for error in done}) == 3
    finally:
        await redis.aclose()


async def test_a_script_that_cannot_be_loaded_again_fails_its_calls_as_not_sent(
    redis: Redis, counter: str, sends: Sends, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def load_fails(_script: str) -> str:
        raise RedisConnectionError("Redis went away")

    monkeypatch.setattr(redis, "script_load", load_fails)
    batch = ScriptBatch(redis, fresh_script(redis))
    done = await asyncio.gather(*(batch([counter], [f"v{i}"]) for i in range(3)), return_exceptions=True)
    assert all(isinstance(d, NotSent) for d in done), done
    assert sends.evalshas == [3]  # the first try answered NOSCRIPT; nothing went again
    assert await redis.get(counter) is None  # no script ran


async def test_a_caller_cancelled_after_sending_leaves_the_batch_and_the_connection_whole(
    counter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = make_redis(URL, 1)  # one connection: the next batch must get it back, in a clean state
    try:
        batch = ScriptBatch(redis, await loaded(redis))
        real = AbstractConnection.read_response
        reading = asyncio.Event()
        go_on = asyncio.Event()

        async def held(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
            reading.set()
            await go_on.wait()  # the calls are on the wire; their replies wait until the caller is cancelled
            return await real(self, *args, **kwargs)

        monkeypatch.setattr(AbstractConnection, "read_response", held)
        tasks = [asyncio.ensure_future(batch([counter], [f"v{i}"])) for i in range(3)]
        await asyncio.wait_for(reading.wait(), 10)
        tasks[1].cancel()
        go_on.set()
        done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        monkeypatch.setattr(AbstractConnection, "read_response", real)
        assert done[0] == "v0" and done[2] == "v2"
        assert isinstance(done[1], asyncio.CancelledError)
        assert await redis.get(counter) == "3"  # the cancelled caller's script ran: it was sent
        # Its reply was read and dropped: the next batch on the one connection reads its own replies.
        assert await asyncio.gather(*(batch([counter], [f"w{i}"]) for i in range(2))) == ["w0", "w1"]
    finally:
        await redis.aclose()


async def test_a_failure_after_the_noscript_resend_is_a_lost_reply(
    redis: Redis, counter: str, sends: Sends, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calls answered NOSCRIPT go again once the script is loaded; a failure on that second round trip means
    they may have run (here they did), so they are told ReplyLost, never NotSent."""
    armed = False
    real_load = redis.script_load
    real_read = AbstractConnection.read_response

    async def load(script: str) -> str:
        nonlocal armed
        sha = await real_load(script)
        armed = True  # every reply from here on is lost
        return sha

    async def lost(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
        if armed:
            raise InvalidResponse("garbled reply")
        return await real_read(self, *args, **kwargs)

    monkeypatch.setattr(redis, "script_load", load)
    monkeypatch.setattr(AbstractConnection, "read_response", lost)
    batch = ScriptBatch(redis, fresh_script(redis))
    done = await asyncio.gather(*(batch([counter], [f"v{i}"]) for i in range(3)), return_exceptions=True)
    monkeypatch.setattr(AbstractConnection, "read_response", real_read)
    assert all(isinstance(d, ReplyLost) for d in done), done
    assert sends.evalshas == [3, 3]
    assert await redis.get(counter) == "3"  # they ran, on the second round trip: "not sent" would have been false


async def test_a_batch_cancelled_while_reading_tells_its_callers_the_reply_was_lost(
    counter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = make_redis(URL, 1)
    try:
        batch = ScriptBatch(redis, await loaded(redis))
        real = AbstractConnection.read_response
        reading = asyncio.Event()

        async def stuck(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
            reading.set()
            await asyncio.Event().wait()  # never answers: only the cancellation ends it
            return await real(self, *args, **kwargs)

        monkeypatch.setattr(AbstractConnection, "read_response", stuck)
        callers = [asyncio.ensure_future(batch([counter], [f"v{i}"])) for i in range(2)]
        await asyncio.wait_for(reading.wait(), 10)
        (task,) = batch._tasks  # the batch on its way (as at shutdown, when the loop cancels what is left)
        task.cancel()
        done = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 10)
        monkeypatch.setattr(AbstractConnection, "read_response", real)
        assert all(isinstance(d, ReplyLost) for d in done), done
        assert await redis.get(counter) == "2"  # sent, and run: "lost", not "not sent"
        # The connection went back to the pool, dropped: the next batch connects afresh and reads its own replies.
        assert await asyncio.gather(batch([counter], ["w"])) == ["w"]
    finally:
        await redis.aclose()
