"""Snowflake ids: the bit layout round-trips, ids grow with time, and the generator's state machine waits
out a small clock step back, refuses a large one, and waits for the next millisecond when a sequence is
full."""

from __future__ import annotations

import pytest

from app.domain.snowflake import (
    EPOCH_MS,
    MAX_ID,
    MAX_NODE,
    MAX_SEQ,
    ClockWentBack,
    SnowflakeState,
    compose,
    decompose,
)

NOW = EPOCH_MS + 86_400_000 * 700  # some time in 2025


@pytest.mark.parametrize(
    ("ms", "node", "seq"),
    [
        (EPOCH_MS, 0, 0),
        (EPOCH_MS, MAX_NODE, MAX_SEQ),
        (NOW, 1, 2),
        (NOW, 517, 4000),
        (EPOCH_MS + (1 << 41) - 1, MAX_NODE, MAX_SEQ),
    ],
)
def test_compose_decompose_round_trip(ms: int, node: int, seq: int) -> None:
    value = compose(ms, node, seq)
    assert 0 <= value <= MAX_ID
    assert decompose(value) == (ms, node, seq)


def test_ids_order_by_time_then_node_then_sequence() -> None:
    assert compose(NOW, 0, 0) < compose(NOW, 0, 1) < compose(NOW, 1, 0) < compose(NOW + 1, 0, 0)
    assert compose(NOW + 1, 0, 0) > compose(NOW, MAX_NODE, MAX_SEQ)


@pytest.mark.parametrize(
    ("ms", "node", "seq"),
    [(EPOCH_MS - 1, 0, 0), (NOW, MAX_NODE + 1, 0), (NOW, -1, 0), (NOW, 0, MAX_SEQ + 1), (NOW, 0, -1)],
)
def test_compose_refuses_parts_out_of_range(ms: int, node: int, seq: int) -> None:
    with pytest.raises(ValueError):
        compose(ms, node, seq)


def test_state_mints_increasing_ids_and_resets_sequence_on_new_millisecond() -> None:
    state = SnowflakeState(node=7)
    first, wait = state.next(NOW)
    assert wait == 0 and first is not None
    second, _ = state.next(NOW)
    third, _ = state.next(NOW + 1)
    assert first is not None and second is not None and third is not None
    assert decompose(first) == (NOW, 7, 0)
    assert decompose(second) == (NOW, 7, 1)
    assert decompose(third) == (NOW + 1, 7, 0)
    assert first < second < third


def test_small_clock_step_back_is_waited_out() -> None:
    state = SnowflakeState(node=3)
    before, _ = state.next(NOW)
    value, wait = state.next(NOW - 400)
    assert value is None
    assert wait == pytest.approx(0.4)
    # The boundary: exactly the allowed step back still waits rather than failing.
    value, wait = state.next(NOW - 1000)
    assert value is None and wait == pytest.approx(1.0)
    # Once the clock has caught up the ids continue, never repeating one.
    after, wait = state.next(NOW)
    assert wait == 0 and after is not None and before is not None
    assert after > before


def test_clock_step_back_beyond_one_second_raises() -> None:
    state = SnowflakeState(node=3)
    state.next(NOW)
    with pytest.raises(ClockWentBack):
        state.next(NOW - 1001)
    with pytest.raises(ClockWentBack):
        state.next(NOW - 60_000)


def test_sequence_overflow_waits_for_the_next_millisecond() -> None:
    state = SnowflakeState(node=9)
    ids = []
    for _ in range(MAX_SEQ + 1):
        value, wait = state.next(NOW)
        assert value is not None and wait == 0
        ids.append(value)
    assert len(set(ids)) == MAX_SEQ + 1
    assert ids == sorted(ids)
    value, wait = state.next(NOW)
    assert value is None
    assert 0 < wait <= 0.001
    value, wait = state.next(NOW + 1)
    assert value is not None and wait == 0
    assert decompose(value) == (NOW + 1, 9, 0)
    assert value > ids[-1]
