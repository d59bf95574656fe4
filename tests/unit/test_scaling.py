"""The scaling rule (replicas from queue depth, bounds, cooldown, unacknowledged messages) and the ScaledObject
the operator writes where KEDA runs, both pure."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from flashsale_operator.keda import SALES_ANNOTATION, SaleWindow, Target, cron_trigger, sales_of, scaled_object
from flashsale_operator.scaling import Consumers, desired_replicas

BOUNDS = Consumers(min_replicas=2, max_replicas=8, messages_per_replica=100)
COOLDOWN = 30.0


def decide(depth: int, current: int, unacked: int = 0, low_since: float | None = None, now: float = 1000.0):
    return desired_replicas(depth, unacked, current, BOUNDS, low_since, now, COOLDOWN)


@pytest.mark.parametrize(
    ("depth", "replicas"),
    [(0, 2), (1, 2), (200, 2), (201, 3), (350, 4), (800, 8), (801, 8), (10_000_000, 8), (-5, 2)],
)
def test_scale_up_is_immediate_ceil_of_depth_per_replica_within_bounds(depth: int, replicas: int) -> None:
    assert decide(depth, current=2) == (replicas, None)


def test_below_the_minimum_goes_up_to_it_at_once() -> None:
    assert decide(0, current=0) == (2, None)


def test_above_the_maximum_comes_down_to_it_at_once_even_with_unacked() -> None:
    assert decide(5000, current=20, unacked=300) == (8, None)


def test_a_lower_need_waits_for_the_cooldown_from_when_it_started() -> None:
    assert decide(150, current=6, now=1000.0) == (6, 1000.0)  # the need (2) is lower: the cooldown starts
    assert decide(150, current=6, low_since=1000.0, now=1029.9) == (6, 1000.0)
    assert decide(150, current=6, low_since=1000.0, now=1030.0) == (2, None)


def test_a_need_that_comes_back_up_resets_the_cooldown() -> None:
    replicas, low_since = decide(100, current=6, now=1000.0)
    assert (replicas, low_since) == (6, 1000.0)
    assert decide(600, current=6, low_since=low_since, now=1010.0) == (6, None)
    assert decide(100, current=6, low_since=None, now=1020.0) == (6, 1020.0)  # a new cooldown from here


def test_never_down_while_messages_are_unacknowledged() -> None:
    assert decide(40, current=6, unacked=40, low_since=0.0, now=10_000.0) == (6, 0.0)
    assert decide(0, current=6, unacked=0, low_since=0.0, now=10_000.0) == (2, None)


def test_unacknowledged_messages_do_not_hold_a_scale_up() -> None:
    assert decide(900, current=3, unacked=900) == (8, None)


def test_a_floor_of_zero_outside_the_live_window() -> None:
    idle = Consumers(min_replicas=0, max_replicas=4, messages_per_replica=10)
    assert desired_replicas(0, 0, 0, idle, None, 0.0, COOLDOWN) == (0, None)
    assert desired_replicas(1, 0, 0, idle, None, 0.0, COOLDOWN) == (1, None)  # still-queued orders get a consumer
    assert desired_replicas(0, 0, 3, idle, 0.0, 100.0, COOLDOWN) == (0, None)


def test_the_defaults_are_the_crds() -> None:
    assert Consumers() == Consumers(min_replicas=1, max_replicas=10, messages_per_replica=100)


TARGET = Target("flashsale-orders", "fs.orders", "/", "FLASHSALE_RABBITMQ_API_URL", 5, 60)
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def window(name: str, **changes: object) -> SaleWindow:
    fields: dict[str, object] = {
        "name": name,
        "uid": f"uid-{name}",
        "starts_at": datetime(2027, 3, 1, 10, 0, 30, tzinfo=UTC),
        "ends_at": datetime(2027, 3, 1, 11, 0, 15, tzinfo=UTC),
        "lead_seconds": 300,
        "bounds": (2, 8, 100),
    }
    fields.update(changes)
    return SaleWindow.of(**fields)  # type: ignore[arg-type]


def test_the_cron_trigger_covers_preheat_to_end_rounded_outwards_to_minutes() -> None:
    trigger = cron_trigger(window("a"))
    # 10:00:30 - 300 s = 09:55:30 -> 09:55; 11:00:15 -> 11:01.
    assert trigger == {
        "type": "cron",
        "metadata": {"timezone": "Etc/UTC", "start": "55 9 1 3 *", "end": "1 11 1 3 *", "desiredReplicas": "2"},
    }


def test_the_scaled_object_targets_the_deployment_and_reads_the_queue_over_http() -> None:
    body = scaled_object("shop", TARGET, [window("a")], NOW)
    assert body["apiVersion"] == "keda.sh/v1alpha1" and body["kind"] == "ScaledObject"
    assert body["metadata"]["name"] == "flashsale-orders" and body["metadata"]["namespace"] == "shop"
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "flashsale.io/v1alpha1",
            "kind": "FlashSale",
            "name": "a",
            "uid": "uid-a",
            "blockOwnerDeletion": True,
        }
    ]
    spec = body["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "flashsale-orders"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 8)
    rabbit, cron = spec["triggers"]
    assert rabbit == {
        "type": "rabbitmq",
        "metadata": {
            "protocol": "http",
            "mode": "QueueLength",
            "value": "100",
            "queueName": "fs.orders",
            "vhostName": "/",
            "hostFromEnv": "FLASHSALE_RABBITMQ_API_URL",
        },
    }
    assert cron["type"] == "cron"


def test_several_sales_share_one_scaled_object_with_the_widest_bounds() -> None:
    sales = [window("b", bounds=(1, 20, 50)), window("a"), window("c", bounds=(0, 3, 500))]
    body = scaled_object("shop", TARGET, sales, NOW)
    assert [r["name"] for r in body["metadata"]["ownerReferences"]] == ["a", "b", "c"]
    assert body["spec"]["maxReplicaCount"] == 20
    triggers = body["spec"]["triggers"]
    assert triggers[0]["metadata"]["value"] == "50"
    # c has no floor, so no cron trigger of its own.
    assert [t["metadata"].get("desiredReplicas") for t in triggers[1:]] == ["2", "1"]


def test_an_ended_sale_keeps_its_owner_reference_but_loses_its_cron_trigger() -> None:
    body = scaled_object("shop", TARGET, [window("a")], datetime(2027, 3, 1, 11, 1, tzinfo=UTC))
    assert [t["type"] for t in body["spec"]["triggers"]] == ["rabbitmq"]
    assert len(body["metadata"]["ownerReferences"]) == 1


def test_the_sales_round_trip_through_the_annotation() -> None:
    sales = [window("a"), window("b", bounds=(1, 2, 3))]
    body = scaled_object("shop", TARGET, sales, NOW)
    assert sales_of(body) == {"a": sales[0], "b": sales[1]}
    assert json.loads(body["metadata"]["annotations"][SALES_ANNOTATION])[0]["live_from"] == "2027-03-01T09:55:30Z"


@pytest.mark.parametrize("annotation", ["not json", '[{"name": "a"}]', "{}"])
def test_an_unreadable_annotation_counts_as_no_sales(annotation: str) -> None:
    assert sales_of({"metadata": {"annotations": {SALES_ANNOTATION: annotation}}}) == {}
    assert sales_of(None) == {}
