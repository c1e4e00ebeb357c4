"""The JWT's claims are read without verifying its signature.

Shortest interleaving: 1 move.  A presents a token with a wrong signature (or
``alg: none``, or a tampered ``sub``) and it is accepted (``rejects_bad_tokens``).
"""

from __future__ import annotations

from typing import Any

import jwt

from isolation_fuzz.platform.auth import Authenticator
from isolation_fuzz.platform.bugs._record import SeededBug, first_line
from isolation_fuzz.platform.reference import variant


class UnverifiedAuthenticator(Authenticator):
    def _decode(self, token: str) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims


BUG = SeededBug(
    name="unverified_token",
    shortest=1,
    trips=("rejects_bad_tokens",),
    open_target=variant(authenticator=UnverifiedAuthenticator),
    summary=first_line(__doc__),
)
