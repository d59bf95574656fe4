"""The OpenAPI document as a test oracle: does a response match what its operation documents, and examples of
request bodies made from the document's schemas (one valid body, and bodies that each break one rule)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.api.openapi import document

DOC_URI = "urn:flashsale:openapi"


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(DOC_URI, Resource(contents=document(), specification=DRAFT202012))


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of `schema`, whose `$ref`s point into the document."""
    return Draft202012Validator({"$id": "urn:flashsale:check", **_rebase(schema)}, registry=_registry())


def component(name: str) -> dict[str, Any]:
    return dict(document()["components"]["schemas"][name])


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: DOC_URI + v if k == "$ref" and v.startswith("#") else _rebase(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path) for path in document()["paths"]]


def operation_of(method: str, path: str) -> dict[str, Any] | None:
    for pattern, template in _templates():
        if pattern.match(path):
            return document()["paths"][template].get(method.lower())
    return None


def response_problems(method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with a response by the document: an undocumented status, a wrong media type, a body off its
    schema. An unknown path (404) or method (405) has no operation to hold it to."""
    op = operation_of(method, path)
    if op is None:
        return []
    documented = op["responses"].get(str(status))
    if documented is None:
        return [f"{method} {path} answered {status}, which its operation does not document"]
    media, _, _ = content_type.partition(";")
    content = documented.get("content", {})
    if media not in content:
        return [f"{method} {path} {status}: media type {media!r} is not one of {sorted(content)}"]
    schema = content[media].get("schema")
    if media != "application/json" or not schema:
        return []
    errors = validator(schema).iter_errors(json.loads(body))
    return [f"{method} {path} {status}: {e.message} at {list(e.absolute_path)}" for e in errors]


def conform(response: httpx.Response) -> None:
    """An httpx response hook: every response must match the document."""
    response.read()
    request = response.request
    problems = response_problems(
        request.method, request.url.path, response.status_code, response.headers.get("content-type", ""),
        response.content,
    )  # fmt: skip
    assert not problems, problems


# --- examples of request bodies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """A body that breaks one rule of one field."""

    field: str
    rule: str
    body: dict[str, Any]


def _branch(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional field's `anyOf`."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") != "null":
            return {**option, **{k: v for k, v in schema.items() if k not in ("anyOf", "default")}}
    raise AssertionError(schema)


def example_value(schema: dict[str, Any]) -> Any:
    s = _branch(schema)
    if "examples" in s:
        return s["examples"][0]
    if "enum" in s:
        return s["enum"][0]
    kind = s.get("type")
    if kind == "integer":
        return s.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "string":
        assert "pattern" not in s, f"a string with a pattern needs an example: {s}"
        return "x" * max(1, s.get("minLength", 1))
    raise AssertionError(f"no example for {s}")


def valid_body(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every field of the component with an example value (the document's `examples`, else the least allowed)."""
    schema = component(name)
    body = {field: example_value(prop) for field, prop in schema["properties"].items()}
    return {**body, **(overrides or {})}


_WRONG_TYPES = {"integer": ["1", True, 1.5], "string": [1, True], "boolean": [1, "true"]}
_OFF_PATTERN = ["", " ", "x y", "!", "12a", "ftp://e.com/x", "2026-11-25 12:00:00Z", "2026-W48-3T12:00:00Z"]


def broken_bodies(name: str, good: dict[str, Any]) -> list[Broken]:
    """For each field and each rule its schema states, a body (otherwise `good`) that breaks just that rule."""
    schema = component(name)
    out = [Broken("unexpected", "additionalProperties", {**good, "unexpected": 1})]
    for field in schema.get("required", []):
        out.append(Broken(field, "required", {k: v for k, v in good.items() if k != field}))
    for field, prop in schema["properties"].items():
        s = _branch(prop)
        value = good[field]
        for wrong in _WRONG_TYPES[s["type"]]:
            out.append(Broken(field, "type", {**good, field: wrong}))
        if "minimum" in s:
            out.append(Broken(field, "minimum", {**good, field: s["minimum"] - 1}))
        if "maximum" in s:
            out.append(Broken(field, "maximum", {**good, field: s["maximum"] + 1}))
        if s.get("minLength", 0) > 0:
            out.append(Broken(field, "minLength", {**good, field: value[: s["minLength"] - 1]}))
        if "maxLength" in s:
            longer = value + value[-1] * (s["maxLength"] + 1 - len(value))
            out.append(Broken(field, "maxLength", {**good, field: longer}))
        if "pattern" in s:
            off = next(c for c in _OFF_PATTERN if not re.search(s["pattern"], c))
            out.append(Broken(field, "pattern", {**good, field: off}))
    return out
