"""Fixtures of the image tier. `bash scripts/image` (which the tier runs first) builds the wheels into dist/wheels
and the image; a missing one fails here, it is never built behind the test's back. Worlds run `flashsale` from
the installed wheel or from the image against the shared services, each with its own database and namespace."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, World, teardown_world

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"localhost/flashsale:{VERSION}"
BUILDAH = ["buildah", "--storage-driver", "vfs"]
LAUNCH = [sys.executable, str(Path(__file__).with_name("launch.py"))]


def buildah(*args: str) -> str:
    done = subprocess.run([*BUILDAH, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"buildah {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def run_in(container: str, *command: str) -> subprocess.CompletedProcess[str]:
    """`command` in the container as the image's own user, on the host's network."""
    run = [*BUILDAH, "run", "--isolation", "chroot", "--network", "host", container, "--", *command]
    return subprocess.run(run, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    folder = ROOT / "dist" / "wheels"
    wheel = folder / f"flashsale-{VERSION}-py3-none-any.whl"
    assert wheel.is_file(), f"no {wheel.name} in dist/wheels: run `bash scripts/image` first"
    return folder


@pytest.fixture(scope="session")
def image_config() -> dict:
    """The image's OCI configuration (user, environment, ports, entry point)."""
    done = subprocess.run([*BUILDAH, "inspect", "--type", "image", IMAGE], capture_output=True, text=True)
    assert done.returncode == 0, f"no image {IMAGE}: run `bash scripts/image` first ({done.stderr.strip()})"
    return json.loads(done.stdout)["OCIv1"]["config"]


@pytest.fixture(scope="session")
def container(image_config: dict) -> Iterator[str]:
    """One working container of the image; every run of the session shares it (its files are never written)."""
    name = buildah("from", "--pull-never", "--name", f"flashsale-test-{secrets.token_hex(3)}", IMAGE)
    try:
        yield name
    finally:
        buildah("rm", name)


@pytest.fixture(scope="session")
def rootfs(container: str) -> Iterator[Path]:
    """The container's root filesystem, mounted on the host (to read the image's files)."""
    path = Path(buildah("mount", container))
    try:
        yield path
    finally:
        buildah("umount", container)


@contextlib.contextmanager
def world_of(command: list[str], cwd: Path | None = None) -> Iterator[World]:
    """A World whose `flashsale` is `command`, with a generated secret passed as an environment variable; its
    database is made by that command's `migrate`. Nothing in its environment points at the checkout."""
    world = World.create(FLASHSALE_JWT_SECRET=secrets.token_urlsafe(48))
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "FLASHSALE_LUA_DIR"):
        world.env.pop(name, None)
    world.command, world.cwd = command, cwd
    try:
        migrated = world.cli("migrate", check=False)
        assert migrated.returncode == 0 and "applied" in migrated.stdout, migrated.stderr
        yield world
    finally:
        teardown_world(world)


@pytest.fixture(scope="module")
def buildah_world(container: str) -> Iterator[World]:
    with world_of([*LAUNCH, "buildah", container]) as world:
        yield world


@pytest.fixture(scope="module")
def read_only_world(rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    mount = tmp_path_factory.mktemp("read-only-root")
    with world_of([*LAUNCH, "read-only", IMAGE, str(rootfs), str(mount)]) as world:
        yield world


def clean_env() -> dict[str, str]:
    """This environment without what would let a process find the checkout or the project's venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "FLASHSALE_"))}
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    return env
