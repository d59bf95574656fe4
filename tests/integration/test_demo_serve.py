"""`flashsale demo --serve` as a process: it prints the storefront's address, serves it after its report, and on
SIGTERM stops its API and workers and exits 0."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
import time

import httpx

from tests.support import World, free_port

ADDRESS = re.compile(r"storefront: (http://127\.0\.0\.1:\d+/)")


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's output, line by line, read in a thread (a pipe nobody reads would fill up)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read_until(lines: queue.Queue[str], pattern: str, seen: list[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r} within {timeout}s; output so far:\n{''.join(seen)}")


def test_demo_serve_prints_the_address_serves_the_storefront_and_stops_on_sigterm(world: World) -> None:
    # A payment timeout of some seconds: the audit counts queued messages through the management API, whose
    # statistics of this world's freshly declared queues appear only after its first collection (~5 s).
    port = free_port()
    args = ["demo", "--serve", "--shoppers", "30", "--stock", "10", "--payment-timeout", "6", "--api-workers", "1"]
    proc = subprocess.Popen(
        [*world.command, *args, "--port", str(port)],
        env={**world.env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    world.procs.append(proc)  # stopped by the world's teardown if the test fails half-way
    lines = _lines(proc)
    seen: list[str] = []
    found = ADDRESS.search(_read_until(lines, ADDRESS.pattern, seen, 30))
    assert found
    address = found.group(1)
    assert address == f"http://127.0.0.1:{port}/"
    _read_until(lines, "every invariant holds", seen, 90)
    _read_until(lines, "serving the storefront", seen, 10)

    page = httpx.get(address, timeout=10)
    assert page.status_code == 200 and "Flash sale" in page.text
    sales = httpx.get(f"{address}api/v1/sales", timeout=10).json()["items"]
    assert sales and sales[0]["name"].startswith("Demo flash sale")
    time.sleep(1.5)  # still serving a moment later: it does not end on its own after the report
    assert proc.poll() is None
    assert httpx.get(address, timeout=10).status_code == 200

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, "".join(seen)
    _read_until(lines, "stopped: the API and the workers have shut down", seen, 5)
    try:
        httpx.get(address, timeout=2)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the storefront still answers after the demo stopped")
