"""Readers of single environment values. Each returns the value or raises ConfigError with one line that starts with
the variable's name, so a malformed setting stops the process with that line instead of a traceback later.

URLs are never echoed back: they may hold passwords."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from app.domain.errors import ConfigError

Env = Mapping[str, str]


def _raw(env: Env, name: str) -> str | None:
    raw = env.get(name)
    return None if raw is None or raw.strip() == "" else raw.strip()


def integer(env: Env, name: str, default: int, lo: int = 0, hi: int = 10**12) -> int:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def number(env: Env, name: str, default: float, lo: float, hi: float, *, above_lo: bool = False) -> float:
    """A finite number in [lo, hi] (or (lo, hi] with `above_lo`)."""
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    low_ok = value > lo if above_lo else value >= lo
    if not math.isfinite(value) or not low_ok or value > hi:
        bound = f"more than {lo} and at most {hi}" if above_lo else f"between {lo} and {hi}"
        raise ConfigError(f"{name} must be a number {bound}, got {raw!r}")
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
    try:
        parts = urlsplit(value)
        port = parts.port  # raises for a port that is not a number in 0-65535
    except ValueError:
        raise ConfigError(f"{name} is not a valid URL (check its host and port)") from None
    if parts.scheme not in schemes or not value.startswith(f"{parts.scheme}://"):
        raise ConfigError(f"{name} must start with one of {allowed}")
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigError(f"{name} must name a socket path (unix:///path/to/socket)")
    elif not parts.hostname:
        raise ConfigError(f"{name} must name a host")
    if port == 0:
        raise ConfigError(f"{name} has port 0")
    if check is not None:
        try:
            check(value)
        except ConfigError:
            raise
        except ValueError as exc:
            # The library's message names a part of the URL (e.g. a query argument), never the password.
            raise ConfigError(f"{name} is refused: {str(exc).splitlines()[0]}") from None
    return value


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
