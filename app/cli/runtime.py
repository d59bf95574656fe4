"""Shared pieces of the command line: settings with one-line errors, running a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from app.config import Settings
from app.domain.errors import ConfigError, DomainError, ServiceUnavailable

T = TypeVar("T")


def settings(*, require_secret: bool = True) -> Settings:
    try:
        return Settings.from_env(require_secret=require_secret)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on uvloop; a missing service or a refused request is one line, not a trace."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run(coro)
    except (ServiceUnavailable, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
