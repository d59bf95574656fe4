"""Tokens: HS256 only, the required claims, expiry."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from app.domain.errors import Unauthorized
from app.infrastructure.tokens import Principal, TokenService

SECRET = "s" * 40


def test_issue_and_verify() -> None:
    service = TokenService(SECRET, 60)
    token = service.issue("alice", "admin")
    assert service.verify(token) == Principal("alice", "admin")


def test_a_token_expires() -> None:
    service = TokenService(SECRET, 60)
    token = service.issue("bob", "user", ttl_seconds=1)
    assert service.verify(token).user_id == "bob"
    time.sleep(1.1)
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(token)


def test_other_secrets_algorithms_and_claims_are_refused() -> None:
    service = TokenService(SECRET, 60)
    now = int(time.time())
    forged = jwt.encode({"sub": "eve", "role": "admin", "exp": now + 60}, "x" * 40, algorithm="HS256")
    with pytest.raises(Unauthorized):
        service.verify(forged)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps({"sub": "eve", "role": "admin", "exp": now + 60}).encode()).rstrip(b"=")
    with pytest.raises(Unauthorized):
        service.verify(f"{header.decode()}.{body.decode()}.")
    for claims in ({"sub": "eve", "exp": now + 60}, {"sub": "eve", "role": "root", "exp": now + 60}):
        with pytest.raises(Unauthorized):
            service.verify(jwt.encode(claims, SECRET, algorithm="HS256"))


def test_a_verified_token_is_remembered_and_a_forgery_never_matches_it() -> None:
    service = TokenService(SECRET, 60)
    token = service.issue("carol", "user")
    assert service.verify(token) == service.verify(token) == Principal("carol", "user")
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(Unauthorized):
        service.verify(f"{head}.{body}.{flipped}")


def test_without_a_cache_every_token_is_checked() -> None:
    service = TokenService(SECRET, 60, cache_size=0)
    token = service.issue("dave", "user")
    assert service.verify(token).user_id == "dave"
    assert service.verify(token).user_id == "dave"
