"""A log line for each failed request (a 5xx): method, route, status and time taken, never the path's values,
the query, the headers or the body (they can carry tokens and user data). A storm of failures, such as a
store down under a flood of purchases, is logged at most once a second per route and status, and the next
line says how many it left out."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

log = logging.getLogger("app.api.requests")
EVERY_SECONDS = 1.0


class FailedRequests:
    def __init__(self, every: float = EVERY_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._last: dict[tuple[str, int], float] = {}
        self._left_out: dict[tuple[str, int], int] = {}

    def note(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, status)
        now = self._clock()
        if now - self._last.get(key, -math.inf) < self._every:
            self._left_out[key] = self._left_out.get(key, 0) + 1
            return
        self._last[key] = now
        fields = {
            "method": method,
            "route": route,
            "status": status,
            "duration_seconds": round(seconds, 6),
            "left_out": self._left_out.pop(key, 0),
        }
        log.warning("request failed", extra={"fields": fields})
