"""The OpenAPI document and the routing table describe the same API; its components are the Structs'."""

from __future__ import annotations

import msgspec

from app.api import shapes
from app.api.app import ROUTES
from app.api.openapi import document
from app.api.operations import OPERATIONS


def test_every_route_is_documented_and_every_documented_operation_is_routed() -> None:
    routed = {(route.path, method.lower()) for route in ROUTES for method in (route.methods or []) - {"HEAD"}}
    doc = document()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routed == documented


def test_protected_operations_declare_bearer_security() -> None:
    paths = document()["paths"]
    assert paths["/api/v1/sales/{id}/purchase"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/api/v1/sales"]["get"]
    assert set(paths["/api/v1/sales/{id}/purchase"]["post"]["responses"]) == {
        "202", "401", "404", "409", "413", "422", "429", "503",
    }  # fmt: skip


def test_every_reference_resolves() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas


def test_components_are_the_structs_schemas() -> None:
    schemas = document()["components"]["schemas"]
    structs = {
        name: kind
        for name, kind in vars(shapes).items()
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct) and kind not in (shapes.Strict, msgspec.Struct)
    }
    assert set(schemas) == set(structs)
    _, generated = msgspec.json.schema_components(list(structs.values()), ref_template="#/components/schemas/{name}")
    for name, schema in generated.items():
        # The same schema, with Python's end-of-text `\\Z` written as JSON Schema's `$`.
        assert msgspec.json.encode(schemas[name]) == msgspec.json.encode(schema).replace(b"\\\\Z", b"$"), name


def test_request_bodies_refuse_unknown_fields_and_responses_list_every_status() -> None:
    schemas = document()["components"]["schemas"]
    for op in OPERATIONS:
        if op.request is not None:
            assert schemas[op.request.__name__]["additionalProperties"] is False
        documented = set(document()["paths"][op.path][op.method.lower()]["responses"])
        expected = {str(op.ok), *map(str, op.errors)}
        if op.path.startswith("/api/v1"):
            assert "503" in documented, op.path  # every one of them needs a store
        if op.auth:
            assert "401" in documented, op.path
        if op.method in ("POST", "PATCH"):
            assert "413" in documented, op.path
        assert documented == expected


def test_a_422_may_name_its_field() -> None:
    error = document()["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"] and "field" in error["properties"]
