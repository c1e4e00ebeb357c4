"""How reports show a user id: quoted, and escaped whenever its characters could deceive.

Design note.  Generated ids are adversarial by design (issue 13): an ``e`` with an
acute accent composed (NFC) and the same decomposed (NFD), a Latin ``a`` next to a
Cyrillic one, a zero-width space, a no-break space where a space should be,
full-width letters.  Printed as they are, two such ids look identical, and a report
that says "A saw B's data" with two ids that look alike explains nothing.
:func:`show_id` prints an id as :func:`repr` does when it is plain printable ASCII,
so messages about ``u1`` and ``a:b`` read as they always have; otherwise every
character outside printable ASCII becomes a ``\\uXXXX`` escape (``\\UXXXXXXXX``
beyond the BMP): NFC ``'\\u00e9'`` and NFD ``'e\\u0301'`` differ on the page as they
do in memory.  One function, used by every place that prints an id (the move list,
the oracle's messages, the HTML report), so they all agree.
"""

from __future__ import annotations

__all__ = ["show_id"]


def _printable_ascii(char: str) -> bool:
    return " " <= char <= "~"


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x80:  # an ASCII control character: as repr() writes it (\t, \x00)
        return repr(char)[1:-1]
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def show_id(user_id: str | None) -> str:
    """``user_id`` quoted as :func:`repr` quotes it, with anything not plain ASCII escaped.

    ``None`` (a move with no thread, say) shows as ``None``, as :func:`repr` shows it.

    >>> show_id("u1"), show_id("a:b")
    ("'u1'", "'a:b'")
    >>> show_id("\\u00e9"), show_id("e\\u0301")
    ("'\\\\u00e9'", "'e\\\\u0301'")
    """
    if user_id is None or all(_printable_ascii(c) for c in user_id):
        return repr(user_id)
    quote = '"' if "'" in user_id and '"' not in user_id else "'"
    body = "".join(
        ("\\" + c if c in ("\\", quote) else c) if _printable_ascii(c) else _escape(c)
        for c in user_id
    )
    return f"{quote}{body}{quote}"
