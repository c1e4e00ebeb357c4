"""Thread ids, drawn from a small pool so that different users share them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hypothesis import strategies as st

__all__ = ["PLAIN_THREADS", "THREAD_POOL", "thread_ids", "thread_pool"]

#: Small on purpose: routing by thread id alone must fail visibly.
THREAD_POOL: tuple[str, ...] = ("t1", "t2", "t:1")


#: Plain ids, for a system whose thread ids the shared pool does not fit.
PLAIN_THREADS: tuple[str, ...] = ("thread1", "thread2", "thread3")


def thread_pool(
    user_ids: Sequence[str] = (), accepts: Callable[[str], bool] | None = None
) -> list[str]:
    """The thread ids to draw from: the shared pool and the user ids, as accepted.

    With a rule (``Capabilities.thread_ids``), ids it refuses are left out; if it
    refuses the whole shared pool, plain ids it accepts stand in, so runs still meet
    on the same threads.
    """
    pool = list(THREAD_POOL) + [uid for uid in user_ids if uid not in THREAD_POOL]
    if accepts is None:
        return pool
    kept = [t for t in pool if accepts(t)]
    if not any(t in THREAD_POOL for t in kept):
        kept = [t for t in PLAIN_THREADS if accepts(t)] + kept
    return kept or [PLAIN_THREADS[0]]


def thread_ids(
    user_ids: Sequence[str] = (), accepts: Callable[[str], bool] | None = None
) -> st.SearchStrategy[str]:
    """A thread id from the shared pool, or one equal to some user's id."""
    return st.sampled_from(thread_pool(user_ids, accepts))
