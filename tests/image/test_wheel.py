"""The built wheel, installed into a fresh venv outside the checkout (no editable install, no path to the
project), runs every role against the local services: `--help`, `migrate`, the API (`/readyz` 200) and the
workers, with the Lua scripts it carries."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image.conftest import VERSION, clean_env, world_of
from tests.image.flow import order_reaches_the_database
from tests.support import ROOT, World


@pytest.fixture(scope="module")
def venv(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("wheel")
    assert not home.is_relative_to(ROOT)
    # The interpreter the wheels were built for: the image's Python, from scripts/image.
    python = subprocess.run(["bash", str(ROOT / "scripts" / "image"), "python"], capture_output=True, text=True)
    assert python.returncode == 0, python.stderr
    subprocess.run([python.stdout.strip(), "-m", "venv", str(home / "venv")], check=True, cwd=home)
    # Only the wheelhouse: no index, and none of this machine's pip settings.
    env = {**clean_env(), "PIP_CONFIG_FILE": "/dev/null"}
    install = [str(home / "venv/bin/pip"), "install", "--quiet", "--no-index", "--find-links", str(wheelhouse)]
    done = subprocess.run([*install, f"flashsale=={VERSION}"], env=env, cwd=home, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture(scope="module")
def world(venv: Path) -> Iterator[World]:
    with world_of([str(venv / "venv/bin/flashsale")], cwd=venv) as w:
        yield w


def test_the_package_and_its_scripts_come_from_the_venv(venv: Path) -> None:
    probe = "import app, app.infrastructure.lua as lua; print(app.__file__); print(lua.lua_dir())"
    done = subprocess.run(
        [str(venv / "venv/bin/python"), "-c", probe], env=clean_env(), cwd=venv, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    package, scripts = (Path(line) for line in done.stdout.split())
    assert package.is_relative_to(venv / "venv") and not package.resolve().is_relative_to(ROOT)
    assert sorted(p.name for p in scripts.glob("*.lua")) == sorted(p.name for p in (ROOT / "lua").glob("*.lua"))
    assert not scripts.is_symlink()  # files of the wheel, not a link back to a checkout


def test_help_lists_the_roles(world: World) -> None:
    done = world.cli("--help")
    for role in ("api", "worker", "migrate"):
        assert f"  {role} " in done.stdout, done.stdout


def test_the_api_and_the_workers_run(world: World) -> None:
    base = world.start_api()
    world.start_workers("all")
    order_reaches_the_database(world, base)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_wheelhouse_holds_exactly_the_pinned_versions(wheelhouse: Path) -> None:
    """scripts/image builds the wheels with constraints.txt, so the image runs the versions the tests ran with."""
    pins = dict(line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line)
    pins = {_normal(name): version for name, version in pins.items()}
    built = {_normal(w.name.split("-")[0]): w.name.split("-")[1] for w in wheelhouse.glob("*.whl")}
    built.pop("flashsale")
    assert {name: pins.get(name) for name in built} == built
    assert (wheelhouse / "constraints.txt").read_text() == (ROOT / "constraints.txt").read_text()
