"""The cache of verified tokens: whole-token keys, never past a token's exp, bounded."""

from __future__ import annotations

from app.infrastructure.token_cache import VerifiedTokens


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_verified_token_is_found_until_its_exp() -> None:
    clock = Clock(1000.0)
    cache: VerifiedTokens[str] = VerifiedTokens(10, clock)
    cache.put("a.b.c", "alice", exp=1005)
    assert cache.get("a.b.c") == "alice"
    clock.now = 1004.999
    assert cache.get("a.b.c") == "alice"
    clock.now = 1005.0  # exp <= now: expired, as the verification itself says
    assert cache.get("a.b.c") is None
    assert len(cache) == 0  # and dropped


def test_only_the_whole_token_matches() -> None:
    cache: VerifiedTokens[str] = VerifiedTokens(10, Clock(0))
    cache.put("a.b.c", "alice", exp=10)
    assert cache.get("a.b.") is None
    assert cache.get("a.b.cd") is None


def test_it_keeps_at_most_size_entries_dropping_the_oldest() -> None:
    cache: VerifiedTokens[int] = VerifiedTokens(3, Clock(0))
    for i in range(5):
        cache.put(f"t{i}", i, exp=10)
    assert len(cache) == 3
    assert [cache.get(f"t{i}") for i in range(5)] == [None, None, 2, 3, 4]
    cache.put("t4", 4, exp=10)  # putting a present token evicts nothing
    assert cache.get("t2") == 2


def test_size_zero_caches_nothing() -> None:
    cache: VerifiedTokens[int] = VerifiedTokens(0, Clock(0))
    cache.put("t", 1, exp=10)
    assert cache.get("t") is None
