"""Settings from the environment: the JWT secret rules and the development secret file."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest

from app.config import MIN_SECRET_BYTES, Settings
from app.domain.errors import ConfigError

GOOD = "s" * MIN_SECRET_BYTES


def test_secret_of_32_bytes_is_accepted() -> None:
    settings = Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD})
    assert settings.jwt_secret == GOOD
    assert not settings.dev
    assert GOOD not in repr(settings)  # never printed


@pytest.mark.parametrize("secret", ["short", "s" * (MIN_SECRET_BYTES - 1)])
def test_secret_under_32_bytes_is_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="FLASHSALE_JWT_SECRET"):
        Settings.from_env({"FLASHSALE_JWT_SECRET": secret})


def test_secret_length_counts_bytes_not_characters() -> None:
    assert Settings.from_env({"FLASHSALE_JWT_SECRET": "é" * 16}).jwt_secret == "é" * 16
    with pytest.raises(ConfigError):
        Settings.from_env({"FLASHSALE_JWT_SECRET": "é" * 15 + "e"})


@pytest.mark.parametrize("dev", [None, "", "0", "false", "no"])
def test_missing_secret_is_refused_without_dev(dev: str | None, tmp_path: Path) -> None:
    env = {"FLASHSALE_STATE_DIR": str(tmp_path)}
    if dev is not None:
        env["FLASHSALE_DEV"] = dev
    with pytest.raises(ConfigError, match="FLASHSALE_JWT_SECRET"):
        Settings.from_env(env)
    assert not (tmp_path / "flashsale").exists()


def test_missing_secret_allowed_where_none_is_needed() -> None:
    assert Settings.from_env({}, require_secret=False).jwt_secret == ""


def test_dev_generates_one_shared_secret_in_a_0600_file(tmp_path: Path) -> None:
    env = {"FLASHSALE_DEV": "1", "FLASHSALE_STATE_DIR": str(tmp_path)}
    first = Settings.from_env(env)
    second = Settings.from_env(dict(env))
    assert first.dev and second.dev
    assert len(first.jwt_secret.encode()) >= MIN_SECRET_BYTES
    assert first.jwt_secret == second.jwt_secret
    files = list(tmp_path.rglob("*"))
    secret_files = [p for p in files if p.is_file()]
    assert len(secret_files) == 1
    path = secret_files[0]
    assert path.read_text().strip() == first.jwt_secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dev_secret_differs_per_state_dir(tmp_path: Path) -> None:
    one = Settings.from_env({"FLASHSALE_DEV": "1", "FLASHSALE_STATE_DIR": str(tmp_path / "a")})
    two = Settings.from_env({"FLASHSALE_DEV": "1", "FLASHSALE_STATE_DIR": str(tmp_path / "b")})
    assert one.jwt_secret != two.jwt_secret


def test_explicit_secret_wins_over_dev(tmp_path: Path) -> None:
    env = {"FLASHSALE_DEV": "1", "FLASHSALE_STATE_DIR": str(tmp_path), "FLASHSALE_JWT_SECRET": GOOD}
    assert Settings.from_env(env).jwt_secret == GOOD
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_dev_refuses_a_truncated_secret_file(tmp_path: Path) -> None:
    folder = tmp_path / "flashsale"
    folder.mkdir()
    (folder / "jwt-secret").write_text("tiny")
    with pytest.raises(ConfigError):
        Settings.from_env({"FLASHSALE_DEV": "1", "FLASHSALE_STATE_DIR": str(tmp_path)})


def test_other_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="FLASHSALE_STOCK_STRATEGY"):
        Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_STOCK_STRATEGY": "memory"})
    with pytest.raises(ConfigError, match="FLASHSALE_RATE_LIMIT_USER"):
        Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_RATE_LIMIT_USER": "lots"})
    settings = Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_RATE_LIMIT_USER": "0"})
    assert settings.rate_limit_user == 0
    assert settings.stock_strategy == "redis"


def test_orders_per_user_cap_setting() -> None:
    assert Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD}).orders_per_user_max == 100
    assert (
        Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_ORDERS_PER_USER_MAX": "0"}).orders_per_user_max == 0
    )
    with pytest.raises(ConfigError, match="FLASHSALE_ORDERS_PER_USER_MAX"):
        Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_ORDERS_PER_USER_MAX": "many"})


def test_sign_in_settings() -> None:
    defaults = Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD})
    assert defaults.rate_limit_login == 5 < defaults.rate_limit_user
    assert defaults.password_hash_concurrency == 2
    with pytest.raises(ConfigError, match="FLASHSALE_PASSWORD_HASH_CONCURRENCY"):
        Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_PASSWORD_HASH_CONCURRENCY": "0"})
    with pytest.raises(ConfigError, match="FLASHSALE_RATE_LIMIT_LOGIN"):
        Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_RATE_LIMIT_LOGIN": "-1"})


def _read_dev_secret(state_dir: str, barrier: Any, out: Any) -> None:
    barrier.wait()
    try:
        out.put(Settings.from_env({"FLASHSALE_DEV": "1", "FLASHSALE_STATE_DIR": state_dir}).jwt_secret)
    except ConfigError as exc:
        out.put(f"error: {exc}")


def test_processes_starting_together_share_one_dev_secret(tmp_path: Path) -> None:
    """Several processes generating the secret at the same moment: none may read a half-written file."""
    ctx = multiprocessing.get_context("fork")
    processes = 6
    for round_ in range(20):
        state_dir = str(tmp_path / str(round_))
        barrier = ctx.Barrier(processes)
        out = ctx.Queue()
        args = (state_dir, barrier, out)
        procs = [ctx.Process(target=_read_dev_secret, args=args) for _ in range(processes)]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=20) for _ in procs]
        for proc in procs:
            proc.join(timeout=20)
        assert len(set(results)) == 1, results
        assert not results[0].startswith("error")
