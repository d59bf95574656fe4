"""RFC 3339 times: parse strictly (a full date, `T`, a time and an offset), print in UTC with Z and milliseconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from app.domain.errors import InvalidRequest

# RFC 3339's date-time (section 5.6) and nothing else: no ISO 8601 week or ordinal dates, no basic format, no
# space for the `T`, no `+0000` or `+00` offsets. Fractions of a second take 1 to 9 digits (nanoseconds at most).
# The API's document carries this same pattern (valid in JSON Schema's regex dialect too), so a client sees the rule.
RFC3339 = (
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_PARTS = re.compile(RFC3339)
EARLIEST, LATEST = 1970, 9999  # years the stores can hold (the database's DATETIME ends with 9999)
EXAMPLE = "2026-11-25T12:00:00Z"


def parse_rfc3339(value: object, field: str) -> datetime:
    """The moment `value` names, in UTC; InvalidRequest (422, naming `field`) for anything else."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be an RFC 3339 time string (e.g. {EXAMPLE})", field=field)
    found = _PARTS.fullmatch(value)
    if found is None:
        raise InvalidRequest(
            f"{field} is not an RFC 3339 time: it needs a date, T, a time and an offset (e.g. {EXAMPLE})",
            field=field,
        )
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = found.groups()
    try:
        offset = timedelta(0)
        if sign is not None:
            if int(off_h) > 23 or int(off_m) > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((fraction or "0").ljust(6, "0")[:6]), tzinfo=timezone(offset),
        )  # fmt: skip
        moment = local.astimezone(UTC)
    except (ValueError, OverflowError):  # 2026-02-30, 25:00, a leap second, or a moment past year 9999 in UTC
        raise InvalidRequest(f"{field} is not a real moment: {value}", field=field) from None
    if not EARLIEST <= moment.year <= LATEST:
        raise InvalidRequest(f"{field} must lie between the years {EARLIEST} and {LATEST}", field=field)
    return moment


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


_EPOCH = datetime(1970, 1, 1)


@lru_cache(maxsize=4096)
def _db_second(second: int) -> str:
    return (_EPOCH + timedelta(seconds=second)).isoformat(sep=" ")


def db_time_ms(ms: int) -> str:
    """Milliseconds since the epoch as the text of a UTC DATETIME(3) value ('YYYY-MM-DD HH:MM:SS.mmm'): what the
    driver would send for naive_utc(from_ms(ms)), built without a datetime per value and without the driver's
    datetime escaping (the order writer's per-order cost). OverflowError for a time no datetime holds."""
    return f"{_db_second(ms // 1000)}.{ms % 1000:03d}"


def naive_utc(value: datetime) -> datetime:
    """The database stores UTC without an offset."""
    return value.astimezone(UTC).replace(tzinfo=None)


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
