"""RFC 3339 times: an offset is required on input; output is UTC with Z and milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.errors import InvalidRequest
from app.domain.timefmt import format_time, from_ms, parse_rfc3339, to_ms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T12:00:00Z", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25T12:00:00z", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25T12:00:00.250Z", datetime(2026, 11, 25, 12, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-11-25T14:00:00+02:00", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25T07:30:00-04:30", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25T12:00:00+00:00", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
    ],
)
def test_parse_with_offset(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text, "starts_at")
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-25T12:00:00",  # no offset
        "2026-11-25T12:00:00.123",
        "2026-11-25",  # a date only
        "2026-11-25 12:00",
        "tomorrow at noon",
        "",
        "2026-13-01T00:00:00Z",
        "0001-01-01T00:00:00Z",  # out of range
        1764072000,
        None,
        ["2026-11-25T12:00:00Z"],
    ],
)
def test_parse_refuses_anything_without_a_full_time_and_offset(value: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_rfc3339(value, "starts_at")
    assert caught.value.status == 422
    assert caught.value.code == "invalid_request"
    assert "starts_at" in caught.value.message


def test_format_is_utc_with_z_and_milliseconds() -> None:
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000Z"
    east = timezone(timedelta(hours=5, minutes=30))
    assert format_time(datetime(2026, 1, 2, 8, 34, 5, 1_000, tzinfo=east)) == "2026-01-02T03:04:05.001Z"
    # The database hands back naive UTC.
    assert format_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"
    assert format_time(None) is None


def test_formatted_output_parses_back_and_milliseconds_round_trip() -> None:
    moment = datetime(2026, 11, 25, 12, 0, 0, 123_000, tzinfo=UTC)
    assert parse_rfc3339(format_time(moment), "t") == moment
    assert from_ms(to_ms(moment)) == moment
    assert to_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1000
