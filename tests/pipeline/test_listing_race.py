"""GET /orders must list an order the order writer writes while the list is being read, whichever of the list's
reads the write falls between. Found by the state machine in tests/properties: the list read the database, then
the user's pending set, then the rows of the pending ids; an order committed (and its pending entry dropped)
between the first two reads, or between the list and the rows read, was left out. Here the write is put exactly
before each read in turn, every time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from app.application.order_writer import OrderWriter, Outcome
from app.application.orders import Orders
from app.bootstrap import open_container
from app.infrastructure.records import reservation_from_json
from app.infrastructure.sale_cache import SaleCache
from app.infrastructure.sql_store import SqlStore
from app.infrastructure.tokens import Principal
from tests.pipeline.harness import Running, buy, reservation_record, running_world
from tests.support import make_sale


@pytest.fixture(scope="module")
def bare() -> Iterator[Running]:
    """No workers: the order stays pending until the test writes it."""
    with running_world(workers=()) as run:
        yield run


class Write:
    """The order writer committing one order and dropping its pending entry, once, when `moment` comes."""

    def __init__(self, writer: OrderWriter, cache: SaleCache, record: bytes, moment: str) -> None:
        self.writer, self.cache, self.record, self.moment = writer, cache, record, moment
        self.done = False

    async def at(self, moment: str) -> None:
        if self.done or moment != self.moment:
            return
        self.done = True
        reservation = reservation_from_json(self.record)
        [written] = await self.writer.write([reservation])
        assert written.outcome is Outcome.WRITTEN, written
        await self.cache.forget_written([(reservation.sale_id, reservation.order_id, reservation.user_id)])


class Cache(SaleCache):
    """The cache, with the write before its reads of pending ids and of reservation records."""

    def __init__(self, cache: SaleCache, write: Write) -> None:
        super().__init__(cache.redis, cache.scripts, cache.names)
        self.write = write

    async def pending_order_ids(self, sale_ids: list[int], user_id: str) -> list[tuple[int, int]]:
        await self.write.at("pending ids")
        return await super().pending_order_ids(sale_ids, user_id)

    async def reservations(self, wanted: list[tuple[int, int]]) -> dict[int, str]:
        await self.write.at("records")
        return await super().reservations(wanted)


class Db:
    """The store, with the write before its first and second transaction."""

    def __init__(self, db: Any, write: Write) -> None:
        self.db, self.write, self.calls = db, write, 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self.calls += 1
        await self.write.at(f"database read {self.calls}")
        async with self.db.transaction() as tx:
            yield tx


MOMENTS = ["pending ids", "database read 1", "database read 2", "records"]


@pytest.mark.parametrize("one_sale", [True, False], ids=["one-sale", "every-watched-sale"])
@pytest.mark.parametrize("moment", MOMENTS)
async def test_an_order_written_while_the_list_is_read_is_listed(bare: Running, one_sale: bool, moment: str) -> None:
    world = bare.world
    user = f"lena-{one_sale}-{MOMENTS.index(moment)}"
    with bare.client() as http:
        sale = make_sale(http, world, stock=3)
        order_id = buy(http, world, sale["id"], user)
    record = reservation_record(world, sale["id"], order_id)
    async with open_container(world.settings) as c:
        write = Write(OrderWriter(c.db), c.cache, record, moment)
        orders = Orders(Db(SqlStore(c.db), write), Cache(c.cache, write), c.payments, c.returns)  # type: ignore[arg-type]
        listed = await orders.list(Principal(user, "user"), int(sale["id"]) if one_sale else None, 50, None)
    assert write.done, f"the list made no read at {moment!r}"
    assert [(o.id, o.status.value) for o in listed] == [(int(order_id), "created")], listed
