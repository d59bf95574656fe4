"""Snowflake-style 64-bit ids: 41 bits of milliseconds since 2024-01-01, 10 bits of node, 12 of sequence."""

from __future__ import annotations

from dataclasses import dataclass

EPOCH_MS = 1_704_067_200_000
NODE_BITS = 10
SEQ_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQ = (1 << SEQ_BITS) - 1
MAX_ID = (1 << 63) - 1


def compose(ms: int, node: int, seq: int) -> int:
    if not 0 <= node <= MAX_NODE or not 0 <= seq <= MAX_SEQ or ms < EPOCH_MS:
        raise ValueError("snowflake part out of range")
    return ((ms - EPOCH_MS) << (NODE_BITS + SEQ_BITS)) | (node << SEQ_BITS) | seq


def decompose(value: int) -> tuple[int, int, int]:
    return (
        (value >> (NODE_BITS + SEQ_BITS)) + EPOCH_MS,
        (value >> SEQ_BITS) & MAX_NODE,
        value & MAX_SEQ,
    )


class ClockWentBack(Exception):
    """The clock stepped back further than the generator will wait out."""


@dataclass
class SnowflakeState:
    """The pure part of the generator: given the time, the next id or how long to wait."""

    node: int
    last_ms: int = 0
    seq: int = 0
    max_backstep_ms: int = 1000

    def next(self, now_ms: int) -> tuple[int | None, float]:
        """Returns (id, 0) or (None, seconds to wait before asking again)."""
        if now_ms < self.last_ms:
            back = self.last_ms - now_ms
            if back > self.max_backstep_ms:
                raise ClockWentBack(f"clock stepped back {back} ms")
            return None, back / 1000
        if now_ms == self.last_ms:
            if self.seq >= MAX_SEQ:
                return None, 0.0005
            self.seq += 1
        else:
            self.last_ms = now_ms
            self.seq = 0
        return compose(now_ms, self.node, self.seq), 0.0
