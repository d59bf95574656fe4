"""Where the API spends its time under load: py-spy samples of every API process during one extra slice of a
scenario (not counted in its figures), summed into the report's profile table.

py-spy is optional (`pip install py-spy`; it needs to ptrace the processes, as root or with CAP_SYS_PTRACE):
without it the report says the profile was not taken and why."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# A frame of py-spy's raw (collapsed) output: `function (file:line)`.
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")
# The layers of a purchase, each matched on a frame's file (most specific first); a sample counts toward every
# layer found on its stack (inclusive), so the shares add up to more than 100%.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("redis-py (client, connection, parser)", ("redis/",)),
    ("token verification (app + PyJWT)", ("app/infrastructure/tokens.py", "app/infrastructure/hs256.py", "jwt/")),
    ("metrics (prometheus-client)", ("prometheus_client/", "app/infrastructure/metrics.py")),
    ("Starlette (routing, requests, responses)", ("starlette/",)),
    ("uvicorn and httptools (HTTP protocol)", ("uvicorn/", "httptools/")),
    ("the purchase use case (app/application)", ("app/application/",)),
    ("the API layer (app/api)", ("app/api/",)),
    ("JSON (msgspec, json)", ("msgspec/", "json/")),
    ("asyncio event loop", ("asyncio/", "uvloop/")),
]
TOP = 15


@dataclass(frozen=True)
class Profile:
    samples: int
    layers: list[tuple[str, float]]  # (layer, share of samples with the layer on the stack)
    functions: list[tuple[str, float]]  # (function (file), share of samples spent in the function itself)

    def to_json(self) -> dict:
        return {
            "samples": self.samples,
            "layers": [{"layer": name, "share": round(share, 4)} for name, share in self.layers],
            "self_time": [{"function": name, "share": round(share, 4)} for name, share in self.functions],
        }


def find_py_spy() -> str | None:
    """py-spy beside this Python (a venv's bin) or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _frame(raw: str) -> tuple[str, str]:
    found = FRAME.match(raw.strip())
    if found is None:
        return raw.strip(), ""
    return found["func"], found["file"]


def _in_layer(file: str, needles: tuple[str, ...]) -> bool:
    return any(file.startswith(n) or f"/{n}" in file for n in needles)


def summarize(collapsed: list[str]) -> Profile:
    """Sum py-spy's raw lines (`frame;frame;...;leaf COUNT`) into inclusive layer shares and leaf self time."""
    total = 0
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in collapsed:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        total += count
        files = [file for _func, file in frames]
        for name, needles in LAYERS:
            if any(_in_layer(file, needles) for file in files):
                layers[name] += count
        func, file = frames[-1]
        leaves[f"{func} ({file})" if file else func] += count
    if total == 0:
        return Profile(0, [], [])
    return Profile(
        samples=total,
        layers=[(name, layers[name] / total) for name, _needles in LAYERS],
        functions=[(name, n / total) for name, n in leaves.most_common(TOP)],
    )


async def record(py_spy: str, pids: list[int], seconds: float, work: Path) -> tuple[Profile | None, str]:
    """Sample each process for `seconds` (100 Hz, without pausing it); the summed profile, or None and why not."""
    procs, outputs = [], []
    for pid in pids:
        out = work / f"profile-{pid}.txt"
        outputs.append(out)
        args = ["record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", "100"]
        args += ["--format", "raw", "--nonblocking", "--output", str(out)]
        procs.append(
            await asyncio.create_subprocess_exec(
                py_spy, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
        )
    errors: list[str] = []
    for proc in procs:
        _out, err = await proc.communicate()
        if proc.returncode != 0:
            last = err.decode(errors="replace").strip().splitlines()
            errors.append(last[-1] if last else f"exit {proc.returncode}")
    lines = [line for out in outputs if out.exists() for line in out.read_text().splitlines()]
    if errors and not lines:
        return None, f"py-spy failed: {errors[0]}"
    profile = summarize(lines)
    if profile.samples == 0:
        return None, "py-spy took no samples"
    return profile, ""
