"""Bodies in and out through the Structs of app/api/shapes.py: decode a request (422 `invalid_request` naming the
field and the rule it broke), encode a response."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from starlette.responses import Response

from app.domain.errors import InvalidRequest

T = TypeVar("T")

_AT = re.compile(r"^(?P<rule>.*?)(?: - at `\$(?:\.(?P<field>[^`\[]+)|(?P<rest>[^`]*))`)?$", re.DOTALL)
_NAMED = re.compile(r"^Object (?:contains unknown|missing required) field `(?P<field>.*)`$", re.DOTALL)
_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {}


def decode(raw: bytes, shape: type[T], *, empty_ok: bool = False) -> T:
    """The body as `shape`; an empty body is the shape's defaults where `empty_ok`, else 422."""
    if not raw.strip():
        if empty_ok:
            return msgspec.convert({}, shape)
        raise InvalidRequest("a JSON body is required")
    decoder = _DECODERS.get(shape)
    if decoder is None:
        decoder = _DECODERS[shape] = msgspec.json.Decoder(shape)
    try:
        # msgspec refuses what is not UTF-8 (so UTF-16/32 and Latin-1), lone surrogates, NaN, trailing data.
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise invalid(str(exc)) from None
    except msgspec.DecodeError:
        raise InvalidRequest("the body is not valid JSON in UTF-8") from None


def check(data: dict[str, Any], shape: type[T]) -> T:
    """The same rules for values that did not come as JSON (the command line)."""
    try:
        return msgspec.convert(data, shape)
    except msgspec.ValidationError as exc:
        raise invalid(str(exc)) from None


def invalid(text: str) -> InvalidRequest:
    """msgspec's "Expected `int` <= 100 - at `$.quantity`" as the contract's 422: field `quantity`, a message
    naming it and the rule."""
    found = _AT.match(text)
    rule, field = (found["rule"], found["field"]) if found else (text, None)
    named = _NAMED.match(rule)
    if named is not None:  # an unknown or a missing field: the path is the object's, the name is in the message
        field = named["field"]
    if field is not None:
        field = printable(field)
        return InvalidRequest(f"{field}: {printable(rule[0].lower() + rule[1:])}", field=field)
    return InvalidRequest(f"the body: {printable(rule[0].lower() + rule[1:])}")


def printable(text: str) -> str:
    """Text any response can carry (a name may hold half a surrogate pair, which UTF-8 cannot)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("ascii", "replace")


class Reply(Response):
    """A JSON response from a Struct (or anything msgspec encodes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content)
