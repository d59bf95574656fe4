"""The cross-field FlashSale rules: each problem is found, named by its field, and a valid spec has none."""

from __future__ import annotations

from typing import Any

import pytest

from flashsale_operator.admission import spec_problems


def valid_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "commodity": {"name": "Phone", "priceCents": 49900},
        "priceCents": 19900,
        "stock": 100,
        "startsAt": "2027-03-01T10:00:00Z",
        "endsAt": "2027-03-01T11:00:00Z",
        "consumers": {"minReplicas": 1, "maxReplicas": 10, "messagesPerReplica": 100},
    }
    spec.update(changes)
    return {key: value for key, value in spec.items() if value is not None}


def test_a_valid_spec_has_no_problem() -> None:
    assert spec_problems(valid_spec()) == []


def test_a_commodity_ref_alone_is_valid_and_consumers_may_be_absent() -> None:
    assert spec_problems(valid_spec(commodity=None, commodityRef="7", consumers=None)) == []


def test_both_commodity_and_ref_are_refused() -> None:
    problems = spec_problems(valid_spec(commodityRef="7"))
    assert len(problems) == 1
    assert "spec.commodity and spec.commodityRef" in problems[0]
    assert "exactly one" in problems[0]


def test_neither_commodity_nor_ref_is_refused() -> None:
    problems = spec_problems(valid_spec(commodity=None))
    assert problems == [
        "spec.commodity or spec.commodityRef is required: describe the commodity or name an existing one"
    ]


@pytest.mark.parametrize(
    "ends_at",
    ["2027-03-01T10:00:00Z", "2027-03-01T09:59:59.999Z", "2027-03-01T11:00:00+01:00", "2026-01-01T00:00:00Z"],
)
def test_an_end_at_or_before_the_start_is_refused(ends_at: str) -> None:
    problems = spec_problems(valid_spec(endsAt=ends_at))
    assert len(problems) == 1
    assert problems[0].startswith(f"spec.endsAt ({ends_at}) must be after spec.startsAt")


def test_offsets_are_compared_as_instants() -> None:
    # 11:30+01:00 is 10:30Z: after a 10:00Z start.
    assert spec_problems(valid_spec(endsAt="2027-03-01T11:30:00+01:00")) == []


@pytest.mark.parametrize(
    ("field", "value"), [("startsAt", "tomorrow"), ("endsAt", "2027-03-01T11:00:00"), ("startsAt", None)]
)
def test_a_time_that_does_not_parse_is_named_and_no_order_is_claimed(field: str, value: Any) -> None:
    problems = spec_problems(valid_spec(**{field: value}))
    assert len(problems) == 1
    assert problems[0].startswith(f"spec.{field} ")


def test_min_replicas_above_max_replicas_is_refused() -> None:
    problems = spec_problems(valid_spec(consumers={"minReplicas": 5, "maxReplicas": 4}))
    assert problems == ["spec.consumers.minReplicas (5) must not exceed spec.consumers.maxReplicas (4)"]


@pytest.mark.parametrize(
    ("consumers", "expected"),
    [({"minReplicas": 11}, ["(11) must not exceed spec.consumers.maxReplicas (10)"]), ({"maxReplicas": 0}, ["(1)"])],
)
def test_the_crd_defaults_apply_to_an_absent_bound(consumers: dict[str, int], expected: list[str]) -> None:
    problems = spec_problems(valid_spec(consumers=consumers))
    assert len(problems) == 1
    assert expected[0] in problems[0]


def test_equal_bounds_are_valid() -> None:
    assert spec_problems(valid_spec(consumers={"minReplicas": 3, "maxReplicas": 3})) == []


def test_every_problem_is_reported_at_once() -> None:
    spec = valid_spec(commodity=None, endsAt="2027-03-01T09:00:00Z", consumers={"minReplicas": 2, "maxReplicas": 1})
    problems = spec_problems(spec)
    assert [p.split(" ", 1)[0] for p in problems] == ["spec.commodity", "spec.endsAt", "spec.consumers.minReplicas"]
