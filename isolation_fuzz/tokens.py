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
    "ALGORITHMS",
    "FORGERY_KINDS",
    "AuthConfig",
    "ForgeryKind",
    "forge_token",
    "mint_token",
]

Algorithm = Literal["HS256", "RS256", "ES256", "EdDSA"]
ALGORITHMS: Final[tuple[Algorithm, ...]] = get_args(Algorithm)

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

    `signing_key` is an HS256 secret or a PEM private key (RS256, ES256, EdDSA);
    `verify_key` is the same secret or the matching public key.  Both are excluded
    from the repr.  The claims are the fuzzer's unless the system declares its own
    (issue 20): `subject_claim` names the claim that holds the user id, `issuer` or
    `audience` of None leaves that claim out (and the forgery that targets it: a
    system that checks no audience has no audience to get wrong), and `claims` adds
    fixed claims, where ``{user}`` in a string value stands for the user id.
    """

    algorithm: Algorithm = "HS256"
    issuer: str | None = "isolation-fuzz"
    audience: str | None = "agent-platform"
    signing_key: str = field(default="", repr=False)
    verify_key: str = field(default="", repr=False)
    subject_claim: str = "sub"
    claims: tuple[tuple[str, Any], ...] = ()
    lifetime: int = TOKEN_LIFETIME_SECONDS

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise UsageError(
                f"unsupported JWT algorithm {self.algorithm!r}: use one of "
                f"{', '.join(ALGORITHMS)}"
            )
        if not self.signing_key or not self.verify_key:
            raise UsageError(
                "AuthConfig needs a signing_key and a verify_key: use AuthConfig.generate()"
            )
        if not self.subject_claim:
            raise UsageError("AuthConfig.subject_claim is empty; name the claim of the user id")

    @classmethod
    def generate(cls, algorithm: Algorithm = "HS256", **settings: Any) -> AuthConfig:
        """A fresh configuration with a random key that exists only in this process."""
        if algorithm == "HS256":
            secret = _secrets.token_urlsafe(32)
            return cls(algorithm, signing_key=secret, verify_key=secret, **settings)
        signing, verify = _key_pair(algorithm)
        return cls(algorithm, signing_key=signing, verify_key=verify, **settings)

    @property
    def forgeries(self) -> tuple[ForgeryKind, ...]:
        """The forgery kinds that make sense against this configuration, in fixed order."""
        absent = {"wrong_audience"} if self.audience is None else set()
        if self.issuer is None:
            absent.add("wrong_issuer")
        return tuple(kind for kind in FORGERY_KINDS if kind not in absent)

    def secrets(self) -> tuple[str, ...]:
        """Every secret string a report must never contain."""
        return tuple({self.signing_key, self.verify_key} - {""})


def _key_pair(algorithm: str) -> tuple[str, str]:
    """A new PEM private key and its PEM public key for an asymmetric algorithm."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    private: Any
    if algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    signing = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    verify = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode()
    return signing, verify


def _claims(config: AuthConfig, user_id: str, now: float) -> dict[str, Any]:
    claims: dict[str, Any] = {config.subject_claim: user_id}
    if config.issuer is not None:
        claims["iss"] = config.issuer
    if config.audience is not None:
        claims["aud"] = config.audience
    claims.update({"iat": int(now), "nbf": int(now) - 5, "exp": int(now) + config.lifetime})
    for name, value in config.claims:
        claims[name] = value.replace("{user}", user_id) if isinstance(value, str) else value
    return claims


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
        other = AuthConfig.generate(
            config.algorithm, issuer=config.issuer, audience=config.audience,
            subject_claim=config.subject_claim, claims=config.claims,
        )
        return mint_token(other, user_id, now=at)
    if kind == "alg_none":
        return _unsigned({"alg": "none", "typ": "JWT"}, claims)
    if kind == "expired":
        claims["exp"] = int(at) - 600
        claims["iat"] = claims["nbf"] = int(at) - 4000
    elif kind == "not_yet_valid":
        claims["nbf"] = int(at) + 3600
    elif kind == "wrong_audience":
        claims["aud"] = (config.audience or "") + "-other"
    elif kind == "wrong_issuer":
        claims["iss"] = (config.issuer or "") + "-other"
    elif kind == "missing_sub":
        del claims[config.subject_claim]
    elif kind == "tampered_sub":
        head, _, rest = mint_token(config, user_id, now=at).partition(".")
        _, _, signature = rest.partition(".")
        # The claims must change, or the original signature would still be valid.
        if other_user_id is None or other_user_id == user_id:
            other_user_id = user_id + "x"
        claims[config.subject_claim] = other_user_id
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{head}.{body}.{signature}"
    elif kind == "garbage":
        return "not-a-jwt." + _secrets.token_urlsafe(8)
    else:
        raise UsageError(f"unknown forgery kind {kind!r}: choose one of {FORGERY_KINDS}")
    return jwt.encode(claims, config.signing_key, algorithm=config.algorithm)
