"""Generated user ids against the ids a target accepts: admit, replace, count.

Design note.  The adversarial families (:mod:`isolation_fuzz.strategies.identities`: ``u1`` next to
``u10``, ``a`` next to ``a:b``, ``x*`` next to ``x1``, case and Unicode twins) are
where key layouts break, but a real system may refuse some of them outright (issue
11: one rejected placeholder-like ids, and generated ids had to be mapped by hand).
A target declares which ids it accepts (``Capabilities.user_ids``); this module
turns each drawn set of ids into one the target accepts, keeping the family where
it can:

1. **The whole set, one prefix.**  A family is a relation between ids (one a prefix
   of the other, one the other plus a delimiter, ...), and putting the same stem in
   front of every id keeps it: ``user_u1`` / ``user_u10`` are still a prefix pair.
   The first stem (of :data:`STEMS`) that makes every id valid and keeps them
   distinct is used.
2. **Each rejected id, repaired alone.**  The same stems, then the id with the
   characters the target refuses replaced (``a:b`` to ``a_b``, still a prefix of
   ``a``'s keys), keeping what it shared with its partner where possible.
3. **A plain valid id**, drawn from a fixed pool of those the predicate accepts,
   when nothing else works.

Every id that failed the predicate counts as *dropped*, and those that got a
replacement of the same family (steps 1 and 2) also as *replaced*; the campaign's
stats carry both to the verdict and ``summary.json``.  A target that declares no
rule gets the families' sets unchanged, through the very same draws (a ``map``
adds the zero counts), so seeds explore what they always did.  A declared strategy
of valid ids is drawn from instead of the families.  :class:`Declared` is what the
report says of it all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.example.harness import Stats
from isolation_fuzz.errors import UsageError
from isolation_fuzz.strategies import identity_sets

__all__ = [
    "FALLBACK_IDS",
    "STEMS",
    "Admitted",
    "Declared",
    "admit",
    "fallback_ids",
    "identities_for",
]

#: What a drawn identity set becomes: the ids, how many were dropped, how many replaced.
Admitted = tuple[list[str], int, int]

#: Stems put in front of ids, in the order tried: common shapes of valid ids.
STEMS: tuple[str, ...] = (
    "user_", "user-", "usr", "u_", "id-", "user_0000", "3f2b9c1e-8d4a-4b6f-9e2a-",
)

#: Plain ids tried when no id of the family is valid (step 3 of the note).
FALLBACK_IDS: tuple[str, ...] = (
    "alice", "bob", "carol", "dave", "user1", "user2", "user10", "user_1", "user_2",
    "user-0001", "user-0002", "1001", "1002", "Alice", "Bob",
    "alice@example.com", "bob@example.com", "carol@example.com",
    "3f2b9c1e-8d4a-4b6f-9e2a-7c5d1f0a8b31", "a6c0e9d2-51b7-4c3e-8f19-2d4b6a8e0c57",
    "c9e1f3a5-7b2d-4e6f-a8c0-1b3d5f7a9e2c",
)

_SANITIZERS: tuple[Callable[[str], str], ...] = (
    lambda uid: "".join(c if c.isalnum() else "_" for c in uid),
    lambda uid: "".join(c if c.isalnum() else "-" for c in uid),
    lambda uid: "".join(c for c in uid if c.isalnum()),
    lambda uid: "".join(c if c.isascii() and c.isalnum() else "_" for c in uid),
)


def _valid(predicate: Callable[[str], bool], user_id: str) -> bool:
    # A predicate that raises on an id (a Unicode one, say) refuses it.
    try:
        return bool(predicate(user_id))
    except Exception:
        return False


def fallback_ids(predicate: Callable[[str], bool], at_least: int = 2) -> list[str]:
    """The plain ids of :data:`FALLBACK_IDS` that ``predicate`` accepts.

    Raises:
        UsageError: fewer than ``at_least`` are accepted, so no example could be built
            when the families fail too; the user should declare a strategy instead.
    """
    pool = [uid for uid in FALLBACK_IDS if _valid(predicate, uid)]
    if len(pool) < at_least:
        raise UsageError(
            f"the target's user_ids predicate accepts {len(pool)} of the plain ids "
            f"{', '.join(FALLBACK_IDS[:4])}, ... (need {at_least}); declare a Hypothesis "
            "strategy of valid ids as user_ids instead"
        )
    return pool


def _repair(predicate: Callable[[str], bool], uid: str, taken: set[str]) -> str | None:
    """A valid id close to ``uid`` (same family where possible) not in ``taken``."""
    shapes = [stem + uid for stem in STEMS]
    for clean in (sanitize(uid) for sanitize in _SANITIZERS):
        if clean:
            shapes += [clean, *(stem + clean for stem in STEMS)]
    for shape in shapes:
        if shape not in taken and _valid(predicate, shape):
            return shape
    return None


def admit(
    ids: Sequence[str], predicate: Callable[[str], bool]
) -> tuple[list[str | None], int, int]:
    """Steps 1 and 2 of the note: ``ids`` made valid where the family allows.

    Returns the ids (None where step 3 must fill in), the dropped and replaced counts.
    """
    failing = [uid for uid in ids if not _valid(predicate, uid)]
    if not failing:
        return list(ids), 0, 0
    for stem in STEMS:
        whole = [stem + uid for uid in ids]
        if len(set(whole)) == len(whole) and all(_valid(predicate, uid) for uid in whole):
            return list(whole), len(failing), len(failing)
    out: list[str | None] = []
    taken = set(ids)
    replaced = 0
    for uid in ids:
        if uid not in failing:
            out.append(uid)
            continue
        fixed = _repair(predicate, uid, taken)
        if fixed is not None:
            taken.add(fixed)
            replaced += 1
        out.append(fixed)
    return out, len(failing), replaced


@st.composite
def _admitted(
    draw: st.DrawFn, base: st.SearchStrategy[list[str]], predicate: Callable[[str], bool],
    pool: Sequence[str],
) -> Admitted:
    repaired, dropped, replaced = admit(draw(base), predicate)
    # The pool holds at least as many ids as a set, so a spare is always left.
    spare = [uid for uid in pool if uid not in repaired]
    ids = []
    for uid in repaired:
        if uid is None:
            uid = draw(st.sampled_from(spare), label="plain valid user id")
            spare.remove(uid)
        ids.append(uid)
    return ids, dropped, replaced


def identities_for(
    capabilities: Capabilities, min_size: int = 2, max_size: int = 3
) -> st.SearchStrategy[Admitted]:
    """Identity sets a target with ``capabilities`` accepts, with their dropped counts.

    Raises:
        UsageError: a declared predicate accepts too few plain ids (see `fallback_ids`).
    """
    strategy = capabilities.user_id_strategy
    if strategy is not None:
        return st.lists(strategy, min_size=min_size, max_size=max_size, unique=True).map(
            lambda ids: (ids, 0, 0)
        )
    base = identity_sets(min_size=min_size, max_size=max_size)
    predicate = capabilities.user_id_predicate
    if predicate is None:
        return base.map(lambda ids: (ids, 0, 0))  # the same draws as with no declaration
    pool = fallback_ids(predicate, at_least=max_size)
    return _admitted(base, predicate, pool)


@dataclass(frozen=True)
class Declared:
    """What the target declared, and what its user-id rule cost: the report's part.

    Attributes:
        capabilities: the declaration in force for the campaign.
        ids_dropped: generated user ids that failed the target's predicate.
        ids_replaced: those of them replaced by a valid id of the same family (the
            rest were replaced by plain valid ids).
    """

    capabilities: Capabilities = field(default_factory=Capabilities)
    ids_dropped: int = 0
    ids_replaced: int = 0

    @classmethod
    def of(cls, capabilities: Capabilities, stats: Stats) -> Declared:
        """The report's part of a campaign whose counters are ``stats``."""
        return cls(capabilities, stats.ids_dropped, stats.ids_replaced)

    def to_json(self) -> dict[str, Any]:
        """For ``summary.json``: the declaration, and the dropped and replaced ids."""
        return {
            **self.capabilities.to_json(),
            "user_ids_dropped": self.ids_dropped,
            "user_ids_replaced": self.ids_replaced,
        }

    def describe(self) -> str | None:
        """The verdict's line, or None for a target that declared nothing."""
        caps = self.capabilities
        if caps == Capabilities():
            return None
        parts = [f"stores {', '.join(caps.stores)}"]
        if caps.services:
            parts[0] += f" (with {', '.join(caps.services)} running)"
        if caps.data_scope != "user":
            parts.append(f"data kept per {caps.data_scope}")
        if not caps.exact_lifecycle:
            parts.append(
                f"{len(caps.event_kinds)} event kinds (begin {'|'.join(caps.begin_kinds)}, "
                f"end {'|'.join(caps.end_kinds)})"
            )
        if caps.user_id_strategy is not None:
            parts.append("user ids drawn from its strategy")
        elif caps.user_id_predicate is not None:
            plain = self.ids_dropped - self.ids_replaced
            parts.append(
                f"{self.ids_dropped} generated user id(s) dropped by its user_ids predicate "
                f"({self.ids_replaced} replaced within their family, {plain} by plain ids)"
            )
        return "; ".join(parts)
