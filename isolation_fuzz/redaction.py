"""Keeping secrets out of everything a person or a file sees.

Tokens, signing keys and URL passwords pass through many layers (the engine, the
services, the reporters), and any of them may end up in an error message.  One
small module, importable by every floor, redacts them: a :class:`Redactor` holds
the secrets a campaign made, and :func:`redact_url` hides a password in a service
URL.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Redactor", "redact_url"]

_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


class Redactor:
    """Replaces every registered secret, and anything shaped like a JWT, with a marker."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Register one more string that must never be shown."""
        if len(secret) >= 6:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """`text` with every secret and every JWT-looking string replaced."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "<redacted>")
        return _JWT_SHAPE.sub("<token>", text)


def redact_url(url: str) -> str:
    """`url` with any password replaced, safe to put in an error message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
