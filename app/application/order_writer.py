"""Write accepted orders to the database in batches, idempotently.

A batch is one transaction: the orders already written are recognised (a redelivery writes nothing twice),
the new ones are inserted with one multi-row INSERT, and each sale's stock row is decremented with a
conditional UPDATE. If the batch cannot be written as a whole because of an order (no stock left for it in
the row, a conflicting id or key, data a column refuses), its orders are tried one by one so one bad order
cannot hold back the rest. Any other database error (a read-only server in a failover, a lock-wait timeout, a
deadlock, ...) says nothing about the orders: it is raised as `Unavailable`, and the consumer holds the batch
and backs off as in an outage. Every outcome is per order, for the consumer to ack, retry or dead-letter."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import Enum
from typing import Any

from app.domain.errors import Unavailable
from app.domain.models import OrderStatus, Reservation
from app.domain.timefmt import db_time_ms
from app.infrastructure import sql_orders
from app.infrastructure.db import Database, MysqlError, is_data_error

CREATED = OrderStatus.CREATED.value


class Outcome(Enum):
    WRITTEN = "written"  # new row, or the same order written before: ack (and schedule its timeout)
    CONFLICT = "conflict"  # the id exists with another payload: dead-letter at once
    FAILED = "failed"  # could not be written (e.g. no stock row to take from): retry, then dead-letter


@dataclass(frozen=True)
class Written:
    reservation: Reservation
    outcome: Outcome
    detail: str = ""


class OrderWriter:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def write(self, batch: list[Reservation]) -> list[Written]:
        """Raises Unavailable when the database is down or refuses for a reason that is not the orders': nothing
        is decided, the caller holds the batch and retries later."""
        try:
            return await self._write_together(batch)
        except (_TakeFailed, _Unwritable):
            pass  # one order spoils the batch: try each alone, so the rest still get written
        except MysqlError as exc:
            if not is_data_error(exc):
                raise Unavailable(f"the database refused the batch: {exc}") from exc
        results: list[Written] = []
        for reservation in batch:
            results += await self._write_alone(reservation)
        return results

    async def _write_alone(self, r: Reservation) -> list[Written]:
        try:
            return await self._write_together([r])
        except (_TakeFailed, _Unwritable) as exc:
            return [Written(r, Outcome.FAILED, str(exc))]
        except MysqlError as exc:
            if not is_data_error(exc):  # the orders written alone so far are recognised on the retry
                raise Unavailable(f"the database refused the order: {exc}") from exc
            return [Written(r, Outcome.FAILED, f"database refused the order: {exc}")]

    async def _write_together(self, batch: list[Reservation]) -> list[Written]:
        results: list[Written] = []
        async with self._db.transaction() as cur:
            seen = await sql_orders.existing(cur, [r.order_id for r in batch])
            fresh: dict[int, Reservation] = {}
            for r in batch:
                prior = seen.get(r.order_id)
                if prior is None:
                    twin = fresh.get(r.order_id)
                    if twin is None:
                        fresh[r.order_id] = r
                    elif _payload(twin) == _payload(r):  # the same message twice in one batch
                        results.append(Written(r, Outcome.WRITTEN, "duplicate in batch"))
                    else:
                        results.append(Written(r, Outcome.CONFLICT, "the order id came twice with two payloads"))
                elif prior == _payload(r):
                    results.append(Written(r, Outcome.WRITTEN, "already written"))
                else:
                    results.append(Written(r, Outcome.CONFLICT, "the order id exists with another payload"))
            units: dict[int, int] = defaultdict(int)
            for r in fresh.values():
                units[r.sale_id] += r.quantity
            for sale_id in sorted(units):
                if not await sql_orders.take_stock(cur, sale_id, units[sale_id]):
                    raise _TakeFailed(f"sale {sale_id} has fewer than {units[sale_id]} units left in the database")
            if fresh:
                await sql_orders.insert_rows(cur, [_row(r) for r in fresh.values()])
            results += [Written(r, Outcome.WRITTEN) for r in fresh.values()]
            # Every order here is settled by this commit (written now, written before, or a conflict).
            await sql_orders.settle_in_flight(cur, sorted({r.order_id for r in batch}))
        return results


def _payload(r: Reservation) -> tuple[int, str, int, int]:
    return (r.sale_id, r.user_id, r.quantity, r.amount_cents)


def _row(r: Reservation) -> tuple[Any, ...]:
    """The order's row, in sql_orders.INSERT_ORDER's columns (NewOrder.row()'s; tests/unit/test_order_row.py),
    with its times built as the database's text directly (a datetime per time and the driver's escaping of it
    were a fifth of the writer).
    A record that can never be a row (a time past what a row holds) is the order's fault, counted toward its
    attempts like a failed stock take, never a crash of the writer that would loop."""
    try:
        return (
            r.order_id,
            r.sale_id,
            r.user_id,
            r.quantity,
            r.amount_cents,
            CREATED,
            r.idempotency_key,
            r.epoch,
            db_time_ms(r.created_ms),
            db_time_ms(r.expires_ms),
        )
    except (ValueError, OverflowError, OSError) as exc:
        raise _Unwritable(f"the order's record cannot become a row: {exc}") from exc


class _Unwritable(Exception):
    pass


class _TakeFailed(Exception):
    pass
