"""Load the Lua scripts in `lua/` once per client with `register_script` (which reloads them on NOSCRIPT)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def lua_dir() -> Path:
    override = os.environ.get("FLASHSALE_LUA_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "lua"


@dataclass(frozen=True)
class Scripts:
    reserve: AsyncScript
    release: AsyncScript
    adjust: AsyncScript
    load: AsyncScript
    lease: AsyncScript
    forget: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> Scripts:
        folder = lua_dir()

        def script(name: str) -> AsyncScript:
            return redis.register_script((folder / f"{name}.lua").read_text())

        return cls(
            reserve=script("reserve"),
            release=script("release"),
            adjust=script("adjust"),
            load=script("load"),
            lease=script("lease"),
            forget=script("forget"),
        )
