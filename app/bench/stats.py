"""The bench's pure math: percentiles of merged wrk runs, ratios, targets."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

Percentiles = Sequence[tuple[float, int]]  # (percent, value), ascending


def percentile_of(points: Percentiles, p: float) -> float:
    """The value at percent `p` of one run's percentile curve (linear between its points)."""
    if not points:
        return 0.0
    if p <= points[0][0]:
        return float(points[0][1])
    for (p0, v0), (p1, v1) in itertools.pairwise(points):
        if p0 <= p <= p1:
            return v0 + (v1 - v0) * (p - p0) / (p1 - p0) if p1 > p0 else float(v1)
    return float(points[-1][1])


def merge_percentile(runs: Sequence[tuple[int, Percentiles]], p: float) -> float:
    """Percent `p` of several runs together, each run's curve weighted by its number of requests.

    Each run's curve is read as its requests spread over its percentile points; the merged value is the one
    below which `p` percent of all the requests fall. Exact when the runs are alike, close otherwise."""
    samples: list[tuple[float, float]] = []  # (value, weight)
    for requests, points in runs:
        if requests <= 0 or not points:
            continue
        previous = 0.0
        for percent, value in points:
            samples.append((float(value), requests * (percent - previous) / 100))
            previous = float(percent)
        samples.append((float(points[-1][1]), requests * (100 - previous) / 100))
    if not samples:
        return 0.0
    samples.sort()
    total = sum(w for _, w in samples)
    wanted, seen = total * p / 100, 0.0
    for v, weight in samples:
        seen += weight
        if seen >= wanted - 1e-9:
            return v
    return samples[-1][0]


def ratio(value: float, against: float) -> float | None:
    """value / against; None when there is nothing to compare against."""
    return value / against if against > 0 else None


def meets(value: float | None, target: float, *, at_most: bool = False) -> bool | None:
    """Whether a measured figure meets its target (None when it was not measured)."""
    if value is None:
        return None
    return value <= target if at_most else value >= target
