"""The zoo: seeded-bug variants of the reference platform, one small module each.

Each module differs from the reference platform in one place, states in its
docstring (and in ``SHORTEST``) the length of the shortest interleaving that shows
its bug, and exposes ``open_target`` so that ``--target zoo:<name>`` selects it.
The bugs are classes that real multi-user agent backends have shipped.
"""

from __future__ import annotations

__all__ = ["BUGS"]

#: Every seeded bug, in the order the zoo command runs them.
BUGS: tuple[str, ...] = (
    "global_current_user",
    "shared_engine_state",
    "unscoped_cache_key",
    "delimiter_injection",
    "glob_injection",
    "prefix_ownership",
    "broadcast_events",
    "thread_routed_events",
    "pooled_emitter_swap",
    "unverified_token",
    "missing_user_filter",
    "thread_ownership_unchecked",
    "lost_event",
    "incomplete_cleanup",
)
