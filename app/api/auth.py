"""Bearer tokens on protected endpoints: who is calling, and whether they are an admin."""

from __future__ import annotations

from starlette.requests import Request

from app.domain.errors import Forbidden, Unauthorized
from app.infrastructure.tokens import Principal, TokenService


def principal(request: Request) -> Principal:
    return bearer(request.headers.get("authorization", ""), request.app.state.container.tokens)


def bearer(header: str, tokens: TokenService) -> Principal:
    """The caller named by an `Authorization` header's value, checked by `tokens` (the container's)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required")
    return tokens.verify(token.strip())


def admin(request: Request) -> Principal:
    who = principal(request)
    if not who.is_admin:
        raise Forbidden("this action needs the admin role")
    return who
