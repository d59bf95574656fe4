"""JWT access tokens: HS256 only, claims sub, role, exp."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import jwt

from app.domain.errors import Unauthorized
from app.infrastructure.hs256 import fast_claims
from app.infrastructure.token_cache import VerifiedTokens

ROLES = ("user", "admin")
# A user id is any short printable string without separators (identity may come from an external provider).
SUBJECT = re.compile(r"[A-Za-z0-9_.@:+-]{1,64}")
# Verified tokens kept per process (a retrying shopper's next request skips the signature check): about 0.5 KiB
# each, so at most ~16 MiB.
VERIFIED_CACHE_SIZE = 32_768


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class TokenService:
    def __init__(self, secret: str, ttl_seconds: int, cache_size: int = VERIFIED_CACHE_SIZE) -> None:
        self._secret = secret
        self._key = secret.encode()
        self.ttl_seconds = ttl_seconds
        self._verified: VerifiedTokens[Principal] = VerifiedTokens(cache_size)

    def issue(self, user_id: str, role: str, ttl_seconds: int | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if not SUBJECT.fullmatch(user_id):
            raise ValueError("user id must be 1-64 characters of [A-Za-z0-9_.@:+-]")
        now = int(time.time())
        claims = {"sub": user_id, "role": role, "iat": now, "exp": now + (ttl_seconds or self.ttl_seconds)}
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            return known
        if len(token) > 4096:
            raise Unauthorized("token too long")
        claims = fast_claims(token, self._key)
        if claims is None:
            claims = self._decode(token)
        sub, role = claims.get("sub"), claims.get("role")
        if not isinstance(sub, str) or not SUBJECT.fullmatch(sub) or role not in ROLES:
            raise Unauthorized("invalid token claims")
        who = Principal(user_id=sub, role=role)
        self._verified.put(token, who, float(claims["exp"]))
        return who

    def _decode(self, token: str) -> dict:
        try:
            claims: dict = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"require": ["sub", "exp", "role"]}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        return claims
