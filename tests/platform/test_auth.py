"""Real JWTs: valid ones name their user, every forgery is rejected without echoing it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from isolation_fuzz.errors import AuthError
from isolation_fuzz.platform.auth import Authenticator
from isolation_fuzz.tokens import (
    FORGERY_KINDS,
    AuthConfig,
    ForgeryKind,
    forge_token,
    mint_token,
)

# What each forgery must be rejected for: a wrong reason means a check passed by luck.
EXPECTED_REASON: dict[ForgeryKind, str] = {
    "wrong_signature": "signature",
    "alg_none": "algorithm",
    "expired": "expired",
    "wrong_audience": "audience",
    "wrong_issuer": "issuer",
    "tampered_sub": "signature",
    "missing_sub": "'sub'",
    "not_yet_valid": "not valid yet",
    "garbage": "malformed",
}


@pytest.fixture(scope="module", params=["HS256", "RS256"])
def config(request: pytest.FixtureRequest) -> AuthConfig:
    return AuthConfig.generate(request.param)


@pytest.mark.parametrize("user", ["u1", "u10", "a:b", "x*", "%", "É", "user with space"])
def test_a_valid_token_names_its_user(config: AuthConfig, user: str) -> None:
    assert Authenticator(config).authenticate(mint_token(config, user)) == user


def test_every_forgery_kind_has_an_expected_reason() -> None:
    assert set(EXPECTED_REASON) == set(FORGERY_KINDS)


@pytest.mark.parametrize("kind", FORGERY_KINDS)
def test_every_forgery_is_rejected_for_its_reason(config: AuthConfig, kind: ForgeryKind) -> None:
    token = forge_token(config, kind, "u1", other_user_id="u10")
    with pytest.raises(AuthError) as info:
        Authenticator(config).authenticate(token)
    assert EXPECTED_REASON[kind] in info.value.reason
    for text in (info.value.reason, str(info.value), repr(info.value)):
        assert token not in text
        # Not even the signature part, the one piece that would let a reader replay it.
        signature = token.rpartition(".")[2]
        assert len(signature) < 8 or signature not in text


def test_tampering_with_ones_own_id_still_changes_the_token(config: AuthConfig) -> None:
    token = forge_token(config, "tampered_sub", "u1", other_user_id="u1")
    with pytest.raises(AuthError, match="signature"):
        Authenticator(config).authenticate(token)


def test_the_algorithm_is_pinned() -> None:
    hs = AuthConfig.generate("HS256")
    rs = AuthConfig.generate("RS256")
    with pytest.raises(AuthError, match="algorithm"):
        Authenticator(hs).authenticate(mint_token(rs, "u1"))
    with pytest.raises(AuthError, match="algorithm"):
        Authenticator(rs).authenticate(mint_token(hs, "u1"))


def test_rs256_public_key_used_as_hmac_secret_is_rejected() -> None:
    """The classic algorithm-confusion attack: HS256 signed with the RS256 public key."""
    rs = AuthConfig.generate("RS256")

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": "u10", "iss": rs.issuer, "aud": rs.audience, "exp": now + 60}
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(rs.verify_key.encode(), f"{head}.{body}".encode(), hashlib.sha256)
    with pytest.raises(AuthError, match="algorithm"):
        Authenticator(rs).authenticate(f"{head}.{body}.{b64(mac.digest())}")


@pytest.mark.parametrize("missing", ["exp", "iss", "aud", "sub"])
def test_required_claims(config: AuthConfig, missing: str) -> None:
    now = int(time.time())
    claims = {"sub": "u1", "iss": config.issuer, "aud": config.audience, "exp": now + 60}
    del claims[missing]
    token = jwt.encode(claims, config.signing_key, algorithm=config.algorithm)
    with pytest.raises(AuthError, match=f"'{missing}'"):
        Authenticator(config).authenticate(token)


@pytest.mark.parametrize("sub", ["", 7, None])
def test_sub_must_be_a_non_empty_string(config: AuthConfig, sub: object) -> None:
    now = int(time.time())
    claims = {"sub": sub, "iss": config.issuer, "aud": config.audience, "exp": now + 60}
    token = jwt.encode(claims, config.signing_key, algorithm=config.algorithm)
    with pytest.raises(AuthError, match="sub"):
        Authenticator(config).authenticate(token)


def test_an_empty_token_is_rejected(config: AuthConfig) -> None:
    with pytest.raises(AuthError, match="no token"):
        Authenticator(config).authenticate("")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("Basic abc", "Bearer"),
        ("Bearer ", "Bearer"),
        ("Bearer a b", "Bearer"),
        ("Bearer not-a-jwt", "malformed"),
    ],
)
def test_bad_headers(config: AuthConfig, header: str | None, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        Authenticator(config).authenticate_header(header)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_bearer_header(config: AuthConfig, scheme: str) -> None:
    header = f"{scheme}  {mint_token(config, 'u1')} "
    assert Authenticator(config).authenticate_header(header) == "u1"


def test_keys_are_not_in_the_repr(config: AuthConfig) -> None:
    assert config.signing_key not in repr(config)
    assert config.verify_key not in repr(config)
