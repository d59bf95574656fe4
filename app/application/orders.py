"""Reading, paying and cancelling orders, including those still `pending` in the hand-off; and the sweep's
repairs of payments a crash left behind."""

from __future__ import annotations

import logging
from typing import Protocol

from app.application.ports import OrderTx, PaymentProvider, PendingOrders, Transactions
from app.domain.errors import Conflict, DomainError, NotFound
from app.domain.models import Order, OrderStatus, StockReturn
from app.infrastructure.metrics import PAYMENTS
from app.infrastructure.records import reservation_from_json
from app.infrastructure.tokens import Principal

log = logging.getLogger(__name__)
# How long after the sweep gave an order back a stalled charge of it may still land (far beyond any provider
# client's timeout): until then a cancelled order with no charge yet is looked at again.
PAYMENT_WATCH_SECONDS = 3600


class PaymentFailed(DomainError):
    status = 402
    code = "payment_failed"


def _pending() -> Conflict:
    return Conflict("the order is still being written; try again in a second", code="order_pending", retry_after=1)


class Canceller(Protocol):
    """Who wins an order's cancellation returns its stock (StockReturns)."""

    async def cancel(self, order_id: int, reason: str, *, user_id: str | None = None) -> StockReturn | None: ...


class Orders:
    def __init__(
        self, store: Transactions[OrderTx], cache: PendingOrders, payments: PaymentProvider, returns: Canceller
    ) -> None:
        self._store = store
        self._cache = cache
        self._payments = payments
        self._returns = returns

    async def _find_pending(self, order_id: int) -> Order | None:
        """An order not in the database yet: its record in one of the watched sales (ended and drained sales
        are no longer watched, so this costs one round trip, whatever the number of sales ever run)."""
        raw = await self._cache.find_reservation(order_id, await self._cache.known_sales())
        return reservation_from_json(raw).as_order() if raw else None

    async def get(self, who: Principal, order_id: int) -> Order:
        async with self._store.transaction() as tx:
            order = await tx.by_id(order_id)
        if order is None:
            order = await self._find_pending(order_id)
        if order is None:
            # The order writer drops an order's record only after its row is committed: a record gone since the
            # first read means the row is there now (without this second read a 202's order could be 404).
            async with self._store.transaction() as tx:
                order = await tx.by_id(order_id)
        if order is None or (order.user_id != who.user_id and not who.is_admin):
            raise NotFound("no such order")
        return order

    async def _own(self, who: Principal, order_id: int) -> Order:
        """The caller's own order (another user's is 404), written or still pending."""
        order = await self.get(Principal(who.user_id, "user"), order_id)
        if order.status is OrderStatus.PENDING:
            raise _pending()
        return order

    async def list(self, who: Principal, sale_id: int | None, limit: int, before: int | None) -> list[Order]:
        sales = [sale_id] if sale_id is not None else await self._cache.known_sales()
        # The user's orders still on their way (at most the per-user limit a sale): pipelined, not per sale.
        # Read BEFORE the database: the order writer drops a pending entry only after the row is committed, so an
        # order written meanwhile is in the database read (database first, it could be in neither read).
        candidates = [
            (sid, oid)
            for sid, oid in await self._cache.pending_order_ids(sales, who.user_id)
            if before is None or oid < before
        ]
        async with self._store.transaction() as tx:
            written = await tx.list_for_user(who.user_id, sale_id, limit, before)
        pending: list[Order] = []
        if candidates:
            async with self._store.transaction() as tx:
                found = await tx.by_ids([oid for _, oid in candidates])
            # These rows may have been committed after the list was read: they are listed from this read.
            written = [*written, *found]
            known = {o.id for o in found}
            unwritten = [(sid, oid) for sid, oid in candidates if oid not in known]
            records = await self._cache.reservations(unwritten)
            pending = [reservation_from_json(raw).as_order() for raw in records.values()]
            gone = [oid for _sid, oid in unwritten if oid not in records]
            if gone:  # written (and its record dropped) since the first read: the row is there now
                async with self._store.transaction() as tx:
                    written = [*written, *await tx.by_ids(gone)]
        merged = {o.id: o for o in pending} | {o.id: o for o in written}
        return sorted(merged.values(), key=lambda o: o.id, reverse=True)[:limit]

    async def pay(self, who: Principal, order_id: int) -> Order:
        order = await self._own(who, order_id)
        if order.status is OrderStatus.CREATED:
            async with self._store.transaction() as tx:
                claimed = await tx.claim_for_payment(order_id, who.user_id)
            if claimed:
                return await self._charge(order)
            async with self._store.transaction() as tx:
                order = await tx.by_id(order_id) or order
        if order.status is OrderStatus.PAID:
            return order
        if order.status is OrderStatus.CANCELLED:
            raise Conflict("the order was cancelled", code="order_cancelled")
        if order.status is OrderStatus.PAYING:
            raise Conflict("a payment for this order is in progress", code="payment_in_progress", retry_after=1)
        raise Conflict("the payment window of this order has closed", code="order_expired")

    async def _charge(self, order: Order) -> Order:
        ok = await self._payments.charge(str(order.id), order.amount_cents)
        async with self._store.transaction() as tx:
            finished = await tx.finish_payment(order.id, paid=ok)
            if ok and not finished:
                # This attempt stalled so long that the sweep gave the order back (no charge was seen then):
                # keep the charge only if the order can still be paid, else refund it, never both.
                finished = await tx.pay_reopened(order.id)
            fresh = await tx.by_id(order.id)
        assert fresh is not None
        PAYMENTS.labels("paid" if ok else "declined").inc()
        if not ok:
            raise PaymentFailed("the payment was declined; the order is still open until it expires")
        if fresh.status is OrderStatus.PAID:
            return fresh
        await self._payments.refund(str(order.id))
        PAYMENTS.labels("refunded").inc()
        if fresh.status is OrderStatus.CANCELLED:
            raise Conflict("the order was cancelled while the payment was under way; refunded", code="order_cancelled")
        raise Conflict("the payment window closed while the payment was under way; refunded", code="order_expired")

    async def cancel(self, who: Principal, order_id: int) -> Order:
        order = await self._own(who, order_id)
        if order.status is OrderStatus.CREATED:
            # Past expires_at an unpaid order ends cancelled by `timeout`, whoever gets there first.
            if await self._returns.cancel(order_id, "user", user_id=who.user_id) is None:
                await self._returns.cancel(order_id, "timeout")
            async with self._store.transaction() as tx:
                order = await tx.by_id(order_id) or order
        if order.status is OrderStatus.CANCELLED:
            return order
        raise Conflict("the order is paid or being paid", code="order_paid")

    async def resolve_paying(self, older_than_seconds: int = 30, limit: int = 200) -> int:
        """Orders left in `paying` by a crash: ask the provider with the same key and finish them."""
        async with self._store.transaction() as tx:
            stuck = await tx.stuck_paying(older_than_seconds, limit)
        for order_id, _amount in stuck:
            charged = await self._payments.charged(str(order_id))
            async with self._store.transaction() as tx:
                given_back = await tx.finish_payment(order_id, paid=bool(charged))
                if given_back and not charged:
                    # The stalled attempt may still charge, after the order is cancelled, and die before its
                    # refund: watch it until that can no longer happen.
                    await tx.watch_payment(order_id, PAYMENT_WATCH_SECONDS)
        return len(stuck)

    async def refund_cancelled_charges(self, limit: int = 200) -> int:
        """Refund, once, a charge that landed on a cancelled order the sweep had given back; forget each watched
        order once it is settled (paid; cancelled and refunded; cancelled and never charged in time)."""
        async with self._store.transaction() as tx:
            watched = await tx.watched_final(limit)
        refunded = 0
        for order_id, status, over in watched:
            if status == "cancelled":
                charged = await self._payments.charged(str(order_id))
                if charged:
                    await self._payments.refund(str(order_id))
                    PAYMENTS.labels("refunded").inc()
                    log.warning("refunded the charge of cancelled order %s (its pay request died)", order_id)
                    refunded += 1
                elif charged is None and not over:
                    continue  # no charge yet: the stalled attempt may still make one
            async with self._store.transaction() as tx:
                await tx.forget_watch(order_id)
        return refunded
