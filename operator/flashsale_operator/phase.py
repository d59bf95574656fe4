"""A FlashSale's phase as a pure function of its schedule, its stock and the clock.

Pending until preheat time (startsAt - preheatLeadSeconds), then Preheated once the cache is loaded, Active
from startsAt, SoldOut while no stock is left (Active again when cancelled or timed-out orders return stock),
Ended from endsAt. Failed when the spec cannot be run. Pausing does not change the phase (a condition says it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Phase(StrEnum):
    PENDING = "Pending"
    PREHEATED = "Preheated"
    ACTIVE = "Active"
    SOLD_OUT = "SoldOut"
    ENDED = "Ended"
    FAILED = "Failed"


@dataclass(frozen=True)
class Schedule:
    preheat_at: datetime
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, starts_at: datetime, ends_at: datetime, preheat_lead_seconds: int) -> Schedule:
        return cls(starts_at - timedelta(seconds=preheat_lead_seconds), starts_at, ends_at)

    def live(self, now: datetime) -> bool:
        """From preheat time until the end: the cache must be loaded and the consumers' minimum applies."""
        return self.preheat_at <= now < self.ends_at

    def next_change(self, now: datetime) -> datetime | None:
        """The next moment the clock alone changes the phase; None once the sale has ended."""
        for moment in (self.preheat_at, self.starts_at, self.ends_at):
            if now < moment:
                return moment
        return None


def phase_at(schedule: Schedule, now: datetime, *, stock_left: int, preheated: bool, failed: bool = False) -> Phase:
    if failed:
        return Phase.FAILED
    if now >= schedule.ends_at:
        return Phase.ENDED
    if now >= schedule.starts_at:
        return Phase.SOLD_OUT if stock_left <= 0 else Phase.ACTIVE
    if now >= schedule.preheat_at and preheated:
        return Phase.PREHEATED
    return Phase.PENDING
