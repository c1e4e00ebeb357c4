"""Thread ids, drawn from a small pool so that different users share them."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

__all__ = ["THREAD_POOL", "thread_ids"]

#: Small on purpose: routing by thread id alone must fail visibly.
THREAD_POOL: tuple[str, ...] = ("t1", "t2", "t:1")


def thread_ids(user_ids: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """A thread id from the shared pool, or one equal to some user's id."""
    pool = list(THREAD_POOL) + [uid for uid in user_ids if uid not in THREAD_POOL]
    return st.sampled_from(pool)
