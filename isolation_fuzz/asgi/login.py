"""Tokens an app issues itself, from its login route, and forgeries made of them.

Design note.  Some apps sign their tokens with a key the fuzzer cannot know: their
login route issues them.  The campaign's own tokens then stay the fuzzer's (minted
with the campaign's key, which is how the engine knows who a token is for and that it
is valid), and the target translates each one as it sends it:

* a valid token becomes the app's token for the same user, from the login route,
  once per user per campaign;
* a forged one becomes the same forgery of an app token, made without the app's key.
  The claims the forgery changed (the subject, the expiry, not-before, issuer or
  audience) are changed in the app's token and its signature is kept, so it no
  longer matches; an ``alg: none`` forgery gets the app token's claims under an
  unsigned header; garbage stays garbage.  A forgery whose claims came out equal to
  a real token's (a wrong signature, or a tampered subject that names the token's
  own user) gets a random signature instead.  So a forgery is never a valid token.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from isolation_fuzz.errors import AuthError
from isolation_fuzz.kit import Verification

__all__ = ["LoginTokens"]

#: The fuzzer's claims a forgery may change, and how to tell it did.
_CHANGED = ("exp", "nbf", "iss", "aud")


def _b64decode(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _b64encode(data: Any) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class LoginTokens:
    """Translates the campaign's tokens into the app's, logging users in as needed.

    Args:
        login: Logs a user in and returns the app's token for them.
        campaign: Verifies the campaign's own tokens (who they are for, or not valid).
        subject_claim: The claim of the app's tokens that holds the user id.
    """

    def __init__(self, login: Callable[[str], Awaitable[str]], campaign: Verification,
                 subject_claim: str) -> None:
        self._login, self._campaign, self._subject = login, campaign, subject_claim
        self._tokens: dict[str, str] = {}

    async def token_for(self, user: str) -> str:
        """The app's token for ``user`` (logged in once)."""
        if user not in self._tokens:
            self._tokens[user] = await self._login(user)
        return self._tokens[user]

    async def translate(self, token: str) -> str:
        """The app's counterpart of the campaign's ``token``: valid, or forged alike."""
        try:
            user = self._campaign.verify(token)
        except AuthError:
            return await self._forged(token)
        return await self.token_for(user)

    async def _forged(self, token: str) -> str:
        parts = token.split(".")
        try:
            header, claims = _b64decode(parts[0]), _b64decode(parts[1])
        except (ValueError, IndexError, TypeError):
            return token  # garbage stays garbage
        if not isinstance(header, dict) or not isinstance(claims, dict) or len(parts) != 3:
            return token
        named = claims.get(self._campaign.subject_claim)
        base_user = named if isinstance(named, str) and named else None
        if base_user is None:
            base_user = next(iter(self._tokens), None)
        if base_user is None:
            return token  # no app token to forge from yet: the fuzzer's forgery as it is
        real = (await self.token_for(base_user)).split(".")
        app_header, app_claims = _b64decode(real[0]), _b64decode(real[1])
        forged = dict(app_claims)
        if named is None:
            forged.pop(self._subject, None)
        else:
            forged[self._subject] = named
        now = time.time()
        if isinstance(claims.get("exp"), int | float) and claims["exp"] < now:
            forged["exp"] = claims["exp"]
        if isinstance(claims.get("nbf"), int | float) and claims["nbf"] > now:
            forged["nbf"] = claims["nbf"]
        for claim, wanted in (("iss", self._campaign.issuer), ("aud", self._campaign.audience)):
            if claim in claims and claims[claim] != wanted:
                forged[claim] = f"{app_claims.get(claim, '')}-other"
        if str(header.get("alg", "")).lower() == "none":
            return f"{_b64encode({**app_header, 'alg': 'none'})}.{_b64encode(forged)}."
        signature = real[2]
        if forged == app_claims:  # nothing changed: only a wrong signature makes it forged
            signature = base64.urlsafe_b64encode(
                secrets.token_bytes(len(base64.urlsafe_b64decode(real[2] + "==")) or 32)
            ).rstrip(b"=").decode()
        return f"{real[0]}.{_b64encode(forged)}.{signature}"
