"""Payment-timeout delay buckets: the largest bucket that does not overshoot, the smallest below it."""

from __future__ import annotations

import pytest

from app.infrastructure.amqp import DELAY_BUCKETS_MS, bucket_for


@pytest.mark.parametrize(
    ("remaining", "bucket"),
    [
        (-5_000, 100),
        (0, 100),
        (1, 100),
        (99, 100),
        (100, 100),
        (249, 100),
        (250, 250),
        (999, 500),
        (1_000, 1_000),
        (4_999, 2_000),
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
def test_never_overshoots_and_is_the_largest_fitting(remaining: int) -> None:
    chosen = bucket_for(remaining)
    assert chosen in DELAY_BUCKETS_MS
    assert chosen <= remaining
    bigger = [b for b in DELAY_BUCKETS_MS if b > chosen]
    assert not bigger or bigger[0] > remaining


def test_every_bucket_maps_to_itself() -> None:
    for bucket in DELAY_BUCKETS_MS:
        assert bucket_for(bucket) == bucket
