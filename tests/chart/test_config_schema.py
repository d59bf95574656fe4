"""The chart's schema holds each `config.*` value to the range and choices the program itself enforces, so a value
the chart accepts never stops a pod at start, and one the program accepts is never refused by the chart."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.config import INTEGER_RANGES, NUMBER_RANGES
from tests.chart.conftest import CHART

RANGES: dict[str, tuple[float, float]] = {**INTEGER_RANGES, **NUMBER_RANGES}


def config_schema() -> dict[str, Any]:
    schema = json.loads((CHART / "values.schema.json").read_text())
    properties: dict[str, Any] = schema["properties"]["config"]["properties"]
    return properties


def variable(key: str) -> str:
    """The chart's rule: each config key becomes FLASHSALE_<KEY_IN_UPPER_SNAKE_CASE>."""
    return "FLASHSALE_" + re.sub(r"([A-Z])", r"_\1", key).upper()


def value_branch(spec: dict[str, Any]) -> dict[str, Any]:
    """The schema's branch for a value (the other one is null: the program's default)."""
    (branch,) = [b for b in spec["anyOf"] if b.get("type") != "null"]
    return branch


NUMERIC = {key: variable(key) for key in config_schema() if variable(key) in RANGES}


def test_every_number_of_the_chart_is_a_number_of_the_program() -> None:
    numeric_in_chart = {
        key for key, spec in config_schema().items() if value_branch(spec).get("type") in ("integer", "number")
    }
    assert numeric_in_chart == set(NUMERIC)
    assert len(NUMERIC) >= 15


@pytest.mark.parametrize(("key", "name"), sorted(NUMERIC.items()))
def test_the_chart_bounds_are_the_programs(key: str, name: str) -> None:
    branch = value_branch(config_schema()[key])
    assert branch["type"] == ("integer" if name in INTEGER_RANGES else "number")
    assert "exclusiveMinimum" not in branch and "exclusiveMaximum" not in branch
    assert (branch["minimum"], branch["maximum"]) == RANGES[name]


@pytest.mark.parametrize(("key", "allowed"), [("stockStrategy", {"redis", "db"}), ("logFormat", {"text", "json"})])
def test_the_chart_choices_are_the_programs(key: str, allowed: set[str]) -> None:
    assert set(value_branch(config_schema()[key])["enum"]) == allowed
