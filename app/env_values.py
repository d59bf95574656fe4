"""Readers of single environment values. Each returns the value or raises ConfigError with one line that starts with
the variable's name, so a malformed setting stops the process with that line instead of a traceback later.

URLs are never echoed back: they may hold passwords."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from app.domain.errors import ConfigError

Env = Mapping[str, str]
# Plain ASCII decimals only: int() and float() would also take `1_000`, `٣` or `infinity`.
_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _raw(env: Env, name: str) -> str | None:
    raw = env.get(name)
    return None if raw is None or raw.strip() == "" else raw.strip()


TRUE = ("1", "true", "yes")
FALSE = ("0", "false", "no")


def flag(env: Env, name: str, default: bool = False) -> bool:
    """1/true/yes or 0/false/no, in any case; unset or empty is the default; anything else is refused (a typo such
    as `ture` or `on` must not silently mean off)."""
    raw = _raw(env, name)
    if raw is None:
        return default
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1, true, yes, 0, false, no (any case), got {raw!r}")


def choice(env: Env, name: str, default: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed`, exactly as written."""
    raw = _raw(env, name)
    if raw is None:
        return default
    if raw not in allowed:
        names = " or ".join(f"{item!r}" for item in allowed)
        raise ConfigError(f"{name} must be {names}, got {raw!r}")
    return raw


def integer(env: Env, name: str, default: int, lo: int = 0, hi: int = 10**12) -> int:
    raw = _raw(env, name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw):
        raise ConfigError(f"{name} must be an integer, got {raw!r}")
    value = int(raw)
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def number(env: Env, name: str, default: float, lo: float, hi: float) -> float:
    """A finite number in [lo, hi]."""
    raw = _raw(env, name)
    if raw is None:
        return default
    if not _NUMBER.fullmatch(raw):
        raise ConfigError(f"{name} must be a number, got {raw!r}")
    value = float(raw)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be a number between {lo:g} and {hi:g}, got {raw!r}")
    return value


def url(
    env: Env,
    name: str,
    default: str,
    schemes: tuple[str, ...],
    check: Callable[[str], object] | None = None,
) -> str:
    """A URL with one of `schemes`, a host (a path for unix://) and a numeric port if it has one. `check` is the
    consuming library's own parser: whatever it refuses (a ValueError) is refused here, at start-up."""
    value = _raw(env, name) or default
    allowed = ", ".join(f"{scheme}://" for scheme in schemes)
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ConfigError(f"{name} must not contain spaces or control characters (percent-encode them)")
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an IPv6 host without its closing bracket
        raise ConfigError(f"{name} is not a valid URL (check its host)") from None
    try:
        port = parts.port  # raises for a port that is not a number in 0-65535
    except ValueError:
        port = 0
    if parts.scheme not in schemes or not value.startswith(f"{parts.scheme}://"):
        raise ConfigError(f"{name} must start with one of {allowed}")
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigError(f"{name} must name a socket path (unix:///path/to/socket)")
    elif not parts.hostname:
        raise ConfigError(f"{name} must name a host")
    if port == 0:
        raise ConfigError(f"{name} must have a port of 1-65535 (or none, for the default)")
    if parts.scheme in ("redis", "rediss") and not _redis_db_path(parts.path):
        # redis-py reads `/abc` as database 0 and `/0/1` as database 1: refuse what it would misread.
        raise ConfigError(f"{name} must end in a database number (e.g. /0) or nothing after the host")
    if parts.scheme in ("amqp", "amqps") and "/" in parts.path[1:]:
        raise ConfigError(f"{name} must name at most one virtual host (a `/` inside one is written %2F)")
    if check is not None:
        try:
            check(value)
        except ConfigError:
            raise
        except ValueError as exc:
            # The library's message names a part of the URL (e.g. a query argument), never the password.
            raise ConfigError(f"{name} is refused: {str(exc).splitlines()[0]}") from None
    return value


def _redis_db_path(path: str) -> bool:
    return path in ("", "/") or (path[1:].isdigit() and path[1:].isascii())


def networks(env: Env, name: str) -> tuple[str, ...]:
    """Comma-separated IP addresses and CIDR networks, or `*` alone for any address; empty: none."""
    raw = _raw(env, name)
    if raw is None:
        return ()
    items = [item.strip() for item in raw.split(",")]
    if items == ["*"]:
        return ("*",)
    out: list[str] = []
    for item in items:
        try:
            out.append(
                str(ipaddress.ip_network(item, strict=False)) if "/" in item else str(ipaddress.ip_address(item))
            )
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
    return tuple(out)
