"""The load generator: `wrk` with bench.lua, one run a slice; its summary line parsed into a WrkResult."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("bench.lua")
MARK = "FLASHSALE-BENCH "
INSTALL_HINT = "wrk is not installed: `apt-get install wrk` (Debian's package), then run the bench again"


class WrkMissing(RuntimeError):
    pass


class WrkFailed(RuntimeError):
    pass


def find_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(INSTALL_HINT)
    return path


def wrk_version(binary: str) -> str:
    import subprocess

    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (out.stdout + out.stderr).splitlines()[0].split(" Copyright")[0].strip()


@dataclass(frozen=True)
class Load:
    """What one wrk run sends: to `path` with `method`, signed with the tokens of `tokens` (None: no header)."""

    method: str
    path: str
    tokens: Path | None
    connections: int
    threads: int


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    statuses: dict[int, int]
    sent: list[int]  # tokens each thread has used, counting the run's skip
    latency_mean_us: float
    latency_max_us: int
    percentiles: list[tuple[float, int]] = field(default_factory=list)  # (percent, microseconds)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def socket_errors(self) -> int:
        return sum(n for kind, n in self.errors.items() if kind != "status")

    def percentile_ms(self, p: float) -> float:
        from app.bench.stats import percentile_of

        return percentile_of(self.percentiles, p) / 1000

    def to_json(self) -> dict:
        return {
            "requests": self.requests,
            "duration_s": self.duration_s,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "sent": self.sent,
            "latency_mean_us": self.latency_mean_us,
            "latency_max_us": self.latency_max_us,
            "percentiles": [list(p) for p in self.percentiles],
        }


def parse_output(text: str) -> WrkResult:
    """The summary line bench.lua prints at the end of wrk's output."""
    for line in text.splitlines():
        if line.startswith(MARK):
            doc = json.loads(line[len(MARK) :])
            latency = doc["latency_us"]
            return WrkResult(
                requests=int(doc["requests"]),
                duration_s=int(doc["duration_us"]) / 1e6,
                errors={k: int(v) for k, v in doc["errors"].items()},
                statuses={int(k): int(v) for k, v in doc["statuses"].items()},
                sent=[int(n) for n in doc["sent"]],
                latency_mean_us=float(latency["mean"]),
                latency_max_us=int(latency["max"]),
                percentiles=[(float(p), int(v)) for p, v in latency["percentiles"]],
            )
    raise WrkFailed(f"wrk printed no {MARK.strip()} line; its output ends: {text[-500:]!r}")


def command(binary: str, base_url: str, load: Load, seconds: float, skip: int) -> list[str]:
    return [
        binary,
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        base_url + load.path,
        "--",
        load.method,
        load.path,
        str(load.tokens) if load.tokens else "-",
        str(skip),
        str(load.threads),
    ]


async def run_wrk(binary: str, base_url: str, load: Load, seconds: float, skip: int = 0) -> WrkResult:
    proc = await asyncio.create_subprocess_exec(
        *command(binary, base_url, load, seconds, skip),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise WrkFailed(f"wrk exited with {proc.returncode}: {text[-500:]!r}")
    return parse_output(text)
