"""What the operator's plain functions work with: the use cases (opened once at startup through the composition
root), the scaler, where status goes, and one in-memory record per FlashSale between two status writes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.application.catalogue import Catalogue
from app.application.preheat import Preheater
from app.application.sale_orders import OrderCounts, SaleOrders
from app.domain.models import Sale
from app.infrastructure.sale_cache import SaleCache
from flashsale_operator import metrics
from flashsale_operator.config import OperatorConfig
from flashsale_operator.phase import Phase
from flashsale_operator.scaling import Consumers, ScaleResult
from flashsale_operator.spec import Resource
from flashsale_operator.status import Conditions, sale_status


class StatusSink(Protocol):
    async def write(self, ref: Resource, status: dict[str, Any]) -> bool: ...  # False: the FlashSale is gone


class ConsumerScaler(Protocol):
    """What the operator asks of flashsale_operator.scaling.Scaler."""

    async def reconcile(
        self,
        *,
        namespace: str,
        name: str,
        uid: str,
        sale_id: int,
        consumers: Consumers,
        starts_at: datetime,
        ends_at: datetime,
        preheat_lead_seconds: int,
        live: bool,
        now: datetime,
    ) -> ScaleResult: ...

    async def remove(self, *, namespace: str, name: str) -> None: ...


@dataclass
class SaleRecord:
    """What the operator knows of one FlashSale. Writers change it under `lock` and then publish it."""

    conditions: Conditions
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    phase: Phase = Phase.PENDING
    sale: Sale | None = None
    stock_left: int | None = None
    counts: OrderCounts | None = None
    counted_at: float = float("-inf")  # time.monotonic() of the last count
    replicas: int | None = None
    generation: int | None = None
    failure: str | None = None  # why the spec cannot be run (phase Failed)
    published: dict[str, Any] | None = None

    def counts_due(self, every_seconds: float) -> bool:
        return time.monotonic() - self.counted_at >= every_seconds


class Wakeups:
    """An event per sale that the stock channel sets when the sale sells out or gets stock back, so its clock
    reports SoldOut (and Active again) at once instead of at its next tick."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}

    def event(self, sale_id: int) -> asyncio.Event:
        return self._events.setdefault(sale_id, asyncio.Event())

    def forget(self, sale_id: int) -> None:
        self._events.pop(sale_id, None)

    def on_message(self, data: str) -> None:
        """Messages are 'SALE:sold_out:END', 'SALE:restock' or 'SALE:changed' (app/infrastructure/sold_out.py)."""
        head = data.split(":", 1)[0]
        if head.isdigit() and (found := self._events.get(int(head))) is not None:
            found.set()


@dataclass
class Operator:
    catalogue: Catalogue
    preheater: Preheater
    orders: SaleOrders
    cache: SaleCache
    scaler: ConsumerScaler
    status: StatusSink
    config: OperatorConfig
    use_cache: bool  # the `redis` stock strategy: preheat and remove the cache
    records: dict[str, SaleRecord] = field(default_factory=dict)
    wakeups: Wakeups = field(default_factory=Wakeups)

    def record(self, ref: Resource, status: Mapping[str, Any] | None = None) -> SaleRecord:
        """The FlashSale's record; a new one starts from the status written before (e.g. by the operator
        that ran before a restart), so conditions keep their transition times."""
        found = self.records.get(ref.uid)
        if found is None:
            found = self.records[ref.uid] = SaleRecord(Conditions.from_status(status))
        return found

    def forget(self, ref: Resource) -> None:
        record = self.records.pop(ref.uid, None)
        if record is not None and record.sale is not None:
            self.wakeups.forget(record.sale.id)
        metrics.forget(ref.namespace, ref.name)

    async def publish(self, ref: Resource, record: SaleRecord) -> None:
        """Write the record as the FlashSale's status if it changed since the last write (the caller holds the
        record's lock, so writes go out in the order the record changed)."""
        status = sale_status(
            phase=record.phase,
            sale_id=record.sale.id if record.sale else None,
            stock_left=record.stock_left,
            counts=record.counts,
            consumer_replicas=record.replicas,
            observed_generation=record.generation,
            conditions=record.conditions,
        )
        if status == record.published:
            return
        if await self.status.write(ref, status):
            record.published = status
            metrics.show_phase(ref.namespace, ref.name, record.phase)
