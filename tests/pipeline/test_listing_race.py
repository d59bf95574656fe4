"""GET /orders must list an order the order writer writes while the list is being read. Found by the state
machine in tests/properties: the list read the database, then the user's pending set; an order committed (and
its pending entry dropped) between the two reads was in neither, so a 202's order went missing from the list.
Here the write is put exactly between the reads, every time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.application.order_writer import OrderWriter, Outcome
from app.application.orders import Orders
from app.bootstrap import open_container
from app.infrastructure.records import reservation_from_json
from app.infrastructure.sale_cache import SaleCache
from app.infrastructure.tokens import Principal
from tests.pipeline.harness import Running, buy, reservation_record, running_world
from tests.support import make_sale


@pytest.fixture(scope="module")
def bare() -> Iterator[Running]:
    """No workers: the order stays pending until the test writes it."""
    with running_world(workers=()) as run:
        yield run


class WritesWhenPendingIsRead(SaleCache):
    """The cache, where the order writer commits `record` and drops its pending entry right before the user's
    pending sets are read (as the real writer may at any moment)."""

    def __init__(self, cache: SaleCache, writer: OrderWriter, record: bytes) -> None:
        super().__init__(cache.redis, cache.scripts, cache.names)
        self._writer = writer
        self._record: bytes | None = record

    async def pending_order_ids(self, sale_ids: list[int], user_id: str) -> list[tuple[int, int]]:
        if self._record is not None:
            reservation = reservation_from_json(self._record)
            self._record = None
            [written] = await self._writer.write([reservation])
            assert written.outcome is Outcome.WRITTEN, written
            await self.forget_written([(reservation.sale_id, reservation.order_id, reservation.user_id)])
        return await super().pending_order_ids(sale_ids, user_id)


@pytest.mark.parametrize("one_sale", [True, False], ids=["one-sale", "every-watched-sale"])
async def test_an_order_written_while_the_list_is_read_is_listed(bare: Running, one_sale: bool) -> None:
    world = bare.world
    user = f"lena-{one_sale}"
    with bare.client() as http:
        sale = make_sale(http, world, stock=3)
        order_id = buy(http, world, sale["id"], user)
    record = reservation_record(world, sale["id"], order_id)
    async with open_container(world.settings) as c:
        cache = WritesWhenPendingIsRead(c.cache, OrderWriter(c.db), record)
        orders = Orders(c.db, cache, c.payments, c.returns)
        listed = await orders.list(Principal(user, "user"), int(sale["id"]) if one_sale else None, 50, None)
    assert [(o.id, o.status.value) for o in listed] == [(int(order_id), "created")], listed
