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


def left_to_pyjwt(case: str) -> str:
    """A token of `case`, minted now (a token minted at import could expire before a long run reaches it)."""
    now = int(time.time())
    claims: dict[str, dict] = {
        "another key": {"sub": "eve", "role": "admin", "exp": now + 600},
        "another header": {"sub": "eve", "role": "user", "exp": now + 600},
        "another claim": {"sub": "eve", "role": "user", "exp": now + 600, "nbf": now},
        "an audience": {"sub": "eve", "role": "user", "exp": now + 600, "aud": "x"},
        "a float exp": {"sub": "eve", "role": "user", "exp": now + 600.5},
        "a string exp": {"sub": "eve", "role": "user", "exp": str(now + 600)},
        "expired": {"sub": "eve", "role": "user", "exp": now - 1},
        "issued in the future": {"sub": "eve", "role": "user", "exp": now + 600, "iat": now + 300},
        "no role": {"sub": "eve", "exp": now + 600},
        "a number as subject": {"sub": 7, "role": "user", "exp": now + 600},
    }
    if case == "another key":
        return _sign(claims[case], key="k" * 40)
    if case == "another header":
        return _sign(claims[case], headers={"kid": "1"})
    return _sign(claims[case])


CASES = [
    "a float exp", "a number as subject", "a string exp", "an audience", "another claim", "another header",
    "another key", "expired", "issued in the future", "no role",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_anything_else_is_left_to_pyjwt(case: str) -> None:
    assert fast_claims(left_to_pyjwt(case), KEY) is None


def test_a_tampered_signature_or_payload_is_left_to_pyjwt() -> None:
    token = TokenService(SECRET, 60).issue("alice", "user")
    head, body, sig = token.split(".")
    other = TokenService(SECRET, 60).issue("mallory", "admin").split(".")[1]
    for forged in (f"{head}.{body}.{sig[:-1]}", f"{head}.{other}.{sig}", f"{head}.{body}.{sig}=", f"{head}.{body}"):
        assert fast_claims(forged, KEY) is None
        assert _pyjwt(forged) is None or forged.endswith("=")  # PyJWT may read padding; the fast path never does


def test_exp_is_expired_at_the_same_instant_as_pyjwt_says() -> None:
    now = int(time.time())
    token = _sign({"sub": "eve", "role": "user", "exp": now + 10})
    assert fast_claims(token, KEY, now=now + 9.999) is not None
    assert fast_claims(token, KEY, now=now + 10) is None


def test_a_refused_token_still_gets_pyjwts_answer() -> None:
    from app.domain.errors import Unauthorized

    service = TokenService(SECRET, 60, cache_size=0)
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(left_to_pyjwt("expired"))
    with pytest.raises(Unauthorized, match="invalid token"):
        service.verify(left_to_pyjwt("another key"))
    assert service.verify(left_to_pyjwt("another header")).user_id == "eve"  # valid, just not the fast shape
