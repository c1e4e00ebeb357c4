"""Authentication of the reference platform: who a JWT says the user is.

Verification pins the algorithm to the configured one (so ``alg: none`` and
algorithm-confusion tokens fail), requires and checks ``iss``, ``aud``, ``exp`` and
``sub``, honours ``nbf``, and takes the user id from ``sub``.  Every failure is an
`AuthError` whose reason is a fixed phrase chosen by the kind of failure, so it can
never repeat the token (pyjwt's own messages may quote decoded header fragments).

The whole cryptographic check lives in `Authenticator._decode`, the one seam a
seeded-bug variant overrides (``zoo.unverified_token`` skips the signature there).
"""

from __future__ import annotations

from typing import Any, Final

import jwt

from isolation_fuzz.errors import AuthError
from isolation_fuzz.tokens import AuthConfig

__all__ = ["REQUIRED_CLAIMS", "Authenticator"]

#: Claims a token must carry; a token without any of them is rejected.
REQUIRED_CLAIMS: Final = ("exp", "iss", "aud", "sub")

# Keyed by class name, looked up along the exception's MRO (most specific first), so
# pyjwt versions that lack a class (InvalidSubjectError is 2.10+) still work.
_REASONS: Final[dict[str, str]] = {
    "ExpiredSignatureError": "the token has expired",
    "ImmatureSignatureError": "the token is not valid yet (nbf)",
    "InvalidAudienceError": "the token is for another audience",
    "InvalidIssuerError": "the token is from another issuer",
    "InvalidAlgorithmError": "the token's algorithm is not the one configured",
    "InvalidSignatureError": "the token's signature does not verify",
    "InvalidSubjectError": "the token's user id (sub) is not a string",
    "InvalidIssuedAtError": "the token's issue time (iat) is invalid",
    "InvalidKeyError": "the configured key cannot verify this token",
    "DecodeError": "the token is malformed",
}


def _reason(exc: jwt.PyJWTError) -> str:
    """A fixed description of why pyjwt refused a token (never its message)."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        # `claim` is one of REQUIRED_CLAIMS, a name we chose, not token content.
        return f"the token has no {exc.claim!r} claim"
    for cls in type(exc).__mro__:
        if cls.__name__ in _REASONS:
            return _REASONS[cls.__name__]
    return f"the token is invalid ({type(exc).__name__})"


class Authenticator:
    """Checks tokens against one `AuthConfig`: its key, algorithm, issuer and audience."""

    def __init__(self, config: AuthConfig) -> None:
        self.config = config

    def _decode(self, token: str) -> dict[str, Any]:
        """Verify the signature and the registered claims; return the claims.

        This is the seam seeded-bug variants override.  It may raise any
        `jwt.PyJWTError`; `authenticate` turns it into an `AuthError`.
        """
        claims: dict[str, Any] = jwt.decode(
            token,
            self.config.verify_key,
            # Exactly one algorithm: a token's own `alg` header never chooses the check.
            algorithms=[self.config.algorithm],
            audience=self.config.audience,
            issuer=self.config.issuer,
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_signature": True,
                "verify_exp": True,
                "verify_nbf": True,
                "verify_iss": True,
                "verify_aud": True,
            },
        )
        return claims

    def authenticate(self, token: str) -> str:
        """The user id (``sub``) the token was issued for, or `AuthError` saying why not."""
        if not isinstance(token, str) or not token.strip():
            raise AuthError("no token")
        try:
            claims = self._decode(token)
        except jwt.PyJWTError as exc:
            raise AuthError(_reason(exc)) from None  # `from None`: the cause quotes pyjwt
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthError("the token has no user id (sub)")
        return subject

    def authenticate_header(self, value: str | None) -> str:
        """The user id from an ``Authorization: Bearer <token>`` header value."""
        if value is None or not value.strip():
            raise AuthError("missing Authorization header")
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        # A token holds no spaces; anything after one is not a bearer credential.
        if scheme.lower() != "bearer" or not token or " " in token:
            raise AuthError("the Authorization header is not 'Bearer <token>'")
        return self.authenticate(token)
