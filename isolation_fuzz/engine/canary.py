"""Canaries: unguessable markers embedded in every value an identity writes.

Each canary is registered to its owner.  Seeing another owner's canary anywhere an
identity can observe (a tool result, an event payload, a WebSocket frame) is a leak,
whatever the storage layout, so the oracle never needs to understand the target.
Canaries are derived from a number rather than drawn at random, so replays of a
scenario write exactly the same markers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

__all__ = ["CANARY_PATTERN", "CanaryRegistry", "find_canaries", "make_canary"]

CANARY_PATTERN: Final = re.compile(r"cnry-[0-9a-f]{16}")


def make_canary(n: int) -> str:
    """The canary numbered ``n`` (taken modulo 2**64): ``cnry-`` and 16 hex digits."""
    return f"cnry-{n % 2**64:016x}"


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
    """Every canary in any string inside a JSON-like structure."""
    found: set[str] = set()
    for text in _strings(obj):
        if "cnry-" in text:
            found.update(CANARY_PATTERN.findall(text))
    return found


class CanaryRegistry:
    """Which identity owns which canary."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._owners)

    def register(self, canary: str, owner: str) -> None:
        """Record that ``owner`` wrote ``canary``; a canary has exactly one owner."""
        if not CANARY_PATTERN.fullmatch(canary):
            raise ValueError(f"{canary!r} is not a canary; make one with make_canary()")
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
