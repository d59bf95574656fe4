"""A fast path for the one token shape this service issues: header {"alg":"HS256","typ":"JWT"}, claims sub, role,
iat and exp only, plain strings and integers.

It only ever ACCEPTS, and only what PyJWT would accept too: the exact header segment PyJWT writes, the signature
in its one canonical base64url form compared in constant time, then the same time checks PyJWT makes (expired
once exp <= now; refused while iat > now). Anything else (another header, another claim, a bad signature, an
expired token) returns None and the caller verifies with PyJWT, which gives the answer and its message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from jwt.utils import base64url_decode

HEADER = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
HEADER_SEGMENT = HEADER.rstrip(b"=").decode()
CLAIMS = frozenset({"sub", "role", "iat", "exp"})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def fast_claims(token: str, key: bytes, now: float | None = None) -> dict | None:
    """The token's claims when the fast path accepts it; None to leave the decision to PyJWT."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != HEADER_SEGMENT:
        return None
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", errors="replace")
    expected = base64.urlsafe_b64encode(hmac.new(key, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    if not hmac.compare_digest(expected, parts[2].encode("ascii", errors="replace")):
        return None
    try:
        claims = json.loads(base64url_decode(parts[1]))
    except ValueError:
        return None
    if not isinstance(claims, dict) or not {"sub", "role", "exp"} <= claims.keys() <= CLAIMS:
        return None
    if not isinstance(claims["sub"], str) or not isinstance(claims["role"], str) or not _is_int(claims["exp"]):
        return None
    moment = time.time() if now is None else now
    if claims["exp"] <= moment:
        return None
    if "iat" in claims and (not _is_int(claims["iat"]) or claims["iat"] > moment):
        return None
    return claims
