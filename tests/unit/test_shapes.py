"""Request bodies through their Structs: exact types (a bool is not an int), bounds, patterns, unknown fields
refused, null as absent; every 422 names the field and the rule it broke."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.api.bodies import check, decode
from app.api.shapes import Credentials, NewCommodity, NewSale, Purchase, SaleChange
from app.domain.errors import InvalidRequest

SALE = {
    "commodity_id": "42",
    "name": "Sale",
    "price_cents": 100,
    "stock": 10,
    "starts_at": "2026-11-25T12:00:00Z",
    "ends_at": "2026-11-25T13:00:00Z",
}


def refused(data: Any, shape: type, raw: bytes | None = None) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        decode(json.dumps(data).encode() if raw is None else raw, shape)
    assert caught.value.status == 422 and caught.value.code == "invalid_request"
    return caught.value


def test_valid_bodies_and_defaults() -> None:
    sale = decode(json.dumps(SALE).encode(), NewSale)
    assert (sale.per_user_limit, sale.payment_timeout_seconds, sale.commodity_id) == (1, 900, "42")
    assert decode(b"{}", Purchase).quantity == 1
    assert decode(b"", Purchase, empty_ok=True).quantity == 1
    assert decode(b'{"quantity": 100}', Purchase).quantity == 100
    commodity = decode(b'{"name": "a", "price_cents": 0, "image_url": "HTTPS://e.com/x.png?a=1#b"}', NewCommodity)
    assert commodity.image_url == "HTTPS://e.com/x.png?a=1#b" and commodity.description is None


@pytest.mark.parametrize("value", [True, False, "2", 2.0, 1.5, [1], {"n": 1}])
def test_integers_are_exact(value: Any) -> None:
    error = refused({"quantity": value}, Purchase)
    assert error.field == "quantity" and "expected `int" in error.message


@pytest.mark.parametrize(("value", "rule"), [(0, ">= 1"), (-1, ">= 1"), (101, "<= 100"), (10**20, "<= 100")])
def test_integer_bounds_name_the_rule(value: int, rule: str) -> None:
    error = refused({"quantity": value}, Purchase)
    assert error.field == "quantity" and rule in error.message, error.message


def test_null_means_absent_for_optional_fields_only() -> None:
    assert decode(b'{"quantity": null}', Purchase).quantity is None
    change = decode(b'{"paused": null, "stock": null}', SaleChange)
    assert (change.paused, change.stock) == (None, None)
    assert refused({**SALE, "name": None}, NewSale).field == "name"


@pytest.mark.parametrize("value", [1, 0, "true"])
def test_booleans_are_exact(value: Any) -> None:
    assert refused({"paused": value}, SaleChange).field == "paused"


def test_unknown_and_missing_fields_are_named() -> None:
    error = refused({"quantiy": 2}, Purchase)
    assert error.field == "quantiy" and "unknown field" in error.message
    error = refused({k: v for k, v in SALE.items() if k != "stock"}, NewSale)
    assert error.field == "stock" and "missing required field" in error.message


@pytest.mark.parametrize("data", [[], "x", 3, None, True])
def test_body_must_be_an_object(data: Any) -> None:
    error = refused(data, Purchase)
    assert error.field is None and "expected `object`" in error.message


@pytest.mark.parametrize(
    "raw",
    [b"{", b"NaN", b'{"name": "a", "price_cents": 1} x', '{"name": "é"}'.encode("latin-1"), '{"a": 1}'.encode("utf-16"),
     b'{"name": "a\\ud83d"}', b'{"\\udc00": 1}', b"[" * 5000 + b"]" * 5000],
)  # fmt: skip
def test_malformed_json_is_422_without_a_field(raw: bytes) -> None:
    error = refused(None, NewCommodity, raw=raw)
    assert error.field is None


def test_an_empty_body_is_refused_unless_allowed() -> None:
    assert refused(None, Credentials, raw=b"  ").field is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "ab"),
        ("username", "a" * 65),
        ("username", "has space"),
        ("username", "abc\n"),
        ("password", "short"),
        ("password", "p" * 129),
    ],
)
def test_credentials(field: str, value: str) -> None:
    good = {"username": "alice", "password": "long-enough"}
    assert refused({**good, field: value}, Credentials).field == field
    assert check(good, Credentials).username == "alice"


@pytest.mark.parametrize(
    "url", ["ftp://e.com/x", "https://", "javascript:alert(1)", "https://e.com/a b", "//e.com/x", "", "h" * 2049]
)
def test_image_url_is_an_http_or_https_url(url: str) -> None:
    assert refused({"name": "a", "price_cents": 1, "image_url": url}, NewCommodity).field == "image_url"


@pytest.mark.parametrize("value", ["", "12a", "-1", "1" * 20, "\u0661\u0662", " 12", "12\n"])
def test_commodity_id_is_a_decimal_id(value: str) -> None:
    assert refused({**SALE, "commodity_id": value}, NewSale).field == "commodity_id"


@pytest.mark.parametrize(
    "value", ["2026-11-25", "2026-11-25 12:00:00Z", "2026-W48-3T12:00:00Z", "20261125T120000Z", "2026-11-25T12:00Z"]
)
def test_times_must_be_rfc_3339_in_the_body(value: str) -> None:
    error = refused({**SALE, "starts_at": value}, NewSale)
    assert error.field == "starts_at" and "regex" in error.message


def test_lengths_and_ranges_of_a_sale() -> None:
    for field, value in [("name", ""), ("name", "n" * 201), ("stock", 0), ("stock", 10_000_001),
                         ("price_cents", -1), ("price_cents", 1_000_000_001), ("per_user_limit", 1001),
                         ("payment_timeout_seconds", 0), ("payment_timeout_seconds", 86_401)]:  # fmt: skip
        assert refused({**SALE, field: value}, NewSale).field == field
