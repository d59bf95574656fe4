"""RFC 3339 times: strict on input (a full date, T, a time, an offset; nothing else ISO 8601 allows); output is
UTC with Z and milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.errors import InvalidRequest
from app.domain.timefmt import db_time_ms, format_time, from_ms, naive_utc, parse_rfc3339, to_ms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T12:00:00Z", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25T12:00:00z", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25T12:00:00.250Z", datetime(2026, 11, 25, 12, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-11-25T14:00:00+02:00", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25T07:30:00-04:30", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25T12:00:00+00:00", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("2026-11-25t12:00:00-00:00", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),  # lower-case t, unknown offset
        ("2026-11-25T12:00:00.123456789Z", datetime(2026, 11, 25, 12, 0, 0, 123_456, tzinfo=UTC)),
        ("2026-11-25T12:00:00.1+23:59", datetime(2026, 11, 24, 12, 1, 0, 100_000, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999Z", datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
        ("2028-02-29T00:00:00Z", datetime(2028, 2, 29, tzinfo=UTC)),
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
        # ISO 8601 forms that are not RFC 3339
        "2026-W48-3T12:00:00Z",  # a week date
        "2026-329T12:00:00Z",  # an ordinal date
        "20261125T120000Z",  # the basic format
        "2026-11-25T120000Z",
        "2026-11-25T12:00:00+0000",  # an offset without its colon
        "2026-11-25T12:00:00+00",  # an offset of hours only
        "2026-11-25T12:00:00 +00:00",
        "2026-11-25 12:00:00Z",  # a space for the T
        "2026-11-25_12:00:00Z",
        "2026-11-25T12:00Z",  # no seconds
        "2026-11-25T12:00:00,5Z",  # a decimal comma
        "2026-11-25T12:00:00.Z",
        "2026-11-25T12:00:00.1234567890Z",  # finer than nanoseconds
        "+2026-11-25T12:00:00Z",  # an expanded year
        "26-11-25T12:00:00Z",
        " 2026-11-25T12:00:00Z",
        "2026-11-25T12:00:00Z\n",
        "2026-11-25T12:00:00UTC",
        "\uff12\uff10\uff12\uff16-11-25T12:00:00Z",  # digits of another script (fullwidth)
        # no such moment
        "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T12:60:00Z",
        "2026-11-25T12:00:60Z",  # a leap second (RFC 3339 allows it; a datetime cannot hold it)
        "2026-11-25T12:00:00+24:00",
        "2026-11-25T12:00:00+05:60",
        # past what the stores can hold
        "9999-12-31T23:59:59-00:01",  # year 10000 in UTC: an overflow, never a 500
        "0001-01-01T00:00:00+00:01",  # before year 1 in UTC
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",
    ],
)
def test_parse_refuses_anything_but_rfc_3339(value: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_rfc3339(value, "starts_at")
    assert caught.value.status == 422
    assert caught.value.code == "invalid_request"
    assert caught.value.field == "starts_at"
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


@pytest.mark.parametrize(
    "ms",
    [0, 1, 999, 1000, -1, -1001, 1_764_750_000_123, 1_764_750_000_000, 253_402_300_799_999, -30_610_224_000_000],
)
def test_the_database_text_of_a_time_names_the_same_moment_as_its_datetime(ms: int) -> None:
    text = db_time_ms(ms)
    assert len(text) == len("2026-12-03 08:00:00.123")
    assert datetime.fromisoformat(text) == datetime(1970, 1, 1) + timedelta(milliseconds=ms)  # exactly
    # what the datetime path sent (from_ms goes through a float: near the year 9999 it is off by microseconds)
    assert abs(datetime.fromisoformat(text) - naive_utc(from_ms(ms))) < timedelta(milliseconds=1)


def test_a_time_past_what_a_datetime_holds_has_no_database_text() -> None:
    with pytest.raises(OverflowError):
        db_time_ms(10**17)
