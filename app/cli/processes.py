"""The system's processes started from a command (`flashsale demo`, `flashsale bench`): spawn, wait, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from typing import IO

Process = subprocess.Popen[bytes]


def spawn(args: list[str], env: dict[str, str], output: IO[bytes] | int = subprocess.DEVNULL) -> Process:
    """`flashsale <args>` as a process of its own session (so stopping it stops its children too)."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdout=output,
        stderr=output,
        start_new_session=True,
    )


def exited_early(procs: list[Process]) -> Process | None:
    """The first process that is no longer running, if any."""
    return next((proc for proc in procs if proc.poll() is not None), None)


def stop(procs: list[Process], grace: float = 30) -> None:
    """SIGTERM each process group, then SIGKILL what is still running after the grace period."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
