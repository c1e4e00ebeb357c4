"""Provider-style user ids that share long prefixes, for the ``shared-N`` families.

Design note.  Real ids are long and alike: ``auth0|64f…``, ``google-oauth2|1098…``,
time-ordered UUIDs from one generator, ``user_2024_…``, AWS role-session ARNs,
SPIFFE ids, GitHub OIDC subjects.  Systems cut them where a column, a hash or a log
line ends: at 8, 16, 32, 36 or 64 characters (:data:`SHARED_PREFIX_LENGTHS`).  Two
ids that agree up to such a cut are one user to that system.

Family ``shared-N`` draws pairs whose common prefix is at least N characters and
shorter than the next cut, so each family tests one cut and the families do not
overlap.  A style is a tuple of fixed text and variable ``(alphabet, length)``
segments, rendered from one big integer: one Hypothesis choice per id, however long.
The partner changes one variable character, the first at or past N.  Given a long
base (a provider id already in the set), the pair is built on it instead.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

__all__ = ["SHARED_PREFIX_LENGTHS", "STYLES", "shared_prefix_pairs", "shares_prefix"]

#: Where systems cut ids: a short hash or log prefix, a half UUID, an MD5 or a UUID
#: without dashes, a UUID, a SHA-256 hex digest or a ``varchar(64)``.
SHARED_PREFIX_LENGTHS = (8, 16, 32, 36, 64)

_HEX, _DIGITS = "0123456789abcdef", "0123456789"
_B32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's, as in ULIDs

#: Provider-style ids: fixed text and variable (alphabet, length) segments.
STYLES: dict[str, tuple[str | tuple[str, int], ...]] = {
    "auth0": ("auth0|", (_HEX, 24)),
    "google-oauth2": ("google-oauth2|1", (_DIGITS, 20)),
    "uuid7": ((_HEX, 8), "-", (_HEX, 4), "-7", (_HEX, 3), "-", (_HEX, 4), "-", (_HEX, 12)),
    "user_2024": ("user_2024_", (_B32, 26)),
    "aws-arn": ("arn:aws:sts::", (_DIGITS, 12), ":assumed-role/deploy-", (_HEX, 8),
                "/session-", (_HEX, 32)),
    "spiffe": ("spiffe://cluster.local/ns/tenant-", (_HEX, 8), "/sa/runner-", (_HEX, 32)),
    "github-oidc": ("repo:acme/svc-", (_HEX, 8), ":ref:refs/heads/feature-", (_HEX, 24)),
}


def _variable_positions(style: tuple[str | tuple[str, int], ...]) -> list[tuple[int, str]]:
    out, at = [], 0
    for segment in style:
        if isinstance(segment, str):
            at += len(segment)
        else:
            out += [(at + i, segment[0]) for i in range(segment[1])]
            at += segment[1]
    return out


def _band(n: int) -> tuple[int, int]:
    """Shared-prefix lengths counted as family ``shared-n``: from n up to the next cut."""
    later = [m for m in SHARED_PREFIX_LENGTHS if m > n]
    return n, (later[0] if later else 10**6)


def _eligible(n: int) -> list[tuple[str, int, str]]:
    """(style, position, alphabet): styles whose first variable position >= n is in n's band."""
    low, high = _band(n)
    out = []
    for name, style in STYLES.items():
        first = next(((p, a) for p, a in _variable_positions(style) if p >= low), None)
        if first is not None and first[0] < high:
            out.append((name, *first))
    return out


def _render(style: tuple[str | tuple[str, int], ...], x: int) -> str:
    parts = []
    for segment in style:
        if isinstance(segment, str):
            parts.append(segment)
            continue
        alphabet, length = segment
        for _ in range(length):
            x, digit = divmod(x, len(alphabet))
            parts.append(alphabet[digit])
    return "".join(parts)


_BIG = st.integers(0, 2**512 - 1)


def _next_in_class(c: str) -> str | None:
    """Another character of ``c``'s kind (digit, hex, letter), or None for punctuation."""
    for alphabet in (_DIGITS, _HEX, "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if c in alphabet:
            return alphabet[(alphabet.index(c) + 1) % len(alphabet)]
    return None


def shared_prefix_pairs(n: int) -> Callable[[st.DrawFn, str], tuple[str, str]]:
    """Draws pairs sharing between ``n`` and the next cut of their first characters."""
    choices = st.sampled_from(_eligible(n))
    low, high = _band(n)

    def draw_pair(draw: st.DrawFn, base: str) -> tuple[str, str]:
        # Anchored on a long base (a provider id already in the set) when one of its
        # characters in the band can change; otherwise a fresh provider-style id.
        for position in range(low, min(high, len(base))):
            other = _next_in_class(base[position])
            if other is not None:
                return base, base[:position] + other + base[position + 1:]
        name, position, alphabet = draw(choices)
        a = _render(STYLES[name], draw(_BIG))
        other = alphabet[(alphabet.index(a[position]) + 1) % len(alphabet)]
        return a, a[:position] + other + a[position + 1:]

    return draw_pair


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def shares_prefix(n: int) -> Callable[[str, str], bool]:
    """Whether two distinct ids share between ``n`` and the next cut of characters."""
    low, high = _band(n)
    return lambda a, b: a != b and low <= _common_prefix(a, b) < high
