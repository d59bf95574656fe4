"""`flashsale audit --accepted`: every 202 a client recorded needs its order row; a 202 without one is lost, which
is allowed (and counted) only once the sale's cache lost its data and was loaded again."""

from __future__ import annotations

from app.application.audit import replies_written


def test_every_reply_written_passes() -> None:
    check = replies_written({1, 2, 3}, {1, 2, 3, 4}, epoch=1)
    assert check.ok and check.detail == "3 202(s) recorded by the client, 3 written, 0 lost"


def test_a_reply_without_a_row_fails_while_the_cache_was_never_lost() -> None:
    check = replies_written({1, 2, 3}, {1, 2}, epoch=1)
    assert not check.ok and "1 lost" in check.detail


def test_replies_lost_with_a_lost_cache_are_counted_not_failed() -> None:
    check = replies_written({1, 2, 3, 4}, {1, 2}, epoch=2)
    assert check.ok
    assert check.detail == (
        "4 202(s) recorded by the client, 2 written, 2 lost (the cache was reloaded 1 time(s): lost with its data)"
    )
