"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS by test_schemathesis): JSON Schema counts 34.0 as an
integer, the API (on purpose, see tests/unit/test_schema.py) does not, so a whole float a case holds is sent as
the integer it stands for. A deliberately broken case stays broken (no other value changes)."""

from __future__ import annotations

from typing import Any

import schemathesis


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return _whole_numbers(body)
