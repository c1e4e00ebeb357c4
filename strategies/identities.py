"""User ids and identity sets, drawn from the families that break multi-user systems.

Design note.  An example's identities are mostly built around one *colliding pair*:
two distinct ids that some transformation a real system applies (truncation to 8 to
64 characters, sanitising, case or Unicode normalisation, trimming, number parsing,
e-mail normalisation, URL-decoding, or splicing into a key, glob or LIKE pattern)
maps to one.  The families live in :mod:`isolation_fuzz.strategies.identity_families`; this module
decides how often each is drawn and how a set is put together:

* seven in eight sets open with a pair from one family, drawn by weight;
* a third id, when there is room, collides with one of the first two under a second
  family, drawn unweighted (``a``, ``a:b`` and ``a*`` break a delimiter and a glob
  layout at once);
* the rest are :func:`user_ids`: plain names, ids of special characters, random
  Unicode and very long ids.

:func:`labelled_identity_sets` also says which family pairs ended up in the set, so
``benchmarks/identity_families.py`` can count them.  Every strategy here is a plain
function returning a strategy, so a caller can ``.filter`` it (a target that accepts
only some ids).
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from isolation_fuzz.strategies.identity_families import FAMILIES, family_names

__all__ = ["confusable_pairs", "identity_sets", "labelled_identity_sets", "user_ids"]

#: Characters that mean something to a key layout, a glob, a LIKE pattern or a URL.
SPECIAL = ":*?[]%_ /\\."

#: A family pair that made it into a set: (family name, one id, the other).
Labelled = tuple[str, str, str]

_BASES = st.sampled_from(["u1", "a", "user", "x", "7"])


@st.composite
def confusable_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two distinct ids that collide under one of the identity families."""
    return FAMILIES[draw(family_names())].draw_pair(draw, draw(_BASES))


def _not_blank(text: str) -> bool:
    return text.strip() != ""


# Built once: constructing (and validating) strategies on every draw costs more than
# the example itself.
_USER_IDS: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(["alice", "bob", "u1", "u2", "u10", "carol"]),
    st.text(alphabet=st.sampled_from("ab1" + SPECIAL), min_size=1, max_size=6).filter(
        _not_blank
    ),
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]),
        min_size=1,
        max_size=8,
    ).filter(_not_blank),
    st.sampled_from(["u" * 200, "long-" + "x" * 120]),
)
_PAIR_FIRST = st.integers(0, 7)
_PLAIN = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan")
_WHICH = st.integers(0, 1)


def user_ids() -> st.SearchStrategy[str]:
    """Single user ids: plain ones mixed with ids holding special characters or Unicode."""
    return _USER_IDS


def _usable(ids: Sequence[str]) -> bool:
    return all(i.strip() for i in ids)


def _draw_set(draw: st.DrawFn, min_size: int, max_size: int) -> tuple[list[str], list[Labelled]]:
    if max_size < min_size or min_size < 1:
        raise ValueError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
    ids: list[str] = []
    pairs: list[Labelled] = []
    # Mostly a colliding pair: that is where systems confuse users.
    if min_size >= 2 and draw(_PAIR_FIRST) > 0:
        name = draw(family_names())
        a, b = FAMILIES[name].draw_pair(draw, draw(_BASES))
        # Either one may be the writer whose data leaks to the other: draw the order.
        ids.extend((b, a) if draw(_WHICH) else (a, b))
        pairs.append((name, a, b))
        if max_size >= 3 and _usable(ids):
            # A third id colliding with one already there under a second family: families
            # keep their base as one of the pair, so the pair is whole in the set.  The
            # second family is drawn unweighted: it keeps the rarest families over 3%.
            second = draw(family_names(weighted=False))
            pair = FAMILIES[second].draw_pair(draw, ids[draw(_WHICH)])
            if _usable(pair):
                ids.extend(i for i in pair if i not in ids)
                pairs.append((second, *pair))
        if not _usable(ids):
            # A sanitiser can strip an odd base down to nothing; a blank id names no one
            # (a token's sub must not be empty), so such a pair is no pair at all.
            ids, pairs = [], []
    size = draw(st.integers(min_size, max_size))
    while len(ids) < size:
        candidate = draw(_USER_IDS)
        if candidate in ids:
            # A repeat becomes the next plain name, not another draw: the simplest set
            # is then `alice`, `bob` (what unrelated bugs shrink to), not an overrun.
            candidate = next((n for n in _PLAIN if n not in ids), candidate)
        if candidate not in ids:
            ids.append(candidate)
    ids = ids[:size]
    return ids, [p for p in pairs if p[1] in ids and p[2] in ids]


@st.composite
def identity_sets(draw: st.DrawFn, min_size: int = 2, max_size: int = 3) -> list[str]:
    """Distinct user ids for one example; the first two usually collide (see the note)."""
    return _draw_set(draw, min_size, max_size)[0]


@st.composite
def labelled_identity_sets(
    draw: st.DrawFn, min_size: int = 2, max_size: int = 3
) -> tuple[list[str], list[Labelled]]:
    """As :func:`identity_sets`, with the family pairs the set holds: (family, id, id)."""
    return _draw_set(draw, min_size, max_size)
