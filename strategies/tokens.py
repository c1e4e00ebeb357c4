"""Forged-token kinds: every way a token can be wrong that a verifier must catch."""

from __future__ import annotations

from hypothesis import strategies as st

from isolation_fuzz.tokens import FORGERY_KINDS

__all__ = ["forgery_kinds"]


def forgery_kinds() -> st.SearchStrategy[str]:
    """One of :data:`isolation_fuzz.tokens.FORGERY_KINDS` (minted later, per identity)."""
    return st.sampled_from(FORGERY_KINDS)
