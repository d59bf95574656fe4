"""Ctrl-C and SIGTERM for a command that runs child processes: the signals set an event instead of ending the
process on the spot, so the command stops its children itself (they run in their own sessions and never see
the terminal's Ctrl-C)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """`with StopSignals() as stop:` inside a running loop; `stop.requested` is set by SIGINT or SIGTERM."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()

    def __enter__(self) -> StopSignals:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.requested.set)
        return self

    def __exit__(self, *_exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)

    async def unless_stopped(self, work: Coroutine[Any, Any, T]) -> tuple[bool, T | None]:
        """Run `work` to its end, or cancel it when a stop is asked for: (finished, its result)."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self.requested.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done():
            return True, task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False, None

    async def until_stopped(
        self, procs: Sequence[subprocess.Popen[bytes]], every: float = 0.5
    ) -> subprocess.Popen[bytes] | None:
        """Wait for a stop; None then, or the child process that exited first without being asked to."""
        while not self.requested.is_set():
            for proc in procs:
                if proc.poll() is not None:
                    return proc
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.requested.wait(), every)
        return None
