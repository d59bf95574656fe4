"""The image built by scripts/image: its configuration (a numeric non-root user, no bytecode writes, the ports, the
entry point), what is in it (no compiler, no pip, nothing its user may write outside the temporary folders), and
its roles run for real against the local services: `flashsale --help`, `migrate`, the API (`/readyz` 200) and
the workers through `buildah run`, and the API again on a read-only root filesystem."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.image.conftest import VERSION, run_in
from tests.image.flow import order_reaches_the_database
from tests.support import World

COMPILER = re.compile(r"^((x86_64-linux-gnu-)?(gcc|g\+\+|cc|c\+\+|cpp|clang|clang\+\+|tcc|ld|as)(-[\d.]+)?|make)$")


def env_of(config: dict) -> dict[str, str]:
    return dict(item.split("=", 1) for item in config["Env"])


def test_it_runs_as_a_numeric_non_root_user(image_config: dict, container: str) -> None:
    user, _, group = image_config["User"].partition(":")
    assert user.isdigit() and int(user) != 0, image_config["User"]
    assert group.isdigit() and int(group) != 0, image_config["User"]
    ids = run_in(container, "sh", "-c", "id -u; id -g")
    assert ids.stdout.split() == [user, group], ids.stderr  # what a process of the image really runs as


def test_its_environment_keeps_every_write_under_tmp(image_config: dict) -> None:
    env = env_of(image_config)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    for name in ("HOME", "TMPDIR", "FLASHSALE_STATE_DIR"):
        assert env[name] == "/tmp" or env[name].startswith("/tmp/"), (name, env[name])
    assert not any(name in env for name in ("FLASHSALE_JWT_SECRET", "FLASHSALE_DEV"))  # no secret baked in


def test_the_command_picks_the_role(image_config: dict) -> None:
    assert image_config["Entrypoint"] == ["flashsale"]
    assert image_config["Cmd"][0] == "api" and "0.0.0.0" in image_config["Cmd"]
    assert "8000/tcp" in image_config["ExposedPorts"]
    assert image_config["Labels"]["org.opencontainers.image.version"] == VERSION


def test_there_is_no_compiler_and_no_pip(rootfs: Path) -> None:
    found = [
        str(path)
        for folder in ("usr/bin", "usr/sbin", "usr/local/bin", "bin", "sbin", "opt/flashsale/bin")
        if (rootfs / folder).is_dir()
        for path in (rootfs / folder).iterdir()
        if COMPILER.match(path.name) or path.name.startswith("pip")
    ]
    assert found == []
    assert not list((rootfs / "usr/lib").glob("gcc/*/*/cc1*"))  # the compiler proper
    assert (rootfs / "opt/flashsale/bin/flashsale").is_file()


def test_its_user_can_write_nothing_outside_the_temporary_folders(container: str) -> None:
    # Run as the image's own user; -xdev keeps to the image's files (not /proc, /dev, /sys). find also reports the
    # folders it may not read (/root, /etc/ssl/private): those are closed to the user all the more.
    search = "find / -xdev -writable -print 2>/dev/null; true"
    done = run_in(container, "sh", "-c", search)
    assert done.returncode == 0, done.stderr
    writable = set(done.stdout.split())
    # The sticky world-writable folders every Debian has (and /var/lock, a link to /run/lock); a read-only root
    # filesystem closes them too, and the image points every write at /tmp.
    assert "/tmp" in writable, done.stdout  # the search ran as the user
    assert writable <= {"/tmp", "/var/tmp", "/run/lock", "/var/lock"}, sorted(writable)


def test_help_lists_the_roles(buildah_world: World) -> None:
    done = buildah_world.cli("--help")
    for role in ("api", "worker", "migrate"):
        assert f"  {role} " in done.stdout, done.stdout


def test_the_api_and_the_workers_run_from_the_image(buildah_world: World) -> None:
    base = buildah_world.start_api()  # waits for /readyz 200
    assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    buildah_world.start_workers("relay")
    buildah_world.start_workers("orders")
    order_reaches_the_database(buildah_world, base)


def test_the_api_runs_on_a_read_only_root(read_only_world: World) -> None:
    """migrate (in the fixture), the API with its metrics directory, and an order, with only /tmp writable."""
    base = read_only_world.start_api(workers=2)
    assert httpx.get(f"{base}/metrics", timeout=5).status_code == 200
    read_only_world.start_workers("all")
    order_reaches_the_database(read_only_world, base)


def test_a_missing_secret_is_one_line(container: str) -> None:
    done = run_in(container, "flashsale", "api")
    assert done.returncode != 0
    # The process's one line comes first; buildah adds its own lines about the exit status after it.
    assert done.stderr.splitlines()[0] == (
        "Error: FLASHSALE_JWT_SECRET is not set (set it, or FLASHSALE_DEV=1 for a generated one)"
    ), done.stderr
    assert "Traceback" not in done.stderr
