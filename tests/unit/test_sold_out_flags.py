"""The in-process sold-out flag: set, expired by time or by the sale's end, cleared, driven by messages."""

from __future__ import annotations

import time

import pytest

from app.infrastructure.sold_out import SoldOutFlags

FUTURE_END = 10**15  # far after any now_ms


def now_ms() -> int:
    return int(time.time() * 1000)


def test_mark_and_clear() -> None:
    flags = SoldOutFlags(ttl_seconds=30)
    assert not flags.is_sold_out(1, now_ms())
    flags.mark(1, FUTURE_END)
    assert flags.is_sold_out(1, now_ms())
    assert not flags.is_sold_out(2, now_ms())
    flags.clear(1)
    assert not flags.is_sold_out(1, now_ms())
    flags.clear(1)  # clearing an absent flag is harmless


def test_flag_expires_after_its_ttl() -> None:
    flags = SoldOutFlags(ttl_seconds=0.05)
    flags.mark(1, FUTURE_END)
    assert flags.is_sold_out(1, now_ms())
    time.sleep(0.06)
    assert not flags.is_sold_out(1, now_ms())


def test_flag_stops_at_the_end_of_the_sale() -> None:
    flags = SoldOutFlags(ttl_seconds=30)
    end = now_ms() + 60_000
    flags.mark(1, end)
    assert flags.is_sold_out(1, end - 1)
    assert not flags.is_sold_out(1, end)
    # ... and it is gone, not only hidden.
    assert not flags.is_sold_out(1, end - 1)


def test_zero_ttl_turns_flags_off() -> None:
    flags = SoldOutFlags(ttl_seconds=0)
    flags.mark(1, FUTURE_END)
    assert not flags.is_sold_out(1, now_ms())


def test_on_message_marks_and_clears() -> None:
    flags = SoldOutFlags(ttl_seconds=30)
    flags.on_message(f"12:sold_out:{FUTURE_END}")
    assert flags.is_sold_out(12, now_ms())
    flags.on_message("12:restock")
    assert not flags.is_sold_out(12, now_ms())
    flags.on_message(f"12:sold_out:{FUTURE_END}")
    flags.on_message("12:changed")
    assert not flags.is_sold_out(12, now_ms())


def test_on_message_with_a_past_end_does_not_hold() -> None:
    flags = SoldOutFlags(ttl_seconds=30)
    flags.on_message(f"5:sold_out:{now_ms() - 1}")
    assert not flags.is_sold_out(5, now_ms())


@pytest.mark.parametrize("data", ["", "abc", "12", "12:sold_out", "12:sold_out:soon", "x:sold_out:1", "x:restock", ":"])
def test_on_message_ignores_garbage(data: str) -> None:
    flags = SoldOutFlags(ttl_seconds=30)
    flags.mark(12, FUTURE_END)
    flags.on_message(data)  # never raises
    assert flags.is_sold_out(12, now_ms())
    assert not flags.is_sold_out(0, now_ms())
