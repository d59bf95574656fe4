"""A FlashSale's lifecycle as plain async functions: kopf calls them from handlers.py, tests call them directly.

- `apply_spec` (create, update, resume): get or make the commodity and the sale for the resource, then apply
  what may change on a live sale: pause, and stock as an absolute total (repeating it changes nothing, so a
  retry or a restart never adds stock twice).
- `advance` (every tick of the clock): preheat when due, work out the phase, refresh the counts.
- `scale`: ask the scaler for the order consumers the sale needs.
- `finalize` (delete): end the sale, wait for its open orders (bounded), remove its cache and scaling.

Each writes what it learnt into the FlashSale's record and publishes it as the status."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from app.application.catalogue import Catalogue, SaleView
from app.domain.errors import Conflict, InvalidRequest, NotFound, NotReady, ServiceUnavailable, Unavailable
from app.domain.models import SaleStatus
from app.domain.timefmt import format_time
from app.infrastructure.redis_client import REDIS_DOWN
from flashsale_operator import metrics
from flashsale_operator.context import Operator, SaleRecord
from flashsale_operator.phase import Phase, Schedule, phase_at
from flashsale_operator.spec import Resource, SaleSpec, SpecError, fixed_fields_changed, new_sale, parse_spec

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # the longest a phase waits for the clock; boundaries are met sooner (see `advance`)
COUNT_EVERY_SECONDS = 2.0  # order counts in status lag at most this and a tick (the contract allows 5 s)
DRAIN_POLL_SECONDS = 1.0
DEFAULT_PREHEAT_LEAD_SECONDS = 300
# A store the operator needs is down: retry soon, the phase must not stall for long.
TEMPORARY = (Unavailable, ServiceUnavailable, *REDIS_DOWN)

SPEC_VALID = "SpecValid"
SPEC_APPLIED = "SpecApplied"
PREHEATED = "Preheated"
PAUSED = "Paused"
STORES = "StoresReachable"
DRAINING = "Draining"


class SpecInvalid(Exception):
    """The spec cannot be run as written; the FlashSale is `Failed` until it changes."""


class StillDraining(Exception):
    """The finalizer waits for open orders; try again after `delay` seconds."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class Stopped(Protocol):
    """kopf's DaemonStopped, as far as `follow` uses it."""

    def __bool__(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> Awaitable[Any]: ...


def _now() -> datetime:
    return datetime.now(UTC)


def _lead(spec: Mapping[str, Any]) -> int:
    lead = spec.get("preheatLeadSeconds", DEFAULT_PREHEAT_LEAD_SECONDS)
    return lead if isinstance(lead, int) and not isinstance(lead, bool) and lead >= 0 else DEFAULT_PREHEAT_LEAD_SECONDS


async def _ensure_sale(catalogue: Catalogue, ref: Resource, wanted: SaleSpec) -> SaleView:
    """The sale made for the resource, made now (with its commodity) if there is none yet."""
    found = await catalogue.sale_by_key(ref.key)
    if found is not None:
        return found
    if wanted.commodity_ref is not None:
        try:
            commodity_id = (await catalogue.commodity(wanted.commodity_ref)).id
        except NotFound:
            raise SpecError(f"spec.commodityRef {wanted.commodity_ref} names no commodity in the catalogue") from None
    else:
        assert wanted.commodity is not None
        c = wanted.commodity
        commodity_id = (await catalogue.commodity_for(ref.key, c.name, c.description, c.price_cents)).id
    view, _made = await catalogue.sale_for(ref.key, new_sale(wanted, commodity_id, ref.name))
    return view


def _observe(op: Operator, record: SaleRecord, view: SaleView, lead: int) -> Schedule:
    """Take the sale's state into the record, with the phase it gives at the view's time."""
    sale = view.sale
    schedule = Schedule.of(sale.starts_at, sale.ends_at, lead)
    record.sale = sale
    record.stock_left = view.stock_left
    record.phase = phase_at(
        schedule,
        view.server_time,
        stock_left=view.stock_left,
        preheated=view.preheated or not op.use_cache,
        failed=record.failure is not None,
    )
    record.conditions.set(PAUSED, sale.paused, "Paused" if sale.paused else "Open", _paused_text(sale.paused), _now())
    return schedule


def _paused_text(paused: bool) -> str:
    return "purchases answer 409 paused" if paused else "purchases are not paused"


async def _preheat_if_due(
    op: Operator, view: SaleView, schedule: Schedule
) -> tuple[SaleView, tuple[bool, str, str] | None]:
    """Preheat when it is due (idempotent: a loaded sale is left alone, and stock is recomputed from the orders,
    never refilled); the sale as it is then, and the Preheated condition to report (None: nothing to say)."""
    failed: tuple[bool, str, str] | None = None
    if op.use_cache and schedule.live(view.server_time) and not view.preheated:
        try:
            view, _loaded = await op.preheater.preheat(view.sale.id)
        except NotReady as error:
            failed = (False, "NotReady", str(error))
    if view.preheated:
        return view, (True, "Loaded", "the sale is loaded into the cache")
    if failed is None and view.server_time < schedule.preheat_at:
        return view, (False, "Scheduled", f"preheats at {format_time(schedule.preheat_at)}")
    return view, failed


async def apply_spec(
    op: Operator, ref: Resource, spec: Mapping[str, Any], generation: int, status: Mapping[str, Any] | None = None
) -> SaleView:
    """Make the sale the spec asks for, or find the one made before, and apply pause and stock."""
    record = op.record(ref, status)
    try:
        wanted = parse_spec(spec)
        view = await _ensure_sale(op.catalogue, ref, wanted)
    except (SpecError, InvalidRequest) as error:
        async with record.lock:
            record.failure = str(error)
            record.phase = Phase.FAILED
            record.generation = generation
            record.conditions.set(SPEC_VALID, False, "Invalid", str(error), _now())
            await op.publish(ref, record)
        raise SpecInvalid(str(error)) from None

    refused = [
        f"{f} cannot change once the sale exists; it keeps its first value"
        for f in fixed_fields_changed(wanted, view.sale)
    ]
    if view.sale.paused != wanted.paused:
        # Pause first and on its own: it must take effect even when a stock change is refused.
        view = await op.catalogue.change_sale(view.sale.id, paused=wanted.paused, stock=None)
    if view.sale.stock != wanted.stock:
        try:
            view = await op.catalogue.change_sale(view.sale.id, paused=None, stock=wanted.stock)
        except Conflict as error:
            if error.code != "stock_below_sold":
                raise
            refused.insert(0, f"spec.stock refused: {error.message}; the stock stays {view.sale.stock}")
    # A sale made inside its preheat window (or past its start) is loaded now, before its first phase shows.
    view, preheat = await _preheat_if_due(
        op, view, Schedule.of(view.sale.starts_at, view.sale.ends_at, wanted.preheat_lead_seconds)
    )
    async with record.lock:
        record.failure = None
        record.generation = generation
        _observe(op, record, view, wanted.preheat_lead_seconds)
        now = _now()
        if preheat is not None:
            record.conditions.set(PREHEATED, *preheat, now)
        record.conditions.set(SPEC_VALID, True, "Valid", "the spec is valid", now)
        if refused:
            reason = "StockBelowSold" if refused[0].startswith("spec.stock") else "FieldFixed"
            record.conditions.set(SPEC_APPLIED, False, reason, "; ".join(refused), now)
        else:
            applied = f"stock {view.sale.stock}, {'paused' if view.sale.paused else 'not paused'}"
            record.conditions.set(SPEC_APPLIED, True, "Applied", applied, now)
        await op.publish(ref, record)
    return view


async def advance(
    op: Operator, ref: Resource, spec: Mapping[str, Any], status: Mapping[str, Any] | None = None
) -> float:
    """One tick of the clock: preheat when due, the phase, the counts. Returns the seconds until the next tick:
    at most TICK_SECONDS, and just past the next phase boundary when that comes sooner."""
    record = op.record(ref, status)
    if record.failure is not None:
        return TICK_SECONDS
    view = await op.catalogue.sale_by_key(ref.key)
    if view is None:
        return TICK_SECONDS  # the create handler has not made the sale yet
    lead = _lead(spec)
    schedule = Schedule.of(view.sale.starts_at, view.sale.ends_at, lead)
    view, preheat = await _preheat_if_due(op, view, schedule)
    counts = None
    if record.counts_due(COUNT_EVERY_SECONDS):
        counts = await op.orders.counts(view.sale.id)
    async with record.lock:
        _observe(op, record, view, lead)
        now = _now()
        if preheat is not None:
            record.conditions.set(PREHEATED, *preheat, now)
        record.conditions.set(STORES, True, "Reachable", "the database and the cache answer", now)
        if counts is not None:
            record.counts = counts
            record.counted_at = time.monotonic()
        await op.publish(ref, record)
    upcoming = schedule.next_change(view.server_time)
    if upcoming is None:
        return TICK_SECONDS
    # A few milliseconds past the boundary, so the next tick sees the new phase.
    return max(0.01, min(TICK_SECONDS, (upcoming - view.server_time).total_seconds() + 0.005))


async def tick(op: Operator, ref: Resource, spec: Mapping[str, Any], status: Mapping[str, Any] | None) -> float:
    """`advance` that never raises (a daemon must keep ticking): a store that is down becomes a condition."""
    try:
        delay = await advance(op, ref, spec, status)
    except TEMPORARY as error:
        metrics.RECONCILES.labels("error").inc()
        await _report_unreachable(op, ref, str(error))
        return TICK_SECONDS
    except Exception:
        metrics.RECONCILES.labels("error").inc()
        log.exception("tick of %s/%s failed", ref.namespace, ref.name)
        return 2 * TICK_SECONDS
    metrics.RECONCILES.labels("ok").inc()
    return delay


async def _report_unreachable(op: Operator, ref: Resource, message: str) -> None:
    record = op.record(ref)
    try:
        async with record.lock:
            record.conditions.set(STORES, False, "Unreachable", message, _now())
            await op.publish(ref, record)
    except Exception as error:  # the Kubernetes API may be down too; the next tick tries again
        log.warning("could not report %s/%s unreachable: %s", ref.namespace, ref.name, error)


async def follow(
    op: Operator, ref: Resource, spec: Mapping[str, Any], status: Mapping[str, Any] | None, stopped: Stopped
) -> None:
    """Tick until stopped (the FlashSale is deleted or the operator stops). `spec` is kopf's live view. Between
    ticks it sleeps until the next one is due, or until the stock channel says the sale sold out or got stock
    back, whichever comes first."""
    while not stopped:
        delay = await tick(op, ref, spec, status)
        record = op.records.get(ref.uid)
        wake = op.wakeups.event(record.sale.id) if record is not None and record.sale is not None else None
        await _sleep(stopped, wake, delay)


async def _sleep(stopped: Stopped, wake: asyncio.Event | None, seconds: float) -> None:
    if wake is None:
        await stopped.wait(seconds)
        return
    waiters = {asyncio.ensure_future(stopped.wait(seconds)), asyncio.ensure_future(wake.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        wake.clear()


async def scale(op: Operator, ref: Resource, spec: Mapping[str, Any]) -> None:
    """Ask the scaler for the consumers the sale needs; report its replicas and condition."""
    record = op.records.get(ref.uid)
    if record is None or record.sale is None or record.failure is not None:
        return  # no sale yet (or none to run): nothing to scale for
    try:
        consumers = parse_spec(spec).consumers
    except SpecError:
        return
    sale = record.sale
    lead = _lead(spec)
    now = _now()
    result = await op.scaler.reconcile(
        namespace=ref.namespace,
        name=ref.name,
        uid=ref.uid,
        sale_id=sale.id,
        consumers=consumers,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        preheat_lead_seconds=lead,
        live=Schedule.of(sale.starts_at, sale.ends_at, lead).live(now),
        now=now,
    )
    async with record.lock:
        if result.replicas is not None:
            record.replicas = result.replicas
        metrics.show_replicas(ref.namespace, ref.name, result.replicas)
        if result.condition is not None:
            kind, state, reason, message = result.condition
            record.conditions.set(kind, state, reason, message, now)
        await op.publish(ref, record)


async def finalize(op: Operator, ref: Resource, spec: Mapping[str, Any], waited_seconds: float) -> None:
    """End the sale, wait (bounded) until none of its orders is pending or awaiting payment, then remove its
    cache and its scaling. Its orders stay in the database. Raises StillDraining while it waits."""
    view = await op.catalogue.sale_by_key(ref.key)
    if view is not None:
        if view.status is not SaleStatus.ENDED:
            view = await op.catalogue.end_sale(view.sale.id)
        outstanding = await op.orders.outstanding(view.sale.id)
        bound = view.sale.payment_timeout_seconds + op.config.drain_slack_seconds
        if outstanding.total and waited_seconds < bound:
            record = op.record(ref)
            message = (
                f"{outstanding.pending} order(s) pending and {outstanding.awaiting_payment} awaiting payment; "
                f"the sale's cache stays until they settle (at most {bound - waited_seconds:.0f} s more)"
            )
            async with record.lock:
                _observe(op, record, view, _lead(spec))
                record.conditions.set(DRAINING, True, "WaitingForOrders", message, _now())
                await op.publish(ref, record)
            raise StillDraining(message, DRAIN_POLL_SECONDS)
        if outstanding.total:
            log.warning(
                "%s/%s: gave up waiting after %.0f s with %d order(s) open; removing the cache anyway",
                ref.namespace,
                ref.name,
                waited_seconds,
                outstanding.total,
            )
        if op.use_cache and not await op.cache.unload(view.sale.id):
            log.warning("%s/%s: the hand-off still holds orders; it stays for the relay", ref.namespace, ref.name)
    await op.scaler.remove(namespace=ref.namespace, name=ref.name)
    op.forget(ref)
