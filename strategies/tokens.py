"""Forged-token kinds: every way a token can be wrong that a verifier must catch."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from isolation_fuzz.tokens import FORGERY_KINDS

__all__ = ["forgery_kinds"]


def forgery_kinds(kinds: Sequence[str] = FORGERY_KINDS) -> st.SearchStrategy[str]:
    """One of ``kinds`` (all of :data:`isolation_fuzz.tokens.FORGERY_KINDS` by default).

    A system that declares no audience or issuer has no such forgery to draw: its
    auth config's ``forgeries`` leaves them out, in the same order as the rest.
    """
    return st.sampled_from(tuple(kinds))
