"""Load the Lua scripts once per client with `register_script` (which reloads them on NOSCRIPT).

The scripts' one copy is the project's top-level `lua/`; `app/lua` links to it, so the package (an editable
checkout or an installed wheel, which carries them as package data) finds them at `app/lua`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

SCRIPT_NAMES = ("reserve", "release", "adjust", "load", "lease", "end", "forget", "settle")


def lua_dir() -> Path:
    override = os.environ.get("FLASHSALE_LUA_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1] / "lua"


@dataclass(frozen=True)
class Scripts:
    reserve: AsyncScript
    release: AsyncScript
    adjust: AsyncScript
    load: AsyncScript
    lease: AsyncScript
    end: AsyncScript
    forget: AsyncScript
    settle: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> Scripts:
        folder = lua_dir()

        def script(name: str) -> AsyncScript:
            return redis.register_script((folder / f"{name}.lua").read_text())

        return cls(**{name: script(name) for name in SCRIPT_NAMES})
