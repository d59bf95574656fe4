"""promtool and prometheus from Debian's package (scripts/prometheus-tools unpacks them once)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from tests.support import ROOT


@functools.cache
def tools() -> Path:
    found = subprocess.run(["bash", str(ROOT / "scripts" / "prometheus-tools")], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return Path(found.stdout.strip())


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tools() / "promtool"), *args], capture_output=True, text=True, cwd=cwd, timeout=120)
