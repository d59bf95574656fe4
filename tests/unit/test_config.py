"""Settings from the environment: the JWT secret rules and the development secret file."""

from __future__ import annotations

import dataclasses
import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest

from app.config import INTEGER_RANGES, MIN_SECRET_BYTES, NUMBER_RANGES, Settings, vhost_of_url
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


def test_log_format_is_text_json_or_refused() -> None:
    assert Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD}).log_format == "text"
    assert Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError, match="FLASHSALE_LOG_FORMAT must be 'text' or 'json', got 'yaml'"):
        Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_LOG_FORMAT": "yaml"})


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


# A malformed value of any kind is refused with one line that names its variable and the rule it broke (never a
# traceback later): (variable, value, the rule's words in the message).
MALFORMED = [
    ("FLASHSALE_REDIS_URL", "localhost:6379", "must start with one of redis://, rediss://, unix://"),
    ("FLASHSALE_REDIS_URL", "http://127.0.0.1:6379/0", "must start with one of redis://"),
    ("FLASHSALE_REDIS_URL", "redis:/127.0.0.1:6379/0", "must start with one of redis://"),
    ("FLASHSALE_REDIS_URL", "redis://127.0.0.1:port/0", "must have a port of 1-65535"),
    ("FLASHSALE_REDIS_URL", "redis://127.0.0.1:99999/0", "must have a port of 1-65535"),
    ("FLASHSALE_REDIS_URL", "redis://127.0.0.1:0/0", "must have a port of 1-65535"),
    ("FLASHSALE_REDIS_URL", "redis://127.0.0.1:6379/0?socket_timeout=soon", "is refused: Invalid value for 'socket"),
    ("FLASHSALE_REDIS_URL", "redis:///0", "must name a host"),
    ("FLASHSALE_REDIS_URL", "unix://", "must name a socket path"),
    ("FLASHSALE_REDIS_URL", "redis://127.0.0.1:6379/cache", "must end in a database number"),
    ("FLASHSALE_REDIS_URL", "redis://127.0.0.1:6379/0/1", "must end in a database number"),
    ("FLASHSALE_REDIS_URL", "redis://127.0.0.1:6379/-1", "must end in a database number"),
    ("FLASHSALE_REDIS_URL", "redis://cache host:6379/0", "must not contain spaces"),
    ("FLASHSALE_AMQP_URL", "nope", "must start with one of amqp://, amqps://"),
    ("FLASHSALE_AMQP_URL", "redis://127.0.0.1:5672/", "must start with one of amqp://, amqps://"),
    ("FLASHSALE_AMQP_URL", "amqp://guest:guest@127.0.0.1:56x2/", "must have a port of 1-65535"),
    ("FLASHSALE_AMQP_URL", "amqp://guest:guest@:5672/", "must name a host"),
    ("FLASHSALE_AMQP_URL", "amqp://127.0.0.1/team/shop", "at most one virtual host"),
    ("FLASHSALE_RABBITMQ_API_URL", "127.0.0.1:15672", "must start with one of http://, https://"),
    ("FLASHSALE_RABBITMQ_API_URL", "http://[::1/", "is not a valid URL"),
    ("FLASHSALE_RABBITMQ_API_URL", "http://", "must name a host"),
    ("FLASHSALE_RABBITMQ_API_URL", "http://127.0.0.1:70000/", "must have a port of 1-65535"),
    ("FLASHSALE_MYSQL_URL", "postgres://root@127.0.0.1:3306/flashsale", "must start with one of mysql://, mariadb://"),
    ("FLASHSALE_MYSQL_URL", "mysql://root@127.0.0.1:abc/flashsale", "must have a port of 1-65535"),
    ("FLASHSALE_MYSQL_URL", "mysql://root@/flashsale", "must name a host"),
    ("FLASHSALE_MYSQL_URL", "mysql://root@127.0.0.1:3306/", "must name a database"),
    ("FLASHSALE_MYSQL_URL", "mysql://root@127.0.0.1:3306/fs;drop", "must name a database"),
    ("FLASHSALE_DEV", "on", "must be one of 1, true, yes, 0, false, no"),
    ("FLASHSALE_DEV", "ture", "must be one of 1, true, yes, 0, false, no"),
    ("FLASHSALE_DEV", "2", "must be one of 1, true, yes, 0, false, no"),
    ("FLASHSALE_JWT_SECRET", "short", f"must be at least {MIN_SECRET_BYTES} bytes"),
    ("FLASHSALE_TOKEN_TTL_SECONDS", "1h", "must be an integer"),
    ("FLASHSALE_TOKEN_TTL_SECONDS", "1_000", "must be an integer"),
    ("FLASHSALE_REDIS_POOL_SIZE", "1.5", "must be an integer"),
    ("FLASHSALE_TIMEOUT_SWEEP_SECONDS", "fast", "must be a number"),
    ("FLASHSALE_TIMEOUT_SWEEP_SECONDS", "nan", "must be a number"),
    ("FLASHSALE_TIMEOUT_SWEEP_SECONDS", "inf", "must be a number"),
    ("FLASHSALE_TIMEOUT_SWEEP_SECONDS", "1e400", "must be a number between 0.1 and 3600"),  # overflows to inf
    ("FLASHSALE_TIMEOUT_SWEEP_SECONDS", "0", "must be a number between 0.1 and 3600"),  # would spin
    ("FLASHSALE_SOLD_OUT_FLAG_SECONDS", "-1", "must be a number between 0 and 60"),
    ("FLASHSALE_FORWARDED_ALLOW_IPS", "10.0.0.300", "is not an IP address or network"),
    ("FLASHSALE_FORWARDED_ALLOW_IPS", "10.0.0.0/40", "is not an IP address or network"),
    ("FLASHSALE_FORWARDED_ALLOW_IPS", "proxy.example", "is not an IP address or network"),
    ("FLASHSALE_FORWARDED_ALLOW_IPS", "10.0.0.1,,10.0.0.2", "is not an IP address or network"),
    ("FLASHSALE_NAMESPACE", "a b", "must be 1-32 characters of [A-Za-z0-9_-]"),
    ("FLASHSALE_NAMESPACE", "n" * 33, "must be 1-32 characters of [A-Za-z0-9_-]"),
    ("FLASHSALE_NAMESPACE", "caf\u00e9", "must be 1-32 characters of [A-Za-z0-9_-]"),
    ("FLASHSALE_STOCK_STRATEGY", "memory", "must be 'redis' or 'db'"),
    ("FLASHSALE_LOG_FORMAT", "yaml", "must be 'text' or 'json'"),
]


@pytest.mark.parametrize(("name", "value", "rule"), MALFORMED)
def test_a_malformed_setting_is_one_line_naming_its_variable_and_rule(name: str, value: str, rule: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, name: value})
    message = str(caught.value)
    assert caught.value.problems == (message,)
    assert message.split()[0].rstrip(":") == name, message
    assert rule in message, message
    assert "\n" not in message
    assert "guest:guest" not in message


def _range_cases() -> list[tuple[str, str, bool]]:
    """For every number: its lowest and highest value are read, one step outside either end is refused."""
    cases: list[tuple[str, str, bool]] = []
    for name, (lo, hi) in INTEGER_RANGES.items():
        cases += [(name, str(lo), True), (name, str(hi), True), (name, str(lo - 1), False), (name, str(hi + 1), False)]
    for name, (flo, fhi) in NUMBER_RANGES.items():
        cases += [(name, str(flo), True), (name, str(fhi), True)]
        cases += [(name, str(flo - 0.01), False), (name, str(fhi + 0.01), False)]
    return cases


@pytest.mark.parametrize(("name", "value", "accepted"), _range_cases())
def test_every_number_is_held_to_its_range(name: str, value: str, accepted: bool) -> None:
    env = {"FLASHSALE_JWT_SECRET": GOOD, name: value}
    attribute = name.removeprefix("FLASHSALE_").lower()
    if accepted:
        assert float(getattr(Settings.from_env(env), attribute)) == float(value)
        return
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(f"{name} must be "), caught.value
    assert "between" in str(caught.value)


def test_every_number_setting_has_a_range() -> None:
    """A new number in Settings without a range here would be read unchecked."""
    numeric = {
        f"FLASHSALE_{f.name.upper()}"
        for f in dataclasses.fields(Settings)
        if f.type in ("int", "float") and f.name != "dev"
    }
    assert numeric == set(INTEGER_RANGES) | set(NUMBER_RANGES)


def test_periods_have_floors_that_cannot_spin() -> None:
    assert NUMBER_RANGES["FLASHSALE_TIMEOUT_SWEEP_SECONDS"][0] >= 0.1
    assert INTEGER_RANGES["FLASHSALE_NODE_LEASE_SECONDS"][0] >= 3
    assert INTEGER_RANGES["FLASHSALE_TOKEN_TTL_SECONDS"][0] >= 60


@pytest.mark.parametrize(
    ("raw", "dev"),
    [
        *[("1", True), ("true", True), ("TRUE", True), ("Yes", True), (" yes ", True)],
        *[("0", False), ("false", False), ("False", False), ("NO", False), ("", False)],
    ],
)
def test_dev_reads_only_the_six_words_in_any_case(raw: str, dev: bool, tmp_path: Path) -> None:
    env = {"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_DEV": raw, "FLASHSALE_STATE_DIR": str(tmp_path)}
    assert Settings.from_env(env).dev is dev


def test_a_malformed_dev_flag_generates_no_secret_and_is_the_only_complaint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FLASHSALE_DEV": "on", "FLASHSALE_STATE_DIR": str(tmp_path)})
    assert caught.value.problems == ("FLASHSALE_DEV must be one of 1, true, yes, 0, false, no (any case), got 'on'",)
    assert not (tmp_path / "flashsale").exists()


def test_every_problem_is_reported_at_once_one_line_each_in_field_order() -> None:
    env = {
        "FLASHSALE_JWT_SECRET": "short",
        "FLASHSALE_REDIS_URL": "redis://127.0.0.1:6379/cache",
        "FLASHSALE_TIMEOUT_SWEEP_SECONDS": "0",
        "FLASHSALE_LOG_FORMAT": "xml",
        "FLASHSALE_ORDER_PREFETCH": "50",  # well-formed: not reported
    }
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    problems = caught.value.problems
    assert [line.split()[0] for line in problems] == [
        "FLASHSALE_JWT_SECRET",
        "FLASHSALE_REDIS_URL",
        "FLASHSALE_TIMEOUT_SWEEP_SECONDS",
        "FLASHSALE_LOG_FORMAT",
    ]
    assert str(caught.value).splitlines() == list(problems)


WELL_FORMED = [
    ("FLASHSALE_REDIS_URL", "rediss://:pw@cache.internal:6380/2", "redis_url"),
    ("FLASHSALE_REDIS_URL", "unix:///run/redis.sock?db=1", "redis_url"),
    ("FLASHSALE_AMQP_URL", "amqps://user:p%40ss@[::1]:5671/sales", "amqp_url"),
    ("FLASHSALE_RABBITMQ_API_URL", "https://mq.internal/", "rabbitmq_api_url"),
    ("FLASHSALE_MYSQL_URL", "mariadb://app:secret@db.internal/shop", "mysql_url"),
]


@pytest.mark.parametrize(("name", "value", "attribute"), WELL_FORMED)
def test_well_formed_urls_are_kept_as_given(name: str, value: str, attribute: str) -> None:
    assert getattr(Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD, name: value}), attribute) == value


def test_numbers_in_range_are_read() -> None:
    env = {
        "FLASHSALE_JWT_SECRET": GOOD,
        "FLASHSALE_TIMEOUT_SWEEP_SECONDS": "0.25",
        "FLASHSALE_SOLD_OUT_FLAG_SECONDS": "0",
        "FLASHSALE_WORKER_METRICS_PORT": "0",
    }
    settings = Settings.from_env(env)
    assert (settings.timeout_sweep_seconds, settings.sold_out_flag_seconds, settings.worker_metrics_port) == (
        0.25,
        0.0,
        0,
    )


def test_no_proxy_is_trusted_by_default() -> None:
    assert Settings.from_env({"FLASHSALE_JWT_SECRET": GOOD}).forwarded_allow_ips == ()


def test_trusted_proxies_are_addresses_or_networks() -> None:
    env = {"FLASHSALE_JWT_SECRET": GOOD, "FLASHSALE_FORWARDED_ALLOW_IPS": " 10.0.0.0/8, 127.0.0.1 ,fd00::/8"}
    assert Settings.from_env(env).forwarded_allow_ips == ("10.0.0.0/8", "127.0.0.1", "fd00::/8")
    env["FLASHSALE_FORWARDED_ALLOW_IPS"] = "*"
    assert Settings.from_env(env).forwarded_allow_ips == ("*",)


def test_the_vhost_comes_from_the_amqp_url() -> None:
    cases = {
        "amqp://guest:guest@127.0.0.1:5672/": "/",
        "amqp://guest:guest@127.0.0.1:5672": "/",
        "amqp://127.0.0.1/%2F": "/",
        "amqp://127.0.0.1/shop": "shop",
        "amqps://u:p@broker:5671/team%2Fshop": "team/shop",
    }
    for url, vhost in cases.items():
        assert vhost_of_url(url) == vhost, url
    env = {"FLASHSALE_JWT_SECRET": "s" * 40, "FLASHSALE_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/shop"}
    assert Settings.from_env(env).amqp_vhost == "shop"
