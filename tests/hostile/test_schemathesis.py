"""schemathesis against the live /openapi.json with a valid admin token and a valid user token: every operation,
every check (no 5xx, responses and status codes as documented, schema-valid requests accepted, invalid ones
refused, 401 without the token, 405 with `Allow`), a bounded number of examples per operation. More with
FLASHSALE_HOSTILE_EXAMPLES=N; another seed with FLASHSALE_HOSTILE_SEED=N."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, World

EXAMPLES = os.environ.get("FLASHSALE_HOSTILE_EXAMPLES", "8")
SEED = os.environ.get("FLASHSALE_HOSTILE_SEED", "20261201")


@pytest.mark.parametrize("role", ["admin", "user"])
def test_schemathesis(api: str, world: World, role: str, tmp_path: Path) -> None:
    token = world.token(f"fuzz-{role}", admin=role == "admin")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        f"{api}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        # One worker: with more, Hypothesis's lambda descriptions hit a CPython 3.11 ast bug from threads.
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    if role == "admin":
        # A new sale's `ends_at` must be after its `starts_at` and its commodity must exist: rules across fields
        # and rows JSON Schema cannot state, so a schema-valid new sale may rightly be 422. (A per-operation
        # setting in schemathesis.toml did not reach the stateful phase.) The user run keeps this check.
        command += ["--exclude-checks", "positive_data_acceptance"]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.hostile.schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    report = run.stdout[-20000:] + run.stderr[-4000:]
    assert run.returncode == 0, report
    assert "Selected: 18/18" in run.stdout and "Tested: 18" in run.stdout, report
