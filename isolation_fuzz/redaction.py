"""Keeping secrets out of everything a person or a file sees.

Tokens, signing keys and URL passwords pass through many layers (the engine, the
services, the reporters), and any of them may end up in an error message.  One
small module, importable by every floor, redacts them: a :class:`Redactor` holds
the secrets a campaign made, and :func:`redact_url` hides a password in a service
URL, whether it sits in the authority (``redis://:pw@host``) or in the query string
(``postgresql://host/db?password=pw``, as libpq and asyncpg accept).
:func:`url_secrets` lists those passwords, so a message that quotes a driver's words
can be scrubbed of them too (issue 10: a ``?password=`` reached stdout and
summary.json).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

__all__ = ["SECRET_QUERY_KEYS", "Redactor", "redact_url", "url_secrets"]

_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")

#: Query parameters whose value is a secret, compared case-insensitively.
SECRET_QUERY_KEYS = frozenset(
    {"password", "pass", "passwd", "pwd", "secret", "token", "access_token", "sslpassword"}
)

# One query parameter: its key and its (still percent-encoded) value, up to & or ;.
_QUERY_PARAM = re.compile(r"(?P<key>[^&;=]+)=(?P<value>[^&;]*)")


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


def _is_secret_key(key: str) -> bool:
    return unquote(key).strip().lower() in SECRET_QUERY_KEYS


def redact_url(url: str) -> str:
    """`url` with any password replaced, safe to put in an error message.

    Both places a URL may carry one are hidden: ``user:pw@`` becomes ``user:***@``
    and ``?password=pw`` (or ``pass``, ``secret``, ``token``...) becomes
    ``?password=***``.  A URL too broken to parse is shown as ``<unparseable url>``,
    since where its password would be cannot be known.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable url>"
    changed = False
    if password is not None:
        changed = True
        userinfo, sep, host = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}:***{sep}{host}")
    if parts.query:

        def hide(match: re.Match[str]) -> str:
            if _is_secret_key(match["key"]):
                return f"{match['key']}=***"
            return match.group(0)

        query = _QUERY_PARAM.sub(hide, parts.query)
        changed = changed or query != parts.query
        parts = parts._replace(query=query)
    if not changed:
        return url
    shown = urlunsplit(parts)
    if not parts.netloc and url.startswith(f"{parts.scheme}://"):
        shown = shown.replace(":", "://", 1)  # urlunsplit drops an empty authority's '//'
    return shown


def url_secrets(url: str) -> list[str]:
    """The passwords ``url`` carries (in its authority or query), raw and as written."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        # Unparseable: fall back to what sits between the first ':' after '//' and '@'.
        match = re.search(r"//[^/@:]*:([^@]*)@", url)
        password = match.group(1) if match else None
        parts = None
    if password:
        found += [password, unquote(password)]
    query = parts.query if parts is not None else url.partition("?")[2]
    for match in _QUERY_PARAM.finditer(query):
        if _is_secret_key(match["key"]) and match["value"]:
            found += [match["value"], unquote(match["value"])]
    found += [value for key, value in parse_qsl(query) if _is_secret_key(key) and value]
    return sorted(set(found), key=len, reverse=True)
