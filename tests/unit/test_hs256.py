"""The HS256 fast path accepts only what PyJWT accepts, and gives the same claims; everything else is left to
PyJWT (None)."""

from __future__ import annotations

import time

import jwt
import pytest

from app.infrastructure.hs256 import HEADER_SEGMENT, fast_claims
from app.infrastructure.tokens import TokenService

SECRET = "h" * 40
KEY = SECRET.encode()


def _pyjwt(token: str) -> dict | None:
    try:
        claims: dict = jwt.decode(token, SECRET, algorithms=["HS256"], options={"require": ["sub", "exp", "role"]})
    except jwt.PyJWTError:
        return None
    return claims


def test_the_header_is_the_one_pyjwt_writes() -> None:
    token = TokenService(SECRET, 60).issue("alice", "user")
    assert token.split(".")[0] == HEADER_SEGMENT


def test_an_issued_token_takes_the_fast_path_with_pyjwts_claims() -> None:
    token = TokenService(SECRET, 60).issue("alice", "admin")
    assert fast_claims(token, KEY) == _pyjwt(token)


def _sign(claims: dict, key: str = SECRET, headers: dict | None = None) -> str:
    return jwt.encode(claims, key, algorithm="HS256", headers=headers)


NOW = int(time.time())
LEFT_TO_PYJWT = {
    "another key": _sign({"sub": "eve", "role": "admin", "exp": NOW + 60}, key="k" * 40),
    "another header": _sign({"sub": "eve", "role": "user", "exp": NOW + 60}, headers={"kid": "1"}),
    "another claim": _sign({"sub": "eve", "role": "user", "exp": NOW + 60, "nbf": NOW}),
    "an audience": _sign({"sub": "eve", "role": "user", "exp": NOW + 60, "aud": "x"}),
    "a float exp": _sign({"sub": "eve", "role": "user", "exp": NOW + 60.5}),
    "a string exp": _sign({"sub": "eve", "role": "user", "exp": str(NOW + 60)}),
    "expired": _sign({"sub": "eve", "role": "user", "exp": NOW - 1}),
    "issued in the future": _sign({"sub": "eve", "role": "user", "exp": NOW + 600, "iat": NOW + 300}),
    "no role": _sign({"sub": "eve", "exp": NOW + 60}),
    "a number as subject": _sign({"sub": 7, "role": "user", "exp": NOW + 60}),
}


@pytest.mark.parametrize("case", sorted(LEFT_TO_PYJWT))
def test_anything_else_is_left_to_pyjwt(case: str) -> None:
    assert fast_claims(LEFT_TO_PYJWT[case], KEY) is None


def test_a_tampered_signature_or_payload_is_left_to_pyjwt() -> None:
    token = TokenService(SECRET, 60).issue("alice", "user")
    head, body, sig = token.split(".")
    other = TokenService(SECRET, 60).issue("mallory", "admin").split(".")[1]
    for forged in (f"{head}.{body}.{sig[:-1]}", f"{head}.{other}.{sig}", f"{head}.{body}.{sig}=", f"{head}.{body}"):
        assert fast_claims(forged, KEY) is None
        assert _pyjwt(forged) is None or forged.endswith("=")  # PyJWT may read padding; the fast path never does


def test_exp_is_expired_at_the_same_instant_as_pyjwt_says() -> None:
    token = _sign({"sub": "eve", "role": "user", "exp": NOW + 10})
    assert fast_claims(token, KEY, now=NOW + 9.999) is not None
    assert fast_claims(token, KEY, now=NOW + 10) is None


def test_a_refused_token_still_gets_pyjwts_answer() -> None:
    from app.domain.errors import Unauthorized

    service = TokenService(SECRET, 60, cache_size=0)
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(LEFT_TO_PYJWT["expired"])
    with pytest.raises(Unauthorized, match="invalid token"):
        service.verify(LEFT_TO_PYJWT["another key"])
    assert service.verify(LEFT_TO_PYJWT["another header"]).user_id == "eve"  # valid, just not the fast shape
