"""The stock channel wakes a sale's clock: each message sets the event of its sale, and only of its sale."""

from __future__ import annotations

from flashsale_operator.context import Wakeups


def test_messages_wake_their_sale_only() -> None:
    wakeups = Wakeups()
    seven, eight = wakeups.event(7), wakeups.event(8)
    wakeups.on_message("7:sold_out:1796149639000")
    assert seven.is_set() and not eight.is_set()
    wakeups.on_message("8:restock")
    wakeups.on_message("9:changed")  # a sale nobody waits for
    wakeups.on_message("garbage")
    assert eight.is_set()
    wakeups.forget(7)
    assert wakeups.event(7) is not seven
