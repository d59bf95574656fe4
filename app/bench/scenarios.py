"""What a bench run does: the scenarios and their sizes, for `--quick` and for the full run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    quick: bool
    slice_seconds: float  # one wrk run; a scenario is several, so throughput and latency have a time line
    ceiling_slices: int
    in_stock_slices: int
    sold_out_slices: int
    baseline_slices: int
    distinct_users: int  # tokens for the in-stock and baseline scenarios (one purchase each; enough for the
    # in-stock slices and the profile's at this machine's ceiling, or the report says they came round again)
    storm_users: int  # the sold-out storm's crowd, retrying
    sale_stock: int  # the full sale
    sale_requests: int
    sale_users: int
    connections: int = 64
    threads: int = 2
    drain_timeout: float = 600

    @property
    def sale_units(self) -> float:
        """The full sale's share of the progress bar (its storm advances it by the requests sent)."""
        return 20 if self.quick else 240

    @property
    def progress_units(self) -> int:
        """The progress bar's length: the scenarios' seconds, the start-ups and drains, the full sale."""
        return int(self.load_seconds + 60 + self.sale_units)

    @property
    def load_seconds(self) -> float:
        profile_slice = 1  # an extra in-stock slice under py-spy, not in the figures
        slices = self.ceiling_slices + self.in_stock_slices + profile_slice
        slices += self.sold_out_slices + self.baseline_slices
        return slices * self.slice_seconds


QUICK = Plan(
    quick=True,
    slice_seconds=2,
    ceiling_slices=3,
    in_stock_slices=4,
    sold_out_slices=3,
    baseline_slices=3,
    distinct_users=200_000,
    storm_users=1_000,
    sale_stock=2_000,
    sale_requests=20_000,
    sale_users=4_000,
)

FULL = Plan(
    quick=False,
    slice_seconds=5,
    ceiling_slices=4,
    in_stock_slices=6,
    sold_out_slices=4,
    baseline_slices=6,
    distinct_users=600_000,
    storm_users=10_000,
    sale_stock=100_000,
    sale_requests=1_000_000,
    sale_users=200_000,
)
