"""Agent plans: short lists of tool calls over the three stores.

Keys come from a small pool so that runs of one user overwrite each other.  Values
are short texts; before a run starts, the state machine prefixes each value with a
canary of the writing identity and suffixes each key with the identity's key mark
(issue 13), so that whatever the target returns, a value or a key name, can be
traced back to its owner.  The mark is derived, not drawn: draws stay as they were.
One name, ``k``, stays shared (`SHARED_KEYS`): users' keys of the same name are
where a delete or read that forgets the owner shows.

``scratch`` (a value kept in the request's own scratch, read back whole) is drawn
only when asked for (a target declaring it); otherwise the draws are exactly the
five-tool draws they always were.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from isolation_fuzz.model import CORE_TOOLS, STORES, ToolCall

__all__ = ["KEY_POOL", "SHARED_KEYS", "plans", "tool_calls"]

KEY_POOL: tuple[str, ...] = ("k", "b:x", "x", "k*")

#: Key names every user's app uses alike (a ``profile``, a ``settings``): left without
#: the owner's mark, so that a read or a delete that forgets the owner meets another
#: user's key of the same name.  A listed one is traced to whoever wrote it.
SHARED_KEYS: frozenset[str] = frozenset({"k"})


def tool_calls(
    stores: Sequence[str] = STORES, keys: Sequence[str] = KEY_POOL,
    tools: Sequence[str] = CORE_TOOLS,
) -> st.SearchStrategy[ToolCall]:
    """One tool call among ``tools``, writes weighted up: a leak needs something written."""
    store = st.sampled_from(list(stores))
    key = st.sampled_from(list(keys))
    value = st.sampled_from(["v", "note", "secret"])

    def build(tool: str) -> st.SearchStrategy[ToolCall]:
        if tool == "remember":
            return st.builds(ToolCall, tool=st.just(tool), store=store, key=key, value=value)
        if tool == "scratch":
            return st.builds(ToolCall, tool=st.just(tool), store=store, value=value)
        if tool in ("recall", "forget"):
            return st.builds(ToolCall, tool=st.just(tool), store=store, key=key)
        return st.builds(ToolCall, tool=st.just(tool), store=store)

    weighted = [t for t in ["remember", "remember", "recall", "aggregate", "list", "forget",
                            "scratch"] if t in tools]
    return st.sampled_from(weighted).flatmap(build)


def plans(
    stores: Sequence[str] = STORES, keys: Sequence[str] = KEY_POOL, max_calls: int = 3,
    tools: Sequence[str] = CORE_TOOLS,
) -> st.SearchStrategy[tuple[ToolCall, ...]]:
    """A plan of one to ``max_calls`` tool calls among ``tools``."""
    return st.lists(tool_calls(stores, keys, tools), min_size=1, max_size=max_calls).map(tuple)
