"""Helpers for the order-pipeline and fault tests: a running world (API and workers), bounded polling,
direct reads of the world's database, RabbitMQ queues and Redis keys, and the audit.

Every wait here is bounded and fails with a message saying what did not happen."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
import aiohttp
import httpx
import pymysql

from app.infrastructure.amqp import message
from app.infrastructure.keys import Names
from app.infrastructure.mysql_url import parse_mysql_url
from app.infrastructure.records import parse_orders
from tests.document import conform
from tests.support import World, world_context

T = TypeVar("T")
LOG_DIR = Path(tempfile.gettempdir()) / "flashsale-test-logs"
LOG_DIR.mkdir(exist_ok=True)


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
        last = check()
    return last


def parse_time(value: str) -> float:
    """An RFC 3339 time of the API as epoch seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class Running:
    """A world with a real API process and (optionally) worker processes."""

    world: World
    base: str
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    @property
    def names(self) -> Names:
        return Names(self.world.namespace)

    def client(self, timeout: float = 30) -> httpx.Client:
        # Every response must match /openapi.json (tests/document.py).
        return httpx.Client(base_url=self.base, timeout=timeout, event_hooks={"response": [conform]})

    def start(self, kind: str = "all", wait: bool = True, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start `flashsale worker KIND`; its log goes to a file (a pipe nobody reads would fill up)."""
        assert kind not in self.workers or self.workers[kind].poll() is not None, f"{kind} is running"
        log = LOG_DIR / f"{self.world.namespace}-{kind}-{len(self.world.procs)}.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker", kind],
                env={**self.world.env, **(env or {})},
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,
            )
        self.world.procs.append(proc)
        self.workers[kind] = proc
        self.logs[kind] = log
        if wait:
            self.wait_running(kind)
        return proc

    def wait_running(self, kind: str, timeout: float = 30) -> None:
        """Until the worker has connected, declared the queues and started consuming."""
        proc = self.workers[kind]

        def up() -> bool:
            assert proc.poll() is None, f"worker {kind} exited with {proc.returncode}:\n{self.log(kind)[-3000:]}"
            return "workers running" in self.log(kind)

        wait_until(up, timeout, f"worker {kind} to start", interval=0.1)

    def log(self, kind: str = "all") -> str:
        """The (last started) worker's log so far."""
        return self.logs[kind].read_text(errors="replace")

    def stop(self, kind: str = "all", sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        proc = self.workers.pop(kind)
        return self.world.stop(proc, sig, timeout)

    @contextlib.contextmanager
    def running(self, kind: str) -> Iterator[subprocess.Popen[bytes]]:
        proc = self.start(kind)
        try:
            yield proc
        finally:
            if kind in self.workers:
                self.stop(kind)


@contextlib.contextmanager
def running_world(workers: tuple[str, ...] = ("all",), api_workers: int = 1, **env: str) -> Iterator[Running]:
    """A fresh isolated world with its API and the named workers; everything is torn down afterwards."""
    with world_context(**env) as world:
        base = world.start_api(workers=api_workers)
        run = Running(world, base)
        for kind in workers:
            run.start(kind)
        yield run


# --- the database ---------------------------------------------------------------------------------------


class Db:
    """Autocommit reads (and the odd write) on the world's database, with a fresh view on every query."""

    def __init__(self, world: World) -> None:
        self.target = parse_mysql_url(world.settings.mysql_url)
        self._conn: Any = None

    def connection(self, *, autocommit: bool) -> Any:
        """A new connection to the world's database, e.g. for a test's own transaction (its caller closes it)."""
        return pymysql.connect(
            host=self.target.host,
            port=self.target.port,
            user=self.target.user,
            password=self.target.password,
            database=self.target.database,
            autocommit=autocommit,
            connect_timeout=5,
            read_timeout=30,
        )

    def _connect(self) -> Any:
        if self._conn is None:
            self._conn = self.connection(autocommit=True)
        return self._conn

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            with self._connect().cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except pymysql.err.OperationalError:
            self.close()
            raise

    def value(self, sql: str, *args: Any) -> Any:
        found = self.rows(sql, *args)
        return found[0][0] if found else None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Db:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Frequent questions
    def order_rows(self, sale_id: int | str) -> dict[int, tuple[str, str | None, str, int]]:
        """order id -> (status, cancel_reason, user_id, quantity) of every row of the sale."""
        found = self.rows(
            "SELECT id, status, cancel_reason, user_id, quantity FROM orders WHERE sale_id = %s", int(sale_id)
        )
        return {int(r[0]): (r[1], r[2], r[3], int(r[4])) for r in found}

    def count_orders(self, sale_id: int | str) -> int:
        return int(self.value("SELECT COUNT(*) FROM orders WHERE sale_id = %s", int(sale_id)))

    def charges(self, order_id: int | str) -> int:
        return int(self.value("SELECT COUNT(*) FROM fake_charges WHERE idempotency_key = %s", str(order_id)))

    def sale_row(self, sale_id: int | str) -> tuple[int, int, int]:
        """(stock, stock_left, per_user_limit) of the sale's row."""
        row = self.rows("SELECT stock, stock_left, per_user_limit FROM sales WHERE id = %s", int(sale_id))[0]
        return int(row[0]), int(row[1]), int(row[2])


# --- RabbitMQ -------------------------------------------------------------------------------------------


def _amqp(world: World, work: Callable[[aio_pika.abc.AbstractChannel], Any]) -> Any:
    async def go() -> Any:
        connection = await aio_pika.connect(world.settings.amqp_url, timeout=10)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            return await work(channel)
        finally:
            await connection.close()

    return asyncio.run(go())


def publish(world: World, queue: str, bodies: list[bytes], message_id: str = "") -> None:
    """Publish raw bodies to a queue through the default exchange, each confirmed by the broker."""

    async def work(channel: aio_pika.abc.AbstractChannel) -> None:
        for body in bodies:
            await channel.default_exchange.publish(message(body, message_id), routing_key=queue, mandatory=True)

    _amqp(world, work)


def ready_messages(world: World, queue: str) -> int:
    """Messages ready in a queue right now (a passive declare: exact, no statistics lag)."""

    async def work(channel: aio_pika.abc.AbstractChannel) -> int:
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)

    return int(_amqp(world, work))


def queued_orders(world: World, queue: str) -> int:
    """Orders (not messages: a message holds up to 100) ready in an order queue right now. Every ready message
    is fetched without an ack and the channel is closed, which hands them all back to the queue."""

    async def work(channel: aio_pika.abc.AbstractChannel) -> int:
        declared = await channel.declare_queue(queue, passive=True)
        orders = 0
        while (got := await declared.get(no_ack=False, fail=False, timeout=5)) is not None:
            orders += len(parse_orders(got.body))
        return orders

    return int(_amqp(world, work))


def purge(world: World, queue: str) -> None:
    async def work(channel: aio_pika.abc.AbstractChannel) -> None:
        declared = await channel.declare_queue(queue, passive=True)
        await declared.purge()

    _amqp(world, work)


# --- HTTP -----------------------------------------------------------------------------------------------


def buy(client: httpx.Client, world: World, sale_id: str, user: str, key: str | None = None) -> str:
    """A purchase that must be accepted; the order id."""
    headers = world.headers(user) | ({"Idempotency-Key": key} if key else {})
    reply = client.post(f"/api/v1/sales/{sale_id}/purchase", headers=headers)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["status"] == "pending", body
    return str(body["order_id"])


def order(client: httpx.Client, world: World, user: str, order_id: str) -> dict[str, Any]:
    reply = client.get(f"/api/v1/orders/{order_id}", headers=world.headers(user))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def wait_status(
    client: httpx.Client, world: World, user: str, order_id: str, status: str, timeout: float = 15
) -> dict[str, Any]:
    """Poll GET /orders/{id} until the order has `status`; the order."""

    def check() -> dict[str, Any] | None:
        found = order(client, world, user, order_id)
        return found if found["status"] == status else None

    return wait_until(check, timeout, f"order {order_id} to become {status}")


# --- the audit ------------------------------------------------------------------------------------------


def audit_lines(stdout: str) -> dict[str, str]:
    """Check name -> its whole line (`PASS  name  detail` or `FAIL  ...`) in `flashsale audit`'s output."""
    found = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("PASS", "FAIL"):
            found[parts[1]] = line
    return found


def audit(world: World, sale_id: int | str, timeout: float = 30, accepted: set[str] | None = None) -> str:
    """Run `flashsale audit` until it exits 0. It is run again only while `pipeline_drained` fails (orders or
    stock returns of the sale still on their way, which the other checks may fail for): any other failure,
    with the pipeline drained, is final at once. Fails with the last output after `timeout`. `accepted`: the
    order ids of the 202s the test received, given to the audit (`--accepted`) to check against the rows."""
    args = [str(sale_id)]
    if accepted is not None:
        replies = LOG_DIR / f"{world.namespace}-{sale_id}-accepted.txt"
        replies.write_text("".join(f"{o}\n" for o in sorted(accepted)))
        args += ["--accepted", str(replies)]
    deadline = time.monotonic() + timeout
    while True:
        result = world.cli("audit", *args, check=False)
        if result.returncode == 0:
            return result.stdout
        draining = audit_lines(result.stdout).get("pipeline_drained", "").startswith("FAIL")
        if not draining or time.monotonic() > deadline:
            raise AssertionError(
                f"audit of sale {sale_id} failed (exit {result.returncode}"
                f"{', still draining' if draining else ', pipeline drained'}):\n{result.stdout}{result.stderr}"
            )
        time.sleep(1)


def cached_meta(world: World, sale_id: int | str) -> dict[str, str]:
    """The sale's cached metadata (empty when it is not loaded)."""
    import redis

    r = redis.Redis.from_url(world.settings.redis_url, decode_responses=True)
    try:
        return dict(r.hgetall(Names(world.namespace).sale(int(sale_id)).meta))
    finally:
        r.close()


def lose_cache(world: World, sale_id: int | str) -> None:
    """What Redis losing the sale's data does to the purchase path: its metadata is gone (not loaded)."""
    import redis

    r = redis.Redis.from_url(world.settings.redis_url)
    try:
        r.delete(Names(world.namespace).sale(int(sale_id)).meta)
    finally:
        r.close()


def handoff_length(world: World, sale_id: int | str) -> int:
    import redis

    r = redis.Redis.from_url(world.settings.redis_url)
    try:
        return int(r.xlen(Names(world.namespace).sale(int(sale_id)).handoff))
    finally:
        r.close()


def written_record(db: Db, order_id: int | str) -> bytes:
    """A written order's record as the reservation wrote it, rebuilt from its row (the order writer drops the
    cache's record once the row is committed): the body of a redelivery of that order."""
    from app.domain.models import Reservation
    from app.infrastructure.records import reservation_to_dict

    rows = db.rows(
        "SELECT id, sale_id, user_id, quantity, amount_cents, created_at, expires_at, cache_epoch, idempotency_key "
        "FROM orders WHERE id = %s",
        int(order_id),
    )
    assert rows, f"no row for order {order_id}"
    oid, sale_id, user_id, quantity, amount, created, expires, epoch, key = rows[0]

    def ms(moment: datetime) -> int:
        return round(moment.replace(tzinfo=UTC).timestamp() * 1000)

    reservation = Reservation(
        int(oid), int(sale_id), user_id, int(quantity), int(amount), ms(created), ms(expires), int(epoch), key
    )
    return json.dumps(reservation_to_dict(reservation), separators=(",", ":")).encode()


def reservation_record(world: World, sale_id: int | str, order_id: int | str) -> bytes:
    """The order's record as the reservation wrote it (the body the relay publishes)."""
    import redis

    r = redis.Redis.from_url(world.settings.redis_url)
    try:
        raw = r.hget(Names(world.namespace).sale(int(sale_id)).res, str(order_id))
    finally:
        r.close()
    assert raw, f"no reservation record for order {order_id}"
    return bytes(raw)


# --- a stream of purchases in the background ------------------------------------------------------------


class Burst(threading.Thread):
    """Purchases of one unit by `count` distinct users, paced at `rate` per second, sent from a background
    thread over real HTTP while the test kills or stops things. Collects the accepted order ids."""

    def __init__(
        self,
        run: Running,
        sale_id: str,
        count: int,
        rate: float,
        prefix: str = "b",
        connections: int = 32,
        *,
        quantity: int = 1,
        tolerant: bool = False,
    ) -> None:
        """`tolerant`: a request that gets no reply (the API is down) or a refusal is recorded, not a failure
        of the burst: `outcomes` says, per user, what each request ended with."""
        super().__init__(daemon=True)
        self.url = f"{run.base}/api/v1/sales/{sale_id}/purchase"
        self.users = [f"{prefix}{i}" for i in range(count)]
        self.tokens = [run.world.token(u) for u in self.users]
        self.rate = rate
        self.connections = connections
        self.quantity = quantity
        self.tolerant = tolerant
        self.accepted: set[str] = set()
        self.replies: Counter[int] = Counter()
        self.outcomes: dict[str, str] = {}  # user -> "202", "503 not_ready", "no reply: ..."
        self.begun: set[str] = set()  # users whose request has been sent (or is being sent)
        self.failures: list[str] = []
        self.sent = 0

    def run(self) -> None:
        try:
            asyncio.run(self._send_all())
        except BaseException as exc:  # reported by join_and_check
            self.failures.append(repr(exc))

    async def _send_all(self) -> None:
        gate = asyncio.Semaphore(self.connections)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.connections), timeout=timeout
        ) as session:

            async def one(user: str, token: str) -> None:
                try:
                    async with gate:
                        self.begun.add(user)
                        async with session.post(
                            self.url,
                            headers={"Authorization": f"Bearer {token}"},
                            json={"quantity": self.quantity} if self.quantity != 1 else None,
                        ) as reply:
                            body = await reply.json(content_type=None)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    if not self.tolerant:
                        raise
                    self.outcomes[user] = f"no reply: {type(exc).__name__}"
                    return
                self.replies[reply.status] += 1
                if reply.status == 202:
                    self.accepted.add(body["order_id"])
                    self.outcomes[user] = "202"
                else:
                    self.outcomes[user] = f"{reply.status} {body.get('error')}"
                    if not self.tolerant:
                        self.failures.append(f"{reply.status} {body}")

            began = time.monotonic()
            tasks = []
            for i, (user, token) in enumerate(zip(self.users, self.tokens, strict=True)):
                await asyncio.sleep(max(0.0, began + i / self.rate - time.monotonic()))
                tasks.append(asyncio.create_task(one(user, token)))
                self.sent = i + 1
            await asyncio.gather(*tasks)

    def join_and_check(self, timeout: float = 60) -> set[str]:
        """Wait for the last reply; every purchase must have been accepted."""
        self.join(timeout)
        assert not self.is_alive(), f"the purchases did not finish in {timeout}s"
        assert not self.failures, f"{len(self.failures)} purchases not accepted: {self.failures[:5]}"
        assert len(self.accepted) == len(self.tokens), (len(self.accepted), len(self.tokens))
        return set(self.accepted)

    def finish(self, timeout: float = 60) -> set[str]:
        """Wait for the last reply of a tolerant burst; every request must have ended somehow."""
        self.join(timeout)
        assert not self.is_alive(), f"the purchases did not finish in {timeout}s"
        assert not self.failures, f"the burst failed: {self.failures[:5]}"
        assert len(self.outcomes) == len(self.tokens), (len(self.outcomes), len(self.tokens))
        return set(self.accepted)

    def in_flight(self) -> set[str]:
        """Users whose request was sent and has not ended yet (so far)."""
        return set(self.begun) - set(self.outcomes)

    def unanswered(self) -> set[str]:
        """Users whose purchase got no reply (so far)."""
        return {u for u, o in list(self.outcomes.items()) if o.startswith("no reply")}

    def unsure(self) -> set[str]:
        """Users whose purchase may or may not have been reserved: no reply, or 503 `unavailable` (the contract:
        nothing reserved, or a retry with the key tells). Every other refusal reserved nothing."""
        return {u for u, o in self.outcomes.items() if o.startswith("no reply") or o == "503 unavailable"}


def pending_in_relay(world: World, sale_id: int | str) -> int:
    """Hand-off entries a relay has read but not acknowledged (XPENDING of the relay's group)."""
    import redis

    r = redis.Redis.from_url(world.settings.redis_url)
    try:
        key = Names(world.namespace).sale(int(sale_id)).handoff
        try:
            return int(r.xpending(key, "relay")["pending"])
        except redis.ResponseError:  # no group yet
            return 0
    finally:
        r.close()


def wait_all_written(db: Db, sale_id: int | str, accepted: set[str], timeout: float) -> dict[int, tuple]:
    """Until every accepted order has its row; then exactly those rows (no more, no fewer) must exist."""
    wait_until(
        lambda: db.count_orders(sale_id) >= len(accepted),
        timeout,
        f"{len(accepted)} accepted orders to be written",
        interval=0.2,
    )
    rows = db.order_rows(sale_id)
    missing = {int(o) for o in accepted} - set(rows)
    extra = set(rows) - {int(o) for o in accepted}
    assert not missing and not extra, f"{len(missing)} accepted orders without a row, {len(extra)} rows extra"
    return rows


def metric(base: str, name: str) -> float:
    """The sum of a metric's samples on a Prometheus /metrics page (0 when absent)."""
    text = httpx.get(f"{base}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total
