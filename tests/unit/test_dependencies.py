"""pyproject.toml's dependencies: bounded below the next major, pinned by constraints.txt, and the demo's own
packages in the `demo` extra, which nothing but `flashsale demo` imports."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tests.support import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DEMO_ONLY = {"rich"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]).lower()


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return {_name(line.split("==")[0]): line.split("==")[1] for line in lines if "==" in line}


def test_every_requirement_has_a_lower_and_an_upper_bound_or_a_pin() -> None:
    requirements = [
        *PROJECT["dependencies"],
        *(r for extra in PROJECT["optional-dependencies"].values() for r in extra),
    ]
    for requirement in requirements:
        assert "==" in requirement or (">=" in requirement and "<" in requirement), requirement


def test_constraints_pin_every_requirement_inside_its_bounds() -> None:
    from packaging.requirements import Requirement

    pins = _pins()
    requirements = [
        *PROJECT["dependencies"],
        *(r for extra in PROJECT["optional-dependencies"].values() for r in extra),
    ]
    for text in requirements:
        requirement = Requirement(text)
        pinned = pins[_name(requirement.name)]
        assert requirement.specifier.contains(pinned, prereleases=True), (text, pinned)


def _import_without_demo_packages(modules: str) -> subprocess.CompletedProcess[str]:
    """Import `modules` in a fresh interpreter where the demo's packages cannot be imported (as without the extra;
    httpx, for one, uses rich only when it is there)."""
    block = "; ".join(f"sys.modules[{name!r}] = None" for name in sorted(DEMO_ONLY))
    probe = f"import sys; {block}; import {modules}"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_the_demo_extra_holds_what_only_the_demo_imports() -> None:
    assert {_name(r) for r in PROJECT["optional-dependencies"]["demo"]} == DEMO_ONLY
    assert not DEMO_ONLY & {_name(r) for r in PROJECT["dependencies"]}
    services = "app.bootstrap, app.api.app, app.cli.main, app.workers.runner, app.cli.commands, flashsale_operator.main"
    done = _import_without_demo_packages(services)
    assert done.returncode == 0, done.stderr
    demo = _import_without_demo_packages("app.cli.demo")  # the probe sees a missing package when one is needed
    assert demo.returncode != 0 and "rich" in demo.stderr
