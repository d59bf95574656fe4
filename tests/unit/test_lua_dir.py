"""The Lua scripts travel inside the `app` package (so an installed wheel has them); FLASHSALE_LUA_DIR overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

import app
from app.infrastructure.lua import SCRIPT_NAMES, lua_dir


def test_the_scripts_are_found_inside_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASHSALE_LUA_DIR", raising=False)
    folder = lua_dir()
    assert folder.is_relative_to(Path(app.__file__).parent)
    assert sorted(p.stem for p in folder.glob("*.lua")) == sorted(SCRIPT_NAMES)


def test_the_package_folder_is_the_one_copy_at_the_top(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASHSALE_LUA_DIR", raising=False)
    top = Path(__file__).resolve().parents[2] / "lua"
    assert lua_dir().resolve() == top.resolve()


def test_the_variable_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLASHSALE_LUA_DIR", str(tmp_path))
    assert lua_dir() == tmp_path
