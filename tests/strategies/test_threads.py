"""Thread ids: a small shared pool, the users' ids, and the system's own rule."""

from __future__ import annotations

from isolation_fuzz.strategies.threads import PLAIN_THREADS, THREAD_POOL, thread_pool


def test_without_a_rule_the_pool_is_the_shared_threads_and_the_user_ids() -> None:
    assert thread_pool(["u1", "t1"]) == [*THREAD_POOL, "u1"]


def test_a_rule_leaves_out_the_ids_it_refuses() -> None:
    assert thread_pool(["u1", "u:2"], lambda t: ":" not in t) == ["t1", "t2", "u1"]


def test_a_rule_that_refuses_the_whole_shared_pool_gets_plain_ids_that_still_meet() -> None:
    def uuid_like(thread: str) -> bool:
        return thread.startswith("thread")

    assert thread_pool(["u1"], uuid_like) == list(PLAIN_THREADS)
    assert thread_pool(["u1"], lambda t: False) == [PLAIN_THREADS[0]]
