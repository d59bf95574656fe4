"""POST /users and POST /auth/token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from app.api.schema import PASSWORD, USERNAME, json_body, validate
from app.bootstrap import Container
from app.domain.errors import RateLimited

CREDENTIALS = {"username": USERNAME, "password": PASSWORD}


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


async def register(request: Request) -> JSONResponse:
    data = validate(await json_body(request), CREDENTIALS)
    await _limit_logins(request, data["username"])
    user_id = await _container(request).accounts.register(data["username"], data["password"])
    return JSONResponse({"id": user_id, "username": data["username"]}, status_code=201)


async def issue_token(request: Request) -> JSONResponse:
    data = validate(await json_body(request), CREDENTIALS)
    await _limit_logins(request, data["username"])
    issued = await _container(request).accounts.login(data["username"], data["password"])
    return JSONResponse({"access_token": issued.access_token, "token_type": "bearer", "expires_in": issued.expires_in})
