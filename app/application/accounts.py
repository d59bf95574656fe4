"""Registering users and issuing their tokens."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import Conflict, InvalidCredentials
from app.infrastructure import sql_catalogue as sql
from app.infrastructure.db import Database, IntegrityError
from app.infrastructure.passwords import PasswordWork
from app.infrastructure.tokens import TokenService


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


class Accounts:
    def __init__(self, db: Database, tokens: TokenService, passwords: PasswordWork) -> None:
        self._db = db
        self._tokens = tokens
        self._passwords = passwords

    async def register(self, username: str, password: str, *, admin: bool = False) -> str:
        # Hashing is CPU-bound on purpose: off the event loop, and bounded per process (503 beyond).
        password_hash = await self._passwords.hash(password)
        try:
            async with self._db.transaction() as cur:
                user_id = await sql.insert_user(cur, username, password_hash, "admin" if admin else "user")
        except IntegrityError:
            raise Conflict(f"username {username!r} is taken", code="username_taken") from None
        return str(user_id)

    async def login(self, username: str, password: str) -> IssuedToken:
        async with self._db.transaction() as cur:
            user = await sql.user_by_name(cur, username)
        ok = await self._passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            raise InvalidCredentials("wrong username or password")
        token = self._tokens.issue(user.id, user.role)
        return IssuedToken(access_token=token, expires_in=self._tokens.ttl_seconds)
