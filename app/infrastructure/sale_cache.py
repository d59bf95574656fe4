"""The sale's cache in Redis: load (preheat), reserve, adjust, read. All script calls go through here.

What a reservation leaves behind is dropped once the database holds it: the order writer removes an order's
record and its entry in the user's pending set after the commit (`forget_written`), and a stock return's
entry in `returned` goes once the database marks the return applied (`forget_returned`)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.domain.models import Sale
from app.domain.timefmt import to_ms
from app.infrastructure.keys import Names
from app.infrastructure.lua import Scripts
from app.infrastructure.script_batch import ScriptBatch

# Sale keys live this long after the sale ends and its last payment window closes (idempotency replays).
KEEP_AFTER_END_MS = 24 * 3600 * 1000
# A fence on an order id of a sale that is not loaded (no keep_until) lasts this long: a late call is seconds late.
FENCE_MS = 3600 * 1000
PLACEHOLDER = ""  # a field no user id or order id can be: keeps a hash alive so its expiry sticks
CHUNK = 1000


@dataclass(frozen=True)
class ReserveResult:
    code: str
    value: str
    now_ms: int


class SaleCache:
    def __init__(self, redis: Redis, scripts: Scripts, names: Names) -> None:
        self.redis = redis
        self.scripts = scripts
        self.names = names
        # Reservations of one event-loop tick share a round trip (app/infrastructure/script_batch.py).
        self._reserve = ScriptBatch(redis, scripts.reserve)

    async def now_ms(self) -> int:
        sec, usec = await self.redis.time()
        return int(sec) * 1000 + int(usec) // 1000

    async def is_loaded(self, sale_id: int) -> bool:
        return bool(await self.redis.exists(self.names.sale(sale_id).meta))

    async def stock_left(self, sale_ids: list[int]) -> dict[int, int | None]:
        """The cached stock of each sale, None where it is not loaded."""
        if not sale_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for sale_id in sale_ids:
                pipe.hget(self.names.sale(sale_id).meta, "stock_left")
            values = await pipe.execute()
        return {sid: (int(v) if v is not None else None) for sid, v in zip(sale_ids, values, strict=True)}

    async def load(
        self,
        sale: Sale,
        *,
        epoch: int,
        stock_left: int,
        holdings: list[tuple[str, int]],
        idempotency: list[tuple[str, str, int, int]],
        cancelled: list[int] | None = None,
        placed: list[tuple[str, int]] | None = None,
    ) -> bool:
        """Write the sale's cache from the database truth. The caller holds the sale's row lock, so no other
        preheat runs at once; the metadata goes last, so a crash half-way leaves the sale 'not loaded'.
        `cancelled`: orders whose stock return the database has not applied yet (the reload counts their units
        already); `placed`: orders each user has placed in the sale (the cap counts across reloads)."""
        keys = self.names.sale(sale.id)
        if await self.redis.exists(keys.meta):
            return False
        await self.redis.delete(keys.users, keys.idem, keys.res, keys.rate, keys.placed, keys.returned)
        await self.redis.hset(keys.users, PLACEHOLDER, "0")
        for i in range(0, len(holdings), CHUNK):
            await self.redis.hset(keys.users, mapping=dict(holdings[i : i + CHUNK]))
        await self.redis.hset(keys.idem, PLACEHOLDER, "0")
        for i in range(0, len(idempotency), CHUNK):
            part = idempotency[i : i + CHUNK]
            await self.redis.hset(keys.idem, mapping={f"{u}|{k}": f"{o}|{q}" for u, k, o, q in part})
        await self.redis.hset(keys.placed, PLACEHOLDER, "0")
        placed = placed or []
        for i in range(0, len(placed), CHUNK):
            await self.redis.hset(keys.placed, mapping=dict(placed[i : i + CHUNK]))
        for key in (keys.res, keys.rate):
            await self.redis.hset(key, PLACEHOLDER, "0")
        await self.redis.sadd(keys.returned, PLACEHOLDER)
        # Orders cancelled before this count: their units are in stock_left already, never return them again.
        done = [str(o) for o in cancelled or []]
        for i in range(0, len(done), CHUNK):
            await self.redis.sadd(keys.returned, *done[i : i + CHUNK])
        await self.redis.sadd(self.names.handoff_sales, str(sale.id))
        expire_at = to_ms(sale.ends_at) + sale.payment_timeout_seconds * 1000 + KEEP_AFTER_END_MS
        meta = {
            "sale": sale.id,
            "start_ms": to_ms(sale.starts_at),
            "end_ms": to_ms(sale.ends_at),
            "paused": int(sale.paused),
            "stock": sale.stock,
            "stock_left": stock_left,
            "limit": sale.per_user_limit,
            "price": sale.price_cents,
            "timeout_s": sale.payment_timeout_seconds,
            "epoch": epoch,
            "keep_until": expire_at,  # the reservation script gives each user's pending set this expiry
        }
        args: list[str | int] = [expire_at]
        for field, value in meta.items():
            args += [field, value]
        loaded = await self.scripts.load(keys=keys.expiring(), args=args)
        return bool(loaded)

    async def reserve(
        self,
        sale_id: int,
        *,
        user_id: str,
        quantity: int,
        order_id: int,
        idempotency_key: str | None,
        rate_user: int,
        address: str | None,
        rate_address: int,
        backlog_max: int,
        orders_max: int = 0,
    ) -> ReserveResult:
        keys = self.names.sale(sale_id)
        code, value, now = await self._reserve(
            keys=keys.reserve(user_id),
            args=[
                user_id,
                quantity,
                order_id,
                idempotency_key or "",
                rate_user,
                address or "",
                rate_address,
                backlog_max,
                self.names.stock_channel,
                orders_max,
            ],
        )
        return ReserveResult(code=code, value=value, now_ms=int(now))

    async def adjust(self, sale_id: int, *, stock: int | None, paused: bool | None) -> tuple[str, int]:
        """Set the cached stock (stock left moves with it; None keeps it) and/or the paused flag."""
        code, left = await self.scripts.adjust(
            keys=[self.names.sale(sale_id).meta],
            args=[-1 if stock is None else stock, "" if paused is None else int(paused), self.names.stock_channel],
        )
        return code, int(left)

    async def end(self, sale_id: int, end_ms: int) -> bool:
        """Move a loaded sale's end to `end_ms` if that is earlier; a sale not loaded is left alone."""
        moved = await self.scripts.end(keys=[self.names.sale(sale_id).meta], args=[end_ms, self.names.stock_channel])
        return bool(moved)

    async def handoff_length(self, sale_id: int) -> int:
        return int(await self.redis.xlen(self.names.sale(sale_id).handoff))

    async def unload(self, sale_id: int) -> bool:
        """Remove the sale's keys. A hand-off stream that still holds orders is kept (with the relay watching
        it), since those orders exist nowhere else; returns whether everything went."""
        keys = self.names.sale(sale_id)
        await self.redis.delete(*keys.expiring())
        if await self.redis.xlen(keys.handoff):
            return False
        await self.redis.delete(keys.handoff)
        await self.redis.srem(self.names.handoff_sales, str(sale_id))
        return True

    async def release(self, sale_id: int, *, order_id: int, user_id: str, quantity: int) -> str:
        keys = self.names.sale(sale_id)
        result = await self.scripts.release(
            keys=[keys.meta, keys.users, keys.returned],
            args=[order_id, user_id, quantity, self.names.stock_channel],
        )
        return str(result)

    async def settle(self, sale_id: int, order_id: int) -> str | None:
        """The record of a reservation whose reply was lost, or None; its order id is fenced either way
        (lua/settle.lua): the reservation call, should it still arrive, reserves nothing."""
        keys = self.names.sale(sale_id)
        value = await self.scripts.settle(keys=[keys.meta, keys.res, keys.fenced], args=[order_id, FENCE_MS])
        return str(value) if value else None

    async def reservation(self, sale_id: int, order_id: int) -> str | None:
        value = await self.redis.hget(self.names.sale(sale_id).res, str(order_id))
        return str(value) if value else None

    async def reservations(self, wanted: list[tuple[int, int]]) -> dict[int, str]:
        """The records of (sale, order id) pairs, in one round trip; order id -> record, where there is one."""
        if not wanted:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for sale_id, order_id in wanted:
                pipe.hget(self.names.sale(sale_id).res, str(order_id))
            values = await pipe.execute()
        return {oid: str(v) for (_sid, oid), v in zip(wanted, values, strict=True) if v}

    async def pending_order_ids(self, sale_ids: list[int], user_id: str) -> list[tuple[int, int]]:
        """(sale, order id) of the user's orders not yet in the database, in one round trip."""
        if not sale_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for sale_id in sale_ids:
                pipe.smembers(self.names.sale(sale_id).pending(user_id))
            values = await pipe.execute()
        return [(sid, int(oid)) for sid, ids in zip(sale_ids, values, strict=True) for oid in ids]

    async def forget_written(self, orders: list[tuple[int, int, str]]) -> None:
        """(sale, order id, user) now in the database: drop their records and pending entries."""
        if not orders:
            return
        records: dict[int, list[str]] = {}  # one variadic HDEL a sale, one SREM a user's pending set
        pending: dict[tuple[int, str], list[str]] = {}
        for sale_id, order_id, user_id in orders:
            records.setdefault(sale_id, []).append(str(order_id))
            pending.setdefault((sale_id, user_id), []).append(str(order_id))
        keys = {sale_id: self.names.sale(sale_id) for sale_id in records}
        async with self.redis.pipeline(transaction=False) as pipe:
            for sale_id, ids in records.items():
                pipe.hdel(keys[sale_id].res, *ids)
            for (sale_id, user_id), ids in pending.items():
                pipe.srem(keys[sale_id].pending(user_id), *ids)
            await pipe.execute()

    async def forget_returned(self, sale_id: int, order_id: int) -> None:
        """The database marked this stock return applied (under its row lock); nothing will release it again."""
        await self.redis.srem(self.names.sale(sale_id).returned, str(order_id))

    async def sale_stats(self, sale_ids: list[int]) -> dict[int, tuple[int, int, int]]:
        """(stock, stock left, orders in the hand-off) of each sale that is loaded; the others are left out."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for sale_id in sale_ids:
                pipe.hmget(self.names.sale(sale_id).meta, ["stock", "stock_left"])
                pipe.xlen(self.names.sale(sale_id).handoff)
            replies = await pipe.execute()
        found = {}
        for i, sale_id in enumerate(sale_ids):
            (stock, left), handoff = replies[2 * i], replies[2 * i + 1]
            if stock is not None and left is not None:
                found[sale_id] = (int(stock), int(left), int(handoff))
        return found

    async def find_reservation(self, order_id: int, sale_ids: list[int]) -> str | None:
        """The record of an order not yet written, looked for in these sales in one round trip."""
        found = await self.reservations([(sid, order_id) for sid in sale_ids])
        return found.get(order_id)

    async def known_sales(self) -> list[int]:
        """The sales the relay watches: preheated, and not yet ended and drained (see `finished`)."""
        return sorted(int(x) for x in await self.redis.smembers(self.names.handoff_sales))

    async def finished(self, sale_id: int, group: str) -> bool:
        """Whether a watched sale is done with: ended, its payment windows closed, nothing of it on its way.
        If so it leaves the watched set, and then its empty hand-off stream is deleted (in that order, so a
        relay that still reads the stream never sees it missing while the set names it)."""
        keys = self.names.sale(sale_id)
        on_sale = [keys.meta, keys.handoff, keys.res]
        if not await self.scripts.forget(keys=on_sale, args=[group, "0"]):
            return False
        await self.redis.srem(self.names.handoff_sales, str(sale_id))
        await self.scripts.forget(keys=on_sale, args=[group, "1"])
        return True
