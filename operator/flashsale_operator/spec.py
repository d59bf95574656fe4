"""A FlashSale resource as the sale it asks for: its key, the parsed spec, and the catalogue's NewSale.

Pure: no I/O. The CRD's schema has checked each field already; this refuses what still does not fit the
contract (a wrong type from a server that skipped the schema, a time without an offset) with a sentence that
names the field, and `admission.spec_problems` covers the relations between fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.application.catalogue import NewSale
from app.domain.errors import InvalidRequest
from app.domain.models import Sale
from app.domain.timefmt import parse_rfc3339
from flashsale_operator.admission import spec_problems
from flashsale_operator.scaling import Consumers

MONEY = (0, 1_000_000_000)


class SpecError(Exception):
    """The spec cannot be run as written; the message names the field."""


@dataclass(frozen=True)
class Resource:
    """Which FlashSale: the sale and the commodity made for it are keyed by all three."""

    namespace: str
    name: str
    uid: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}/{self.uid}"


@dataclass(frozen=True)
class CommoditySpec:
    name: str
    description: str | None
    price_cents: int


@dataclass(frozen=True)
class SaleSpec:
    commodity: CommoditySpec | None  # to make; or else
    commodity_ref: int | None  # an existing commodity's id
    price_cents: int
    stock: int
    starts_at: datetime
    ends_at: datetime
    per_user_limit: int
    payment_timeout_seconds: int
    preheat_lead_seconds: int
    paused: bool
    consumers: Consumers


def _int(data: Mapping[str, Any], field: str, path: str, lo: int, hi: int, default: int | None = None) -> int:
    value = data.get(field, default)
    if value is None:
        raise SpecError(f"{path}.{field} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{path}.{field} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise SpecError(f"{path}.{field} must be between {lo} and {hi}, got {value}")
    return value


def _text(data: Mapping[str, Any], field: str, path: str, hi: int, *, required: bool) -> str | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not (1 if required else 0) <= len(value) <= hi:
        raise SpecError(f"{path}.{field} must be a string of {1 if required else 0} to {hi} characters")
    return value


def _time(data: Mapping[str, Any], field: str) -> datetime:
    """In UTC, to the millisecond: what the database keeps, so a spec compares equal to the sale made from it."""
    try:
        moment = parse_rfc3339(data.get(field), f"spec.{field}")
    except InvalidRequest as error:
        raise SpecError(str(error)) from None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _commodity(spec: Mapping[str, Any]) -> tuple[CommoditySpec | None, int | None]:
    ref = spec.get("commodityRef")
    if ref is not None:
        if not isinstance(ref, str) or not ref.isascii() or not ref.isdigit() or not 1 <= len(ref) <= 19:
            raise SpecError(f"spec.commodityRef must be a decimal commodity id, got {ref!r}")
        return None, int(ref)
    raw = spec.get("commodity")
    if not isinstance(raw, Mapping):
        raise SpecError("spec.commodity must be an object of name, description and priceCents")
    name = _text(raw, "name", "spec.commodity", 200, required=True)
    assert name is not None
    description = _text(raw, "description", "spec.commodity", 4000, required=False)
    return CommoditySpec(name, description, _int(raw, "priceCents", "spec.commodity", *MONEY)), None


def parse_spec(spec: Mapping[str, Any]) -> SaleSpec:
    """The sale a spec asks for; SpecError names the first thing that is wrong."""
    problems = spec_problems(spec)
    if problems:
        raise SpecError("; ".join(problems))
    commodity, ref = _commodity(spec)
    paused = spec.get("paused", False)
    if not isinstance(paused, bool):
        raise SpecError(f"spec.paused must be true or false, got {paused!r}")
    raw_consumers = spec.get("consumers") or {}
    defaults = Consumers()
    return SaleSpec(
        commodity=commodity,
        commodity_ref=ref,
        price_cents=_int(spec, "priceCents", "spec", *MONEY),
        stock=_int(spec, "stock", "spec", 1, 10_000_000),
        starts_at=_time(spec, "startsAt"),
        ends_at=_time(spec, "endsAt"),
        per_user_limit=_int(spec, "perUserLimit", "spec", 1, 1000, 1),
        payment_timeout_seconds=_int(spec, "paymentTimeoutSeconds", "spec", 1, 86_400, 900),
        preheat_lead_seconds=_int(spec, "preheatLeadSeconds", "spec", 0, 86_400, 300),
        paused=paused,
        consumers=Consumers(
            min_replicas=_int(raw_consumers, "minReplicas", "spec.consumers", 0, 1000, defaults.min_replicas),
            max_replicas=_int(raw_consumers, "maxReplicas", "spec.consumers", 1, 1000, defaults.max_replicas),
            messages_per_replica=_int(
                raw_consumers, "messagesPerReplica", "spec.consumers", 1, 1_000_000, defaults.messages_per_replica
            ),
        ),
    )


def new_sale(spec: SaleSpec, commodity_id: int, name: str) -> NewSale:
    """The catalogue's sale for the spec; the resource's name is the sale's name."""
    return NewSale(
        commodity_id=commodity_id,
        name=name,
        price_cents=spec.price_cents,
        stock=spec.stock,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        per_user_limit=spec.per_user_limit,
        payment_timeout_seconds=spec.payment_timeout_seconds,
        paused=spec.paused,
    )


def fixed_fields_changed(spec: SaleSpec, sale: Sale) -> list[str]:
    """Fields of the spec that differ from the sale made for it but cannot change once it exists (the catalogue
    changes only stock and pause); they stay as they were."""
    made = {
        "priceCents": sale.price_cents,
        "startsAt": sale.starts_at,
        "endsAt": sale.ends_at,
        "perUserLimit": sale.per_user_limit,
        "paymentTimeoutSeconds": sale.payment_timeout_seconds,
    }
    wanted = {
        "priceCents": spec.price_cents,
        "startsAt": spec.starts_at,
        "endsAt": spec.ends_at,
        "perUserLimit": spec.per_user_limit,
        "paymentTimeoutSeconds": spec.payment_timeout_seconds,
    }
    if spec.commodity_ref is not None and spec.commodity_ref != sale.commodity_id:
        wanted["commodityRef"], made["commodityRef"] = spec.commodity_ref, sale.commodity_id
    return [f"spec.{field}" for field in wanted if wanted[field] != made[field]]
