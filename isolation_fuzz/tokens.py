"""Identities: JWT signing configuration, minted and forged tokens.

Each fuzzed user has a distinct identity with its own real JWT. The signing key lives in
an `AuthConfig` whose repr hides it, and every string that leaves the fuzzer (progress,
reports, scenario files, error messages) passes through a
:class:`isolation_fuzz.redaction.Redactor`, so neither tokens nor keys are ever printed.
"""

from __future__ import annotations

import base64
import json
import secrets as _secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import jwt

from isolation_fuzz.errors import UsageError

__all__ = [
    "FORGERY_KINDS",
    "AuthConfig",
    "ForgeryKind",
    "forge_token",
    "mint_token",
]

Algorithm = Literal["HS256", "RS256"]

ForgeryKind = Literal[
    "wrong_signature",
    "alg_none",
    "expired",
    "wrong_audience",
    "wrong_issuer",
    "tampered_sub",
    "missing_sub",
    "not_yet_valid",
    "garbage",
]
FORGERY_KINDS: Final[tuple[ForgeryKind, ...]] = get_args(ForgeryKind)

TOKEN_LIFETIME_SECONDS: Final = 3600


@dataclass(frozen=True)
class AuthConfig:
    """How the system under test verifies tokens, and the key to mint them with.

    `signing_key` is an HS256 secret or an RS256 PEM private key; `verify_key` is the
    same secret or the matching public key. Both are excluded from the repr.
    """

    algorithm: Algorithm = "HS256"
    issuer: str = "isolation-fuzz"
    audience: str = "agent-platform"
    signing_key: str = field(default="", repr=False)
    verify_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.algorithm not in ("HS256", "RS256"):
            raise UsageError(
                f"unsupported JWT algorithm {self.algorithm!r}: use 'HS256' or 'RS256'"
            )
        if not self.signing_key or not self.verify_key:
            raise UsageError(
                "AuthConfig needs a signing_key and a verify_key: use AuthConfig.generate()"
            )

    @classmethod
    def generate(cls, algorithm: Algorithm = "HS256", **claims: str) -> AuthConfig:
        """A fresh configuration with a random key that exists only in this process."""
        if algorithm == "RS256":
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            signing = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            verify = (
                private.public_key()
                .public_bytes(
                    serialization.Encoding.PEM,
                    serialization.PublicFormat.SubjectPublicKeyInfo,
                )
                .decode()
            )
            return cls("RS256", signing_key=signing, verify_key=verify, **claims)
        secret = _secrets.token_urlsafe(32)
        return cls(algorithm, signing_key=secret, verify_key=secret, **claims)

    def secrets(self) -> tuple[str, ...]:
        """Every secret string a report must never contain."""
        return tuple({self.signing_key, self.verify_key} - {""})


def _claims(config: AuthConfig, user_id: str, now: float) -> dict[str, Any]:
    return {
        "sub": user_id,
        "iss": config.issuer,
        "aud": config.audience,
        "iat": int(now),
        "nbf": int(now) - 5,
        "exp": int(now) + TOKEN_LIFETIME_SECONDS,
    }


def mint_token(config: AuthConfig, user_id: str, *, now: float | None = None) -> str:
    """A valid token for `user_id`, signed with the configuration's key."""
    claims = _claims(config, user_id, time.time() if now is None else now)
    return jwt.encode(claims, config.signing_key, algorithm=config.algorithm)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{signature}"


def forge_token(
    config: AuthConfig,
    kind: ForgeryKind,
    user_id: str,
    *,
    other_user_id: str | None = None,
    now: float | None = None,
) -> str:
    """A token that a correct verifier must reject, forged in the way `kind` names.

    `tampered_sub` takes a valid token for `user_id` and rewrites its `sub` to
    `other_user_id` without re-signing: the classic impersonation attempt.
    """
    at = time.time() if now is None else now
    claims = _claims(config, user_id, at)
    if kind == "wrong_signature":
        other = AuthConfig.generate(config.algorithm, issuer=config.issuer,
                                    audience=config.audience)
        return mint_token(other, user_id, now=at)
    if kind == "alg_none":
        return _unsigned({"alg": "none", "typ": "JWT"}, claims)
    if kind == "expired":
        claims["exp"] = int(at) - 600
        claims["iat"] = claims["nbf"] = int(at) - 4000
    elif kind == "not_yet_valid":
        claims["nbf"] = int(at) + 3600
    elif kind == "wrong_audience":
        claims["aud"] = config.audience + "-other"
    elif kind == "wrong_issuer":
        claims["iss"] = config.issuer + "-other"
    elif kind == "missing_sub":
        del claims["sub"]
    elif kind == "tampered_sub":
        head, _, rest = mint_token(config, user_id, now=at).partition(".")
        _, _, signature = rest.partition(".")
        # The claims must change, or the original signature would still be valid.
        if other_user_id is None or other_user_id == user_id:
            other_user_id = user_id + "x"
        claims["sub"] = other_user_id
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{head}.{body}.{signature}"
    elif kind == "garbage":
        return "not-a-jwt." + _secrets.token_urlsafe(8)
    else:
        raise UsageError(f"unknown forgery kind {kind!r}: choose one of {FORGERY_KINDS}")
    return jwt.encode(claims, config.signing_key, algorithm=config.algorithm)
