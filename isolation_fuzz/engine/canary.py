"""Canaries: unguessable markers embedded in every value an identity writes.

Each canary is registered to its owner.  Seeing another owner's canary anywhere an
identity can observe (a tool result, an event payload, a WebSocket frame) is a leak,
whatever the storage layout, so the oracle never needs to understand the target.
Canaries are derived from a number rather than drawn at random, so replays of a
scenario write exactly the same markers.

Key names carry a shorter marker of their owner, a *key mark* (``~k`` and 6 hex
digits, one per identity, appended to every key it uses; issue 13): a listing that
returns another user's key names is then a leak too, even though no value crossed.
The registry holds both kinds; `find_canaries` finds both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

__all__ = [
    "CANARY_PATTERN",
    "KEY_MARK_PATTERN",
    "CanaryRegistry",
    "find_canaries",
    "is_key_mark",
    "make_canary",
    "make_key_mark",
]

CANARY_PATTERN: Final = re.compile(r"cnry-[0-9a-f]{16}")
#: An owner's mark on the key names it uses: short, since keys are short.
KEY_MARK_PATTERN: Final = re.compile(r"~k[0-9a-f]{6}")
_MARKERS: Final = re.compile(r"cnry-[0-9a-f]{16}|~k[0-9a-f]{6}")


def make_canary(n: int) -> str:
    """The canary numbered ``n`` (taken modulo 2**64): ``cnry-`` and 16 hex digits."""
    return f"cnry-{n % 2**64:016x}"


def make_key_mark(n: int) -> str:
    """The key mark numbered ``n`` (taken modulo 2**24): ``~k`` and 6 hex digits."""
    return f"~k{n % 2**24:06x}"


def is_key_mark(marker: str) -> bool:
    """Whether ``marker`` (a canary or a key mark) is a key mark."""
    return KEY_MARK_PATTERN.fullmatch(marker) is not None


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            yield from _strings(item)


def find_canaries(obj: Any) -> set[str]:
    """Every canary and key mark in any string inside a JSON-like structure."""
    found: set[str] = set()
    for text in _strings(obj):
        if "cnry-" in text or "~k" in text:
            found.update(_MARKERS.findall(text))
    return found


class CanaryRegistry:
    """Which identity owns which canary (or key mark)."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._owners)

    def register(self, canary: str, owner: str) -> None:
        """Record that ``owner`` wrote ``canary`` (or a key mark); each has exactly one owner."""
        if not _MARKERS.fullmatch(canary):
            raise ValueError(
                f"{canary!r} is not a canary; make one with make_canary() (or make_key_mark())"
            )
        previous = self._owners.setdefault(canary, owner)
        if previous != owner:
            raise ValueError(f"canary {canary} already belongs to {previous}, not {owner}")

    def owner_of(self, canary: str) -> str | None:
        """The identity that wrote ``canary``, or None if it is not registered."""
        return self._owners.get(canary)

    def items(self) -> list[tuple[str, str]]:
        """(canary, owner) pairs in registration order."""
        return list(self._owners.items())

    def foreign(self, obj: Any, observer: str) -> list[tuple[str, str]]:
        """(canary, owner) pairs in ``obj`` owned by someone other than ``observer``."""
        out = []
        for canary in sorted(find_canaries(obj)):
            owner = self._owners.get(canary)
            if owner is not None and owner != observer:
                out.append((canary, owner))
        return out
