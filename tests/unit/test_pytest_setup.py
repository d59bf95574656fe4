"""The test runner's own guard rails: pytest refuses to run without the plugins the suite needs (async tests
would be skipped and a tier would pass), and a test that hangs fails at its timeout, not at the tier's budget."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"


def pytest_run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_pytest_refuses_to_run_without_pytest_asyncio() -> None:
    result = pytest_run("-p", "no:asyncio", "--collect-only", "-q", "tests/unit/test_timefmt.py")
    assert result.returncode != 0, result.stdout
    assert "Missing required plugins: pytest-asyncio" in result.stdout + result.stderr


def test_pytest_refuses_to_run_without_pytest_timeout() -> None:
    result = pytest_run("-p", "no:timeout", "--collect-only", "-q", "tests/unit/test_timefmt.py")
    assert result.returncode != 0, result.stdout
    assert "Missing required plugins: pytest-timeout" in result.stdout + result.stderr


def test_unknown_markers_and_options_are_errors() -> None:
    options = tomllib.loads(CONFIG.read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in options["addopts"].split()
    assert "--strict-config" in options["addopts"].split()


def test_a_hanging_test_fails_at_its_timeout(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_hangs():\n    time.sleep(60)\n")
    # The project's configuration, with the timeout cut to a second so this check is quick.
    result = pytest_run("-c", str(CONFIG), "--rootdir", str(tmp_path), "-o", "timeout=1", "test_hang.py", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Timeout" in result.stdout, result.stdout


def test_the_default_timeout_is_set() -> None:
    options = tomllib.loads(CONFIG.read_text())["tool"]["pytest"]["ini_options"]
    assert 0 < int(options["timeout"]) <= 900  # the integration tier's whole budget
