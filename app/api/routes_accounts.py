"""POST /users and POST /auth/token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.api.bodies import Reply, decode
from app.api.schema import read_body
from app.api.shapes import Credentials, Token, User
from app.bootstrap import Container
from app.domain.errors import RateLimited


def _container(request: Request) -> Container:
    return request.app.state.container


async def _limit_logins(request: Request, username: str) -> None:
    """Sign-ups and sign-ins have a rate of their own, lower than purchases': each one costs a password hash."""
    c = _container(request)
    address = request.client.host if request.client else "unknown"
    if not await c.rates.allow("login-addr", address, c.settings.rate_limit_login):
        raise RateLimited("too many sign-in attempts from this address")
    if not await c.rates.allow("login-user", username, c.settings.rate_limit_login):
        raise RateLimited("too many sign-in attempts for this user")


async def register(request: Request) -> Response:
    body = decode(await read_body(request), Credentials)
    await _limit_logins(request, body.username)
    user_id = await _container(request).accounts.register(body.username, body.password)
    return Reply(User(id=user_id, username=body.username), status_code=201)


async def issue_token(request: Request) -> Response:
    body = decode(await read_body(request), Credentials)
    await _limit_logins(request, body.username)
    issued = await _container(request).accounts.login(body.username, body.password)
    return Reply(Token(access_token=issued.access_token, token_type="bearer", expires_in=issued.expires_in))
