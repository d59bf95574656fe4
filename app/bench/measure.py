"""What the bench reads from the stores and the processes: order rows, stock, Redis memory, RSS, the audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.application.audit import Check, audit_sale
from app.bootstrap import Container, drain_check, open_messaging, state_of
from app.config import Settings


@dataclass(frozen=True)
class RowTimes:
    """A sale's orders as the rows tell it: reservation (created_at, Redis' clock) and write (written_at)."""

    orders: int
    first_reserved: float
    last_reserved: float
    first_written: float
    last_written: float

    @property
    def selling_seconds(self) -> float:
        return max(0.0, self.last_reserved - self.first_reserved)

    @property
    def written_after_sold_out(self) -> float:
        return max(0.0, self.last_written - self.last_reserved)

    @property
    def writing_seconds(self) -> float:
        return max(0.0, self.last_written - self.first_written)

    @property
    def orders_per_second(self) -> float:
        return self.orders / max(self.writing_seconds, 1e-3)


def _ts(value: datetime) -> float:
    return value.replace(tzinfo=UTC).timestamp()


async def row_times(c: Container, sale_id: int) -> RowTimes | None:
    async with c.db.transaction() as cur:
        await cur.execute(
            "SELECT COUNT(*), MIN(created_at), MAX(created_at), MIN(written_at), MAX(written_at) FROM orders "
            "WHERE sale_id = %s",
            (sale_id,),
        )
        row = await cur.fetchone()
    if not row or not row[0]:
        return None
    return RowTimes(int(row[0]), _ts(row[1]), _ts(row[2]), _ts(row[3]), _ts(row[4]))


async def written(c: Container, sale_id: int) -> int:
    async with c.db.transaction() as cur:
        await cur.execute("SELECT COUNT(*) FROM orders WHERE sale_id = %s", (sale_id,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def stock_left(c: Container, sale_id: int) -> int | None:
    return (await c.cache.stock_left([sale_id])).get(sale_id)


async def redis_used_memory(c: Container) -> int:
    info = await c.redis.info("memory")
    return int(info["used_memory"])


async def sale_key_bytes(c: Container, sale_id: int) -> tuple[int, int]:
    """(keys, bytes by MEMORY USAGE) of everything Redis holds for the sale."""
    pattern = c.names.sale(sale_id).meta.rsplit(":", 1)[0] + ":*"
    keys = [key async for key in c.redis.scan_iter(match=pattern, count=1000)]
    total = 0
    for start in range(0, len(keys), 1000):
        async with c.redis.pipeline(transaction=False) as pipe:
            for key in keys[start : start + 1000]:
                pipe.memory_usage(key, samples=0)
            total += sum(int(n or 0) for n in await pipe.execute())
    return len(keys), total


async def audit(c: Container, settings: Settings, sale_id: int) -> list[Check]:
    """`flashsale audit`'s checks, with an AMQP channel (queue depths exact even before the management API's
    statistics of a fresh queue exist)."""
    async with open_messaging(settings) as m:
        return await audit_sale(c.db, c.cache, sale_id, await state_of(c, sale_id, m.channel))


async def accepted(c: Container, sale_id: int) -> int:
    """Reservations Redis holds for the sale, none written yet: with the workers stopped, every accepted one (wrk
    counts only the answers it read before it stopped): the sale's hand-off and its orders in flight."""
    backlog = await drain_check(c.cache, c.in_flight, c.names)(sale_id)
    return backlog.handoff + backlog.unwritten


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(n) for n in task.read_text().split())
        except OSError:
            continue
    return found


def rss_of_tree(pid: int) -> dict[int, int]:
    """Resident set size in bytes of the process and every descendant (Linux /proc); gone processes left out."""
    sizes: dict[int, int] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[current] = int(line.split()[1]) * 1024
        except OSError:
            continue
        todo.extend(_children(current))
    return sizes
