"""Bearer tokens on protected endpoints: who is calling, and whether they are an admin."""

from __future__ import annotations

from starlette.requests import Request

from app.domain.errors import Forbidden, Unauthorized
from app.infrastructure.tokens import Principal


def principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required")
    return request.app.state.container.tokens.verify(token.strip())


def admin(request: Request) -> Principal:
    who = principal(request)
    if not who.is_admin:
        raise Forbidden("this action needs the admin role")
    return who
