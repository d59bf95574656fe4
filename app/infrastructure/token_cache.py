"""Tokens this process has verified already, so a retrying client costs no second signature check.

Keyed by the whole token (any other key could let one token stand for another); each entry is used only while
the token's own `exp` is ahead (the same bound the verification applies: a token is expired once exp <= now), and
at most `size` entries are kept, the oldest dropped first. Only tokens that passed every check go in."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class VerifiedTokens(Generic[T]):
    def __init__(self, size: int, clock: Callable[[], float] = time.time) -> None:
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[T, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> T | None:
        hit = self._entries.get(token)
        if hit is None:
            return None
        value, exp = hit
        if self._clock() < exp:
            return value
        self._entries.pop(token, None)
        return None

    def put(self, token: str, value: T, exp: float) -> None:
        if self._size <= 0:
            return
        if token not in self._entries and len(self._entries) >= self._size:
            self._entries.popitem(last=False)
        self._entries[token] = (value, exp)
