"""Agent plans: short lists of tool calls over the three stores.

Keys come from a small pool so that runs of one user overwrite each other and runs
of different users use the same key names.  Values are short texts; the state
machine prefixes each with a canary of the writing identity before the run starts,
so that whatever the target returns can be traced back to its owner.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from isolation_fuzz.model import STORES, ToolCall

__all__ = ["KEY_POOL", "plans", "tool_calls"]

KEY_POOL: tuple[str, ...] = ("k", "b:x", "x", "k*")


def tool_calls(
    stores: Sequence[str] = STORES, keys: Sequence[str] = KEY_POOL
) -> st.SearchStrategy[ToolCall]:
    """One tool call, writes weighted up: a leak needs something written to leak."""
    store = st.sampled_from(list(stores))
    key = st.sampled_from(list(keys))
    value = st.sampled_from(["v", "note", "secret"])

    def build(tool: str) -> st.SearchStrategy[ToolCall]:
        if tool == "remember":
            return st.builds(ToolCall, tool=st.just(tool), store=store, key=key, value=value)
        if tool in ("recall", "forget"):
            return st.builds(ToolCall, tool=st.just(tool), store=store, key=key)
        return st.builds(ToolCall, tool=st.just(tool), store=store)

    tools = ["remember", "remember", "recall", "aggregate", "list", "forget"]
    return st.sampled_from(tools).flatmap(build)


def plans(
    stores: Sequence[str] = STORES, keys: Sequence[str] = KEY_POOL, max_calls: int = 3
) -> st.SearchStrategy[tuple[ToolCall, ...]]:
    """A plan of one to ``max_calls`` tool calls."""
    return st.lists(tool_calls(stores, keys), min_size=1, max_size=max_calls).map(tuple)
