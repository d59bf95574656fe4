"""Shared pieces of the command line: logging, settings with one-line errors, running a coroutine."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from app.config import Settings, log_format_from_env
from app.domain.errors import ConfigError, DomainError, ServiceUnavailable

T = TypeVar("T")


def config_failure(exc: ConfigError) -> click.ClickException:
    """Each problem on its own `Error: ` line, as click prints the first."""
    return click.ClickException("\nError: ".join(exc.problems))


def setup_command_logging() -> None:
    """Every command's logging, before the command runs (JSON lines for a migration Job too)."""
    from app.infrastructure.logs import setup_logging

    try:
        setup_logging(log_format_from_env(os.environ))
    except ConfigError as exc:
        raise config_failure(exc) from None


def settings(*, require_secret: bool = True) -> Settings:
    try:
        return Settings.from_env(require_secret=require_secret)
    except ConfigError as exc:
        raise config_failure(exc) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on uvloop; a missing service or a refused request is one line, not a trace."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run(coro)
    except ConfigError as exc:
        raise config_failure(exc) from None
    except ServiceUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
