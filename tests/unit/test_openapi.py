"""The OpenAPI document and the routing table describe the same API."""

from __future__ import annotations

from app.api.app import ROUTES
from app.api.openapi import document


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
