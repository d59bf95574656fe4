"""Request validation: exact types (a bool is not an int), bounds on every value, unknown fields refused."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from app.domain.errors import InvalidRequest

MAX_BODY = 16 * 1024
MONEY_MAX = 1_000_000_000
ID_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class Field:
    kind: str  # "int", "str", "bool", "time", "url"
    required: bool = True
    lo: int = 0
    hi: int = 0
    default: Any = None
    pattern: re.Pattern[str] | None = None

    def check(self, name: str, value: Any) -> Any:
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequest(f"{name} must be an integer")
            if not self.lo <= value <= self.hi:
                raise InvalidRequest(f"{name} must be between {self.lo} and {self.hi}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise InvalidRequest(f"{name} must be true or false")
            return value
        if not isinstance(value, str):
            raise InvalidRequest(f"{name} must be a string")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # half a surrogate pair (a \ud800 escape): not text, cannot be stored
                raise InvalidRequest(f"{name} is not valid text") from None
        if self.kind == "time":
            from app.domain.timefmt import parse_rfc3339

            return parse_rfc3339(value, name)
        if not self.lo <= len(value) <= self.hi:
            raise InvalidRequest(f"{name} must be {self.lo} to {self.hi} characters")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise InvalidRequest(f"{name} has characters that are not allowed")
        if self.kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise InvalidRequest(f"{name} must be an http or https URL")
        return value


def validate(data: Any, spec: dict[str, Field]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    unknown = sorted(set(data) - set(spec))
    if unknown:
        # ascii(): a name may hold half a surrogate pair, which no response could encode
        raise InvalidRequest(f"unknown field(s): {', '.join(ascii(n)[1:-1] for n in unknown)}")
    out: dict[str, Any] = {}
    for name, field in spec.items():
        if name not in data or (data[name] is None and not field.required):
            if field.required:
                raise InvalidRequest(f"{name} is required")
            out[name] = field.default
            continue
        out[name] = field.check(name, data[name])
    return out


async def read_body(request: Request) -> bytes:
    """The raw body, 413 if over the cap. A declared Content-Length is refused by the middleware already; a
    streamed body is cut there one byte past the cap, so it shows here. Routes call this before checking the
    token, so 413 comes first as the contract orders (Starlette keeps the body for the later parse)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        from app.api.errors import PayloadTooLarge

        raise PayloadTooLarge()
    return raw


async def json_body(request: Request, *, empty_ok: bool = False) -> Any:
    """The parsed body (413 when it is over the cap, 422 when it is not JSON)."""
    raw = await read_body(request)
    if not raw.strip():
        if empty_ok:
            return {}
        raise InvalidRequest("a JSON body is required")
    try:
        # JSON is UTF-8 (RFC 8259): decoding first refuses the UTF-16/32 that json.loads(bytes) would guess.
        # A deep nesting exhausts the parser's recursion: malformed for us, never a 500.
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("the body is not valid JSON in UTF-8") from None


def path_id(request: Request, name: str = "id") -> int:
    """A decimal id in the path; anything malformed is simply not found."""
    from app.domain.errors import NotFound

    raw = request.path_params.get(name, "")
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise NotFound("not found")
    value = int(raw)
    if not 0 < value <= ID_MAX:
        raise NotFound("not found")
    return value


def page_args(request: Request) -> tuple[int, int | None]:
    """`limit` (1..100, default 50) and `cursor` (an opaque decimal id) from the query string."""
    limit_raw = request.query_params.get("limit", "50")
    if not limit_raw.isascii() or not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 100:
        raise InvalidRequest("limit must be an integer from 1 to 100")
    return int(limit_raw), query_id(request, "cursor", "cursor is not one this API gave out")


def query_id(request: Request, name: str, message: str) -> int | None:
    """An optional decimal id in the query string; anything else is a 422 with `message`."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise InvalidRequest(message)
    return int(raw)


NAME = Field("str", lo=1, hi=200)
DESCRIPTION = Field("str", required=False, lo=0, hi=4000)
MONEY = Field("int", lo=0, hi=MONEY_MAX)
USERNAME = Field("str", lo=3, hi=64, pattern=re.compile(r"[A-Za-z0-9_.-]+"))
PASSWORD = Field("str", lo=8, hi=128)
