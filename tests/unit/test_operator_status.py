"""A FlashSale's status from its counts and conditions: what is unknown is left out, conditions keep their
transition time while their status holds and survive a restart through the written status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.application.sale_orders import OrderCounts, Outstanding
from flashsale_operator.phase import Phase
from flashsale_operator.status import Conditions, sale_status

T0 = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


def test_status_from_counts() -> None:
    conditions = Conditions()
    conditions.set("SpecValid", True, "Valid", "the spec is valid", T0)
    status = sale_status(
        phase=Phase.ACTIVE,
        sale_id=42,
        stock_left=7,
        counts=OrderCounts(written=13, paid=5, awaiting_payment=6),
        consumer_replicas=3,
        observed_generation=4,
        conditions=conditions,
    )
    assert status == {
        "phase": "Active",
        "saleId": "42",
        "stockLeft": 7,
        "ordersCreated": 13,
        "ordersPaid": 5,
        "consumerReplicas": 3,
        "observedGeneration": 4,
        "conditions": [
            {
                "type": "SpecValid",
                "status": "True",
                "reason": "Valid",
                "message": "the spec is valid",
                "lastTransitionTime": "2027-03-01T10:00:00.000Z",
            }
        ],
    }


def test_unknown_counts_are_left_out_not_zero() -> None:
    status = sale_status(
        phase=Phase.FAILED,
        sale_id=None,
        stock_left=None,
        counts=None,
        consumer_replicas=None,
        observed_generation=1,
        conditions=Conditions(),
    )
    assert status == {"phase": "Failed", "observedGeneration": 1, "conditions": []}


def test_stock_left_never_negative() -> None:
    common = {"sale_id": 1, "counts": None, "consumer_replicas": None, "observed_generation": None}
    status = sale_status(phase=Phase.SOLD_OUT, stock_left=-1, conditions=Conditions(), **common)  # type: ignore[arg-type]
    assert status["stockLeft"] == 0


def test_transition_time_moves_only_when_the_status_changes() -> None:
    conditions = Conditions()
    conditions.set("Paused", False, "Open", "not paused", T0)
    conditions.set("Paused", False, "Open", "still not paused", T0 + timedelta(seconds=5))
    first = conditions.get("Paused")
    assert first is not None and first.last_transition == T0 and first.message == "still not paused"
    conditions.set("Paused", True, "Paused", "paused", T0 + timedelta(seconds=9))
    second = conditions.get("Paused")
    assert second is not None and second.status == "True"
    assert second.last_transition == T0 + timedelta(seconds=9)


def test_conditions_survive_a_restart_through_the_status() -> None:
    before = Conditions()
    before.set("Preheated", True, "Loaded", "loaded", T0)
    before.set("ConsumersScaled", "False", "DeploymentMissing", "no Deployment", T0)
    written = {"phase": "Preheated", "conditions": before.to_json()}
    after = Conditions.from_status(written)
    assert after.to_json() == before.to_json()
    after.set("Preheated", True, "Loaded", "loaded", T0 + timedelta(minutes=3))  # the new operator's first tick
    kept = after.get("Preheated")
    assert kept is not None and kept.last_transition == T0


def test_garbled_conditions_are_skipped() -> None:
    status = {"conditions": [{"type": "X"}, "nonsense", {"type": "Y", "status": "True", "lastTransitionTime": "no"}]}
    assert Conditions.from_status(status).to_json() == []


def test_outstanding_adds_pending_and_unpaid() -> None:
    assert Outstanding(pending=2, awaiting_payment=3).total == 5
