"""The FlashSale spec -> sale mapping: parsing with the CRD's defaults, refusals that name the field, the
catalogue's NewSale, and which changes a live sale cannot take."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.models import Sale
from flashsale_operator.scaling import Consumers
from flashsale_operator.spec import CommoditySpec, Resource, SpecError, fixed_fields_changed, new_sale, parse_spec

SPEC: dict[str, Any] = {
    "commodity": {"name": "Mug", "description": "Blue", "priceCents": 1200},
    "priceCents": 900,
    "stock": 40,
    "startsAt": "2027-03-01T11:00:00+01:00",
    "endsAt": "2027-03-01T10:30:00.1234Z",
}


def test_defaults_and_times() -> None:
    parsed = parse_spec(SPEC)
    assert parsed.commodity == CommoditySpec("Mug", "Blue", 1200)
    assert parsed.commodity_ref is None
    assert parsed.starts_at == datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    # Kept to the millisecond, as the database keeps it, so the spec compares equal to the sale made from it.
    assert parsed.ends_at == datetime(2027, 3, 1, 10, 30, 0, 123000, tzinfo=UTC)
    assert (parsed.per_user_limit, parsed.payment_timeout_seconds, parsed.preheat_lead_seconds) == (1, 900, 300)
    assert parsed.paused is False
    assert parsed.consumers == Consumers(1, 10, 100)


def test_spec_to_sale() -> None:
    spec = SPEC | {"perUserLimit": 2, "paymentTimeoutSeconds": 30, "paused": True}
    sale = new_sale(parse_spec(spec), commodity_id=7, name="mug-drop")
    assert (sale.commodity_id, sale.name, sale.price_cents, sale.stock) == (7, "mug-drop", 900, 40)
    assert (sale.per_user_limit, sale.payment_timeout_seconds, sale.paused) == (2, 30, True)
    assert sale.starts_at == datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


def test_commodity_ref() -> None:
    spec = {k: v for k, v in SPEC.items() if k != "commodity"} | {"commodityRef": "12"}
    parsed = parse_spec(spec)
    assert parsed.commodity is None and parsed.commodity_ref == 12


def test_resource_key_names_namespace_name_and_uid() -> None:
    assert Resource("shop", "mug-drop", "0b6c-uid").key == "shop/mug-drop/0b6c-uid"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stock": 0}, "spec.stock"),
        ({"stock": "40"}, "spec.stock"),
        ({"stock": True}, "spec.stock"),
        ({"priceCents": -1}, "spec.priceCents"),
        ({"perUserLimit": 1001}, "spec.perUserLimit"),
        ({"startsAt": "2027-03-01T10:00:00"}, "spec.startsAt"),  # no offset
        ({"endsAt": "2027-03-01T09:00:00Z"}, "spec.endsAt"),  # before the start: admission.spec_problems
        ({"paused": "yes"}, "spec.paused"),
        ({"consumers": {"minReplicas": -1}}, "spec.consumers.minReplicas"),
        ({"commodity": {"priceCents": 5}}, "spec.commodity.name"),
        ({"commodityRef": "12"}, "spec.commodityRef"),  # both set
    ],
)
def test_refusals_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        parse_spec(SPEC | change)


def _sale_of(spec: dict[str, Any]) -> Sale:
    parsed = parse_spec(spec)
    return Sale(
        id=1,
        commodity_id=7,
        name="mug-drop",
        price_cents=parsed.price_cents,
        stock=parsed.stock,
        stock_left=parsed.stock,
        starts_at=parsed.starts_at,
        ends_at=parsed.ends_at,
        per_user_limit=parsed.per_user_limit,
        payment_timeout_seconds=parsed.payment_timeout_seconds,
        paused=False,
        cache_epoch=0,
        created_at=parsed.starts_at,
    )


def test_only_stock_pause_lead_and_consumers_change_a_live_sale() -> None:
    sale = _sale_of(SPEC)
    live_changes = {"stock": 99, "paused": True, "preheatLeadSeconds": 10, "consumers": {"maxReplicas": 3}}
    assert fixed_fields_changed(parse_spec(SPEC | live_changes), sale) == []
    fixed = parse_spec(SPEC | {"priceCents": 1, "endsAt": "2027-03-01T12:00:00Z", "perUserLimit": 3})
    assert fixed_fields_changed(fixed, sale) == ["spec.priceCents", "spec.endsAt", "spec.perUserLimit"]
    moved = parse_spec({k: v for k, v in SPEC.items() if k != "commodity"} | {"commodityRef": "8"})
    assert fixed_fields_changed(moved, sale) == ["spec.commodityRef"]
