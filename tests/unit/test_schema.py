"""Request validation: exact types (a bool is not an int), unknown fields refused, bounds enforced."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.api.routes_purchase import BODY as PURCHASE
from app.api.schema import Field, validate
from app.domain.errors import InvalidRequest

SPEC = {
    "quantity": Field("int", required=False, lo=1, hi=100, default=1),
    "name": Field("str", lo=1, hi=5),
    "paused": Field("bool", required=False),
    "code": Field("str", required=False, lo=1, hi=10, pattern=re.compile(r"[a-z]+")),
    "image_url": Field("url", required=False, lo=1, hi=100),
    "starts_at": Field("time", required=False),
}


def refused(data: Any, spec: dict[str, Field] = SPEC) -> str:
    with pytest.raises(InvalidRequest) as caught:
        validate(data, spec)
    assert caught.value.status == 422 and caught.value.code == "invalid_request"
    return caught.value.message


def test_valid_body_with_defaults() -> None:
    assert validate({"name": "abc"}, SPEC) == {
        "quantity": 1,
        "name": "abc",
        "paused": None,
        "code": None,
        "image_url": None,
        "starts_at": None,
    }
    out = validate(
        {"name": "a", "quantity": 100, "paused": False, "code": "xyz", "image_url": "https://e.com/x.png"},
        SPEC,
    )
    assert out["quantity"] == 100 and out["paused"] is False and out["code"] == "xyz"


@pytest.mark.parametrize("value", [True, False, "2", 2.0, 1.5, [1], {"n": 1}])
def test_int_field_takes_exact_integers_only(value: Any) -> None:
    assert "quantity" in refused({"name": "a", "quantity": value})


@pytest.mark.parametrize("value", [0, -1, 101, 10**20])
def test_int_bounds(value: int) -> None:
    assert "between 1 and 100" in refused({"name": "a", "quantity": value})


@pytest.mark.parametrize("value", [1, 100])
def test_int_bounds_are_inclusive(value: int) -> None:
    assert validate({"name": "a", "quantity": value}, SPEC)["quantity"] == value


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_bool_field_takes_only_booleans(value: Any) -> None:
    if value is None:  # an optional field given null takes its default
        assert validate({"name": "a", "paused": None}, SPEC)["paused"] is None
    else:
        refused({"name": "a", "paused": value})


def test_unknown_fields_are_named() -> None:
    message = refused({"name": "a", "quantiy": 2, "extra": 1})
    assert "extra" in message and "quantiy" in message


def test_required_field_missing_or_null() -> None:
    assert "name" in refused({})
    refused({"name": None})


@pytest.mark.parametrize("data", [[], "x", 3, None, True])
def test_body_must_be_an_object(data: Any) -> None:
    refused(data)


def test_string_length_pattern_and_url() -> None:
    refused({"name": ""})
    refused({"name": "abcdef"})
    refused({"name": 5})
    refused({"name": "a", "code": "ABC"})
    refused({"name": "a", "image_url": "ftp://e.com/x"})
    refused({"name": "a", "image_url": "https://"})
    refused({"name": "a", "image_url": "javascript:alert(1)"})


def test_time_field_requires_an_offset() -> None:
    refused({"name": "a", "starts_at": "2026-11-25T12:00:00"})
    assert validate({"name": "a", "starts_at": "2026-11-25T12:00:00Z"}, SPEC)["starts_at"].tzinfo is not None


def test_purchase_body_spec() -> None:
    assert validate({}, PURCHASE) == {"quantity": 1}
    assert validate({"quantity": 3}, PURCHASE) == {"quantity": 3}
    for bad in ({"quantity": "2"}, {"quantity": True}, {"quantity": 0}, {"quantity": 101}, {"qty": 1}):
        refused(bad, PURCHASE)
