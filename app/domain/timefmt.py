"""RFC 3339 times: parse with a required offset, print in UTC with Z and milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.errors import InvalidRequest


def parse_rfc3339(value: object, field: str) -> datetime:
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise InvalidRequest(f"{field} must be an RFC 3339 time string")
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{field} is not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None or "T" not in text.upper():
        raise InvalidRequest(f"{field} needs a date, a time and an offset (e.g. 2026-11-25T12:00:00Z)")
    if not 1970 <= parsed.year <= 9999:
        raise InvalidRequest(f"{field} is out of range")
    return parsed.astimezone(UTC)


def format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def naive_utc(value: datetime) -> datetime:
    """The database stores UTC without an offset."""
    return value.astimezone(UTC).replace(tzinfo=None)


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
