"""The bench's math: percentiles of a run's curve, of several runs merged, ratios and targets."""

from __future__ import annotations

import pytest

from app.bench.stats import meets, merge_percentile, percentile_of, ratio

CURVE = [(50.0, 1000), (90.0, 2000), (99.0, 5000)]


def test_a_percentile_on_the_curve_is_its_point() -> None:
    assert percentile_of(CURVE, 90) == 2000


def test_between_points_it_interpolates() -> None:
    assert percentile_of(CURVE, 70) == 1500


def test_outside_the_curve_it_takes_the_end() -> None:
    assert percentile_of(CURVE, 10) == 1000
    assert percentile_of(CURVE, 99.9) == 5000
    assert percentile_of([], 50) == 0.0


def test_merging_identical_runs_keeps_their_percentiles() -> None:
    runs = [(100, CURVE), (300, CURVE)]
    assert merge_percentile(runs, 50) == 1000
    assert merge_percentile(runs, 99) == 5000


def test_merging_weights_runs_by_their_requests() -> None:
    fast = [(float(p), 1000) for p in range(1, 101)]
    slow = [(float(p), 9000) for p in range(1, 101)]
    # 90 % of the requests were fast: the median is fast, the 95th percentile slow
    runs = [(900, fast), (100, slow)]
    assert merge_percentile(runs, 50) == 1000
    assert merge_percentile(runs, 95) == 9000
    assert merge_percentile([(0, fast)], 50) == 0.0


def test_ratio_against_nothing_is_none() -> None:
    assert ratio(3, 12) == 0.25
    assert ratio(3, 0) is None


@pytest.mark.parametrize(
    ("value", "target", "at_most", "expected"),
    [(0.3, 0.3, False, True), (0.29, 0.3, False, False), (30, 30, True, True), (31, 30, True, False)],
)
def test_meets(value: float, target: float, at_most: bool, expected: bool) -> None:
    assert meets(value, target, at_most=at_most) is expected


def test_not_measured_is_neither_met_nor_missed() -> None:
    assert meets(None, 1) is None
