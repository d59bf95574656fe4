"""Payment-timeout delay buckets: reach the deadline in few hops, never more than OVERSHOOT_MS late."""

from __future__ import annotations

import pytest

from app.infrastructure.amqp import DELAY_BUCKETS_MS, OVERSHOOT_MS, bucket_for


@pytest.mark.parametrize(
    ("remaining", "bucket"),
    [
        (-5_000, 100),
        (0, 100),
        (1, 100),
        (99, 100),
        (100, 100),
        (249, 250),
        (250, 250),
        (400, 500),
        (999, 1_000),
        (1_234, 1_000),
        (3_000, 2_000),
        (4_999, 5_000),
        (900_000, 600_000),
        (86_400_000, 86_400_000),
        (10 * 86_400_000, 86_400_000),
    ],
)
def test_bucket_for(remaining: int, bucket: int) -> None:
    assert bucket_for(remaining) == bucket


def test_buckets_are_sorted_and_unique() -> None:
    assert list(DELAY_BUCKETS_MS) == sorted(set(DELAY_BUCKETS_MS))


@pytest.mark.parametrize("remaining", [101, 333, 1_234, 59_999, 3_600_001, 50_000_000])
def test_overshoots_by_at_most_the_allowance_or_is_the_largest_fitting(remaining: int) -> None:
    chosen = bucket_for(remaining)
    assert chosen in DELAY_BUCKETS_MS
    if chosen > remaining:
        assert chosen - remaining <= OVERSHOOT_MS
    else:
        bigger = [b for b in DELAY_BUCKETS_MS if b > chosen]
        assert not bigger or bigger[0] > remaining + OVERSHOOT_MS


def test_every_bucket_maps_to_itself() -> None:
    for bucket in DELAY_BUCKETS_MS:
        assert bucket_for(bucket) == bucket


def _hops(timeout_ms: int, lag_ms: int) -> tuple[int, int]:
    """Park and re-park a timeout, each round `lag_ms` late: (hops, how late it finally fires)."""
    remaining, hops = timeout_ms, 0
    while remaining > 0:
        remaining -= bucket_for(remaining) + lag_ms
        hops += 1
    return hops, -remaining


@pytest.mark.parametrize("timeout_s", [1, 2, 3, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 86_400])
@pytest.mark.parametrize("lag_ms", [0, 20])
def test_common_payment_windows_fire_on_time_in_few_hops(timeout_s: int, lag_ms: int) -> None:
    hops, late = _hops(timeout_s * 1000, lag_ms)
    assert late <= OVERSHOOT_MS + lag_ms
    assert hops <= 3


@pytest.mark.parametrize("timeout_s", [7, 299, 3_599, 10_000, 86_399])
def test_any_window_fires_on_time_in_a_bounded_number_of_hops(timeout_s: int) -> None:
    hops, late = _hops(timeout_s * 1000, 0)
    assert late <= OVERSHOOT_MS
    assert hops <= len(DELAY_BUCKETS_MS)
