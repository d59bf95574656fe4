"""The FlashSale phase as a pure function of the schedule, the stock and the clock; and when the clock next
changes it (the daemon's next wake-up)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flashsale_operator.phase import Phase, Schedule, phase_at

START = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
SCHEDULE = Schedule.of(START, END, preheat_lead_seconds=300)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("seconds", "stock_left", "preheated", "phase"),
    [
        (-3600, 10, False, Phase.PENDING),
        (-300.001, 10, True, Phase.PENDING),  # loaded early (e.g. by hand): still before preheat time
        (-300, 10, False, Phase.PENDING),  # preheat is due but the cache is not loaded yet
        (-300, 10, True, Phase.PREHEATED),
        (-0.001, 10, True, Phase.PREHEATED),
        (0, 10, True, Phase.ACTIVE),
        (0, 10, False, Phase.ACTIVE),  # the window is open: a cache that is not loaded is a condition
        (10, 0, True, Phase.SOLD_OUT),
        (20, 1, True, Phase.ACTIVE),  # stock came back (a timeout or a cancel) before the end
        (3599.999, 0, True, Phase.SOLD_OUT),
        (3600, 0, True, Phase.ENDED),
        (3600, 5, True, Phase.ENDED),
        (99999, 5, False, Phase.ENDED),
    ],
)
def test_phase_follows_the_clock_and_the_stock(seconds: float, stock_left: int, preheated: bool, phase: Phase) -> None:
    assert phase_at(SCHEDULE, at(seconds), stock_left=stock_left, preheated=preheated) is phase


@pytest.mark.parametrize("seconds", [-3600, -10, 0, 10, 3600])
def test_failed_wins_over_the_clock(seconds: float) -> None:
    assert phase_at(SCHEDULE, at(seconds), stock_left=5, preheated=True, failed=True) is Phase.FAILED


def test_no_lead_preheats_at_the_start() -> None:
    schedule = Schedule.of(START, END, preheat_lead_seconds=0)
    assert schedule.preheat_at == START
    assert phase_at(schedule, at(-1), stock_left=5, preheated=True) is Phase.PENDING
    assert phase_at(schedule, at(0), stock_left=5, preheated=True) is Phase.ACTIVE


def test_live_from_preheat_time_until_the_end() -> None:
    assert not SCHEDULE.live(at(-300.001))
    assert SCHEDULE.live(at(-300))
    assert SCHEDULE.live(at(3599.999))
    assert not SCHEDULE.live(at(3600))


@pytest.mark.parametrize(
    ("seconds", "upcoming"),
    [(-3600, -300), (-300, 0), (-1, 0), (0, 3600), (1800, 3600), (3600, None), (5000, None)],
)
def test_next_change_is_the_next_boundary(seconds: float, upcoming: float | None) -> None:
    expected = None if upcoming is None else at(upcoming)
    assert SCHEDULE.next_change(at(seconds)) == expected
