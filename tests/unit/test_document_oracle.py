"""The response oracle of tests/document.py (every integration response passes through it) catches what is off
the document: an undocumented status, a wrong media type, a body off its schema."""

from __future__ import annotations

import json

from tests.document import response_problems

SALE = "/api/v1/sales/123"
ERROR = json.dumps({"error": "not_found", "message": "no such resource"}).encode()


def test_a_documented_response_passes() -> None:
    assert response_problems("GET", SALE, 404, "application/json", ERROR) == []
    assert response_problems("GET", "/metrics", 200, "text/plain; version=0.0.4", b"# HELP x\n") == []
    body = json.dumps({"error": "invalid_request", "message": "m", "field": "stock"}).encode()
    assert response_problems("PATCH", SALE, 422, "application/json", body) == []


def test_an_undocumented_status_or_media_type_fails() -> None:
    assert response_problems("GET", SALE, 500, "application/json", ERROR)
    assert response_problems("GET", SALE, 404, "text/html", b"<p>no</p>")


def test_a_body_off_its_schema_fails() -> None:
    assert response_problems("GET", SALE, 404, "application/json", b'{"error": "not_found"}')
    accepted = {"order_id": "12", "status": "shipped"}
    assert response_problems("POST", f"{SALE}/purchase", 202, "application/json", json.dumps(accepted).encode())


def test_unknown_paths_and_methods_have_no_operation_to_hold_them_to() -> None:
    assert response_problems("GET", "/nowhere", 404, "application/json", ERROR) == []
    assert response_problems("DELETE", SALE, 405, "application/json", ERROR) == []
