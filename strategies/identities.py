"""User ids, drawn from the families that break multi-user key layouts."""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st

__all__ = ["confusable_pairs", "identity_sets", "user_ids"]

#: Characters that mean something to a key layout, a glob, a LIKE pattern or a URL.
SPECIAL = ":*?[]%_ /\\."


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# Families that break key layouts (prefixes, delimiters, globs) come up twice as often
# as those that break only comparisons.
_FAMILIES = (
    "prefix", "delimiter", "glob", "prefix", "delimiter", "glob", "like", "case", "unicode", "space"
)


_BASES = st.sampled_from(["u1", "a", "user", "x", "7"])
_FAMILY = st.sampled_from(_FAMILIES)


def _pair(draw: st.DrawFn, base: str, family: str) -> tuple[str, str]:
    if family == "prefix":  # u1 / u10: prefix matching owns the other's keys
        return base, base + draw(st.sampled_from(["0", "1", "_2", "x"]))
    if family == "delimiter":  # a / a:b: `user:{uid}:{key}` collides
        # `b` because the key pool holds both `x` and `b:x`: a:b's `x` is a's `b:x`.
        return base, f"{base}:b"
    if family == "glob":  # x* / xy: a SCAN pattern from the raw id matches both
        return f"{base}{draw(st.sampled_from(['*', '?', '[1]']))}", base + "1"
    if family == "like":  # % and _ in LIKE patterns
        return f"{base}{draw(st.sampled_from(['%', '_']))}", base + "z"
    if family == "case":
        return base, base.upper() if base.upper() != base else base + "A"
    if family == "unicode":  # the same text in NFC and NFD
        word = draw(st.sampled_from(["é", "ñu", "Åsa"]))
        return word, _nfd(word)
    return base, f"{base} "


@st.composite
def confusable_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two distinct ids that a sloppy layout would confuse with each other."""
    return _pair(draw, draw(_BASES), draw(_FAMILY))



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


def user_ids() -> st.SearchStrategy[str]:
    """Single user ids: plain ones mixed with ids holding special characters or Unicode."""
    return _USER_IDS


@st.composite
def identity_sets(draw: st.DrawFn, min_size: int = 2, max_size: int = 3) -> list[str]:
    """Distinct user ids for one example; the first two are usually a confusable pair."""
    if max_size < min_size or min_size < 1:
        raise ValueError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
    ids: list[str] = []
    # Mostly a confusable pair: that is where key layouts break.
    if min_size >= 2 and draw(st.integers(0, 3)) > 0:
        base = draw(_BASES)
        pair = _pair(draw, base, draw(_FAMILY))
        # Either one may be the writer whose data leaks to the other: draw the order.
        ids.extend(reversed(pair) if draw(st.booleans()) else pair)
        if max_size >= 3:
            # A third id confusable with the same base: `a`, `a:b` and `a*` break a
            # delimiter, a glob and a prefix layout in one example.
            ids.extend(i for i in _pair(draw, base, draw(_FAMILY)) if i not in ids)
    size = draw(st.integers(min_size, max_size))
    while len(ids) < size:
        candidate = draw(_USER_IDS)
        if candidate not in ids:
            ids.append(candidate)
    return ids[:size] if len(ids) >= min_size else ids
