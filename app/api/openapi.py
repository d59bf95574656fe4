"""The OpenAPI 3.1 document: paths assembled from the route table (app/api/operations.py), components generated
from the Structs of app/api/shapes.py, the same types that validate requests and encode responses."""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

REF = "#/components/schemas/{name}"
_END = re.compile(r"\\Z$")


def _ref(shape: type) -> dict[str, Any]:
    return {"$ref": REF.format(name=shape.__name__)}


def _json_schema_patterns(node: Any) -> Any:
    """Python's `\\Z` (the Structs' end of text) as JSON Schema's `$`, which means the same in its dialect."""
    if isinstance(node, dict):
        return {
            k: _END.sub("$", v) if k == "pattern" and isinstance(v, str) else _json_schema_patterns(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_json_schema_patterns(v) for v in node]
    return node


def _content(shape: type | None, media: str = "application/json") -> dict[str, Any]:
    schema = _ref(shape) if shape is not None else {"type": "object"} if media == "application/json" else {}
    return {media: {"schema": schema}} if schema else {media: {}}


def _operation(op: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.ok): {"description": "success", "content": _content(op.response, op.media)}}
    for status, shape in sorted(op.errors.items()):
        responses[str(status)] = {"description": "error", "content": _content(shape)}
    doc: dict[str, Any] = {"summary": op.summary, "operationId": op.endpoint.__name__, "responses": responses}
    if op.params:
        doc["parameters"] = list(op.params)
    if op.auth:
        doc["security"] = [{"bearer": []}]
    if op.request is not None:
        # Only a purchase may have an empty body (it buys one unit); elsewhere an absent body is 422.
        doc["requestBody"] = {"required": op.body_required, "content": _content(op.request)}
    return doc


def shapes_of(operations: Any) -> list[type]:
    found: dict[str, type] = {}
    for op in operations:
        for shape in (op.request, op.response, *op.errors.values()):
            if shape is not None:
                found[shape.__name__] = shape
    return list(found.values())


@functools.cache
def document() -> dict[str, Any]:
    from app.api.operations import OPERATIONS

    _, components = msgspec.json.schema_components(shapes_of(OPERATIONS), ref_template=REF)
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "flashsale", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": _json_schema_patterns(components),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


@functools.cache
def _encoded() -> bytes:
    return msgspec.json.encode(document())


async def openapi(_request: Request) -> Response:
    return Response(_encoded(), media_type="application/json")
