"""A FlashSale's status as data: its conditions (each keeps its lastTransitionTime while its status holds) and
the status object built from the phase, the counts and the conditions. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from app.application.sale_orders import OrderCounts
from app.domain.errors import InvalidRequest
from app.domain.timefmt import format_time, parse_rfc3339
from flashsale_operator.phase import Phase


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True", "False" or "Unknown"
    reason: str
    message: str
    last_transition: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": format_time(self.last_transition) or "",
        }


def _status_text(value: bool | str) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return value


class Conditions:
    """The conditions of one FlashSale, by type."""

    def __init__(self, items: Iterable[Condition] = ()) -> None:
        self._items = {c.type: c for c in items}

    @classmethod
    def from_status(cls, status: Mapping[str, Any] | None) -> Conditions:
        """What a status written earlier (e.g. before a restart) says, so transition times survive restarts."""
        found = []
        for raw in (status or {}).get("conditions") or []:
            try:
                moment = parse_rfc3339(raw.get("lastTransitionTime"), "lastTransitionTime")
                found.append(
                    Condition(raw["type"], raw["status"], raw.get("reason", ""), raw.get("message", ""), moment)
                )
            except (KeyError, TypeError, ValueError, AttributeError, InvalidRequest):
                continue  # not ours, or garbled: it will be written again
        return cls(found)

    def set(self, type_: str, status: bool | str, reason: str, message: str, now: datetime) -> None:
        text = _status_text(status)
        old = self._items.get(type_)
        if old is not None and old.status == text:
            self._items[type_] = replace(old, reason=reason, message=message)
        else:
            self._items[type_] = Condition(type_, text, reason, message, now)

    def drop(self, type_: str) -> None:
        self._items.pop(type_, None)

    def get(self, type_: str) -> Condition | None:
        return self._items.get(type_)

    def to_json(self) -> list[dict[str, str]]:
        return [self._items[t].to_json() for t in sorted(self._items)]


def sale_status(
    *,
    phase: Phase,
    sale_id: int | None,
    stock_left: int | None,
    counts: OrderCounts | None,
    consumer_replicas: int | None,
    observed_generation: int | None,
    conditions: Conditions,
) -> dict[str, Any]:
    """The status object; what is not known yet is left out rather than reported as zero."""
    status: dict[str, Any] = {"phase": phase.value}
    if sale_id is not None:
        status["saleId"] = str(sale_id)
    if stock_left is not None:
        status["stockLeft"] = max(stock_left, 0)
    if counts is not None:
        status["ordersCreated"] = counts.written
        status["ordersPaid"] = counts.paid
    if consumer_replicas is not None:
        status["consumerReplicas"] = consumer_replicas
    if observed_generation is not None:
        status["observedGeneration"] = observed_generation
    status["conditions"] = conditions.to_json()
    return status
