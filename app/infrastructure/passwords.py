"""Password hashing with argon2id (argon2-cffi), bounded per process.

argon2 costs tens of milliseconds of CPU on purpose. `PasswordWork` runs it in threads, at most
`concurrency` at once, with a few requests allowed to wait for a slot; beyond that it refuses at once
(503 `unavailable`, Retry-After), so sign-ups and sign-ins can never take every core from purchases."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.errors import Unavailable

_hasher = PasswordHasher()
T = TypeVar("T")
WAITING_PER_SLOT = 4  # requests that may queue for each slot before the next one is refused


@functools.cache
def _dummy() -> str:
    """Verifying against this keeps an unknown username as slow as a wrong password."""
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordWork:
    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._limit = concurrency * (1 + WAITING_PER_SLOT)
        self._admitted = 0  # hashing now or waiting for a slot

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        if self._admitted >= self._limit:
            raise Unavailable("too many sign-ups and sign-ins are being checked at once; try again shortly")
        self._admitted += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work, *args)
        finally:
            self._admitted -= 1

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await self._run(verify_password, password_hash, password)
