"""The zoo: seeded-bug variants of the reference platform, one small module each.

What lives here: twenty modules, each differing from the reference platform in
one place (``variant(part=...)``), explaining its bug in its docstring and
declaring it as data in one :class:`SeededBug` record, ``BUG``.  The bugs are
classes that real multi-user agent backends have shipped.  This package lists the
records in the order the zoo runs them, and offers them as targets: the
``isolation_fuzz.targets`` entry point ``zoo:*`` names :data:`TARGETS`, so
``--target zoo:<name>`` selects a variant while the engine and the target registry
know nothing of the zoo.

Who may import it: the zoo runner, the CLI's zoo command, tests and benchmarks, and
the target registry through its entry point.  Importing it imports every bug
module (and so the reference platform): they are small, and a zoo target is only
asked for when the platform is about to run.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from isolation_fuzz.errors import UsageError
from isolation_fuzz.platform.bugs import (
    broadcast_events,
    capped_scratch,
    delimiter_injection,
    glob_injection,
    global_current_user,
    incomplete_cleanup,
    lost_event,
    missing_user_filter,
    pooled_emitter_swap,
    prefix_ownership,
    reused_connection_slot,
    shared_engine_state,
    stale_result_cache,
    thread_ownership_unchecked,
    thread_routed_events,
    truncated_owner,
    unfiltered_key_listing,
    unscoped_cache_key,
    unscoped_delete,
    unverified_token,
)
from isolation_fuzz.platform.bugs._record import FAMILY, SeededBug
from isolation_fuzz.target import TargetFactory

__all__ = ["BUGS", "FAMILY", "SEEDED_BUGS", "TARGETS", "SeededBug", "seeded_bug"]

#: Every seeded bug's record, in the order the zoo command runs them.
SEEDED_BUGS: tuple[SeededBug, ...] = (
    global_current_user.BUG,
    shared_engine_state.BUG,
    unscoped_cache_key.BUG,
    delimiter_injection.BUG,
    glob_injection.BUG,
    prefix_ownership.BUG,
    broadcast_events.BUG,
    thread_routed_events.BUG,
    pooled_emitter_swap.BUG,
    unverified_token.BUG,
    missing_user_filter.BUG,
    thread_ownership_unchecked.BUG,
    lost_event.BUG,
    incomplete_cleanup.BUG,
    stale_result_cache.BUG,
    capped_scratch.BUG,
    unfiltered_key_listing.BUG,
    reused_connection_slot.BUG,
    truncated_owner.BUG,
    unscoped_delete.BUG,
)

#: The seeded bugs' names, in zoo order (what ``zoo --bugs`` accepts).
BUGS: tuple[str, ...] = tuple(bug.name for bug in SEEDED_BUGS)

#: ``zoo:<name>`` -> the variant's factory: the ``zoo:*`` target family (see pyproject.toml).
TARGETS: Mapping[str, TargetFactory] = MappingProxyType(
    {bug.target: bug.open_target for bug in SEEDED_BUGS}
)

_BY_NAME: Mapping[str, SeededBug] = MappingProxyType({bug.name: bug for bug in SEEDED_BUGS})


def seeded_bug(name: str) -> SeededBug:
    """The record of the bug called ``name``, or a `UsageError` naming the choices."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UsageError(f"unknown bug {name!r}; choose from {', '.join(BUGS)}") from None
