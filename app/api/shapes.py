"""Every request and response body of the API, once: msgspec Structs from which come the validation (app/api/bodies.py),
the JSON of the responses and the OpenAPI document's components (app/api/openapi.py).

Requests are strict: exact JSON types (a bool is not an integer, 2.0 is not 2), bounds on every value, unknown
fields refused. An optional field may be absent or null; both mean its default. Patterns end in `\\Z` (the end of the
text): Python's `$` also matches before a final newline; the document writes them with JSON Schema's `$`."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from app.domain.timefmt import RFC3339

MAX_BODY = 16 * 1024
MONEY_MAX = 1_000_000_000
ID_PATTERN = r"^[0-9]{1,19}\Z"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,64}\Z"


def _whole(pattern: str) -> str:
    return f"^(?:{pattern})\\Z"


Id = Annotated[str, Meta(pattern=ID_PATTERN, description="a decimal id", examples=["7390418229395603456"])]
Money = Annotated[int, Meta(ge=0, le=MONEY_MAX, description="integer cents")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Stock = Annotated[int, Meta(ge=1, le=10_000_000)]
Time = Annotated[
    str,
    Meta(
        pattern=_whole(RFC3339),
        description="RFC 3339 with an offset; the API answers in UTC with Z and milliseconds",
        examples=["2026-11-25T12:00:00Z"],
        extra_json_schema={"format": "date-time"},
    ),
]
HttpUrl = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=2048,
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+([/?#]\S*)?\Z",
        # The pattern is the whole rule (no `format: uri`: the API takes any non-space text after the host, as it
        # always has, IRIs included).
        description="an http or https URL",
        examples=["https://example.com/widget.png"],
    ),
]
Username = Annotated[str, Meta(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+\Z", examples=["alice"])]
Password = Annotated[str, Meta(min_length=8, max_length=128, examples=["correct-horse-battery"])]


class Strict(Struct, forbid_unknown_fields=True):
    """A request body."""


# --- requests ---------------------------------------------------------------------------------------------------


class Credentials(Strict):
    """A username and password (registration and sign-in)."""

    username: Username
    password: Password


class NewCommodity(Strict):
    """A commodity to create (admin)."""

    name: Name
    price_cents: Money
    description: Annotated[str, Meta(max_length=4000)] | None = None
    image_url: HttpUrl | None = None


class NewSale(Strict):
    """A sale to create (admin); `ends_at` must come after `starts_at`."""

    commodity_id: Id
    name: Name
    price_cents: Money
    stock: Stock
    starts_at: Time
    ends_at: Time
    per_user_limit: Annotated[int, Meta(ge=1, le=1000)] | None = 1
    payment_timeout_seconds: Annotated[int, Meta(ge=1, le=86_400)] | None = 900


class SaleChange(Strict):
    """Pause or resume a sale, or change its stock (never below what is sold); absent or null changes nothing."""

    paused: bool | None = None
    stock: Stock | None = None


class Purchase(Strict):
    """A purchase; an empty body buys one unit."""

    quantity: Annotated[int, Meta(ge=1, le=100)] | None = 1


# --- responses --------------------------------------------------------------------------------------------------


class Error(Struct, omit_defaults=True):
    """Every error: a code, a message for a person, and on a 422 the field that broke a rule, where one did."""

    error: str
    message: str
    field: str | None = None


class User(Struct):
    id: str
    username: str


class Token(Struct):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class Commodity(Struct):
    id: Id
    name: str
    description: str | None
    price_cents: Money
    image_url: str | None
    created_at: Time


class Sale(Struct):
    id: Id
    commodity_id: Id
    name: str
    price_cents: Money
    stock: int
    stock_left: int
    starts_at: Time
    ends_at: Time
    per_user_limit: int
    payment_timeout_seconds: int
    status: Literal["scheduled", "active", "sold_out", "ended"]
    preheated: bool
    paused: bool
    server_time: Time


class Accepted(Struct):
    """A purchase taken: the order's id and its real status (`pending` with strategy redis, `created` with db)."""

    order_id: Id
    status: Literal["pending", "created"]


class Order(Struct):
    id: Id
    sale_id: Id
    user_id: str
    quantity: int
    amount_cents: Money
    status: Literal["pending", "created", "paying", "paid", "cancelled"]
    created_at: Time
    paid_at: Time | None
    expires_at: Time | None
    cancel_reason: Literal["timeout", "user"] | None


class CommodityPage(Struct):
    """Newest first; `next_cursor` is the last id of a full page."""

    items: list[Commodity]
    next_cursor: Id | None


class SalePage(Struct):
    """Newest first; `next_cursor` is the last id of a full page."""

    items: list[Sale]
    next_cursor: Id | None


class OrderPage(Struct):
    """Newest first; `next_cursor` is the last id of a full page."""

    items: list[Order]
    next_cursor: Id | None


class Health(Struct):
    status: Literal["ok"]


class Readiness(Struct):
    """Each store the purchase path needs, up or down."""

    status: Literal["ready", "not_ready"]
    dependencies: dict[str, Literal["up", "down"]]
