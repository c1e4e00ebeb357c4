"""The zoo: seeded-bug variants of the reference platform, one small module each.

What lives here: twenty-four modules, each differing from the reference platform in
one place (``variant(part=...)``), explaining its bug in its docstring and
declaring it as data in one :class:`SeededBug` record, ``BUG``.  The bugs are
classes that real multi-user agent backends have shipped.  This package lists the
records in the order the zoo runs them, and offers them as targets: the
``isolation_fuzz.targets`` entry point ``zoo:*`` names :data:`TARGETS`, so
``--target zoo:<name>`` selects a variant while the engine and the target registry
know nothing of the zoo.

The twenty-four, in zoo order (each module's docstring tells the whole story):

* ``global_current_user``: the request's user in a process-wide variable across an ``await``;
* ``shared_engine_state``: the engine tracks active runs in a map keyed by thread id;
* ``unscoped_cache_key``: a ClickHouse result cache keyed by query and parameters, not user;
* ``delimiter_injection``: Redis keys joined as ``user:{uid}:{key}`` with raw segments;
* ``glob_injection``: listing with a SCAN pattern built from the raw user id;
* ``prefix_ownership``: ownership matched by string prefix (``u1`` owns ``u10``'s rows);
* ``broadcast_events``: the emitter sends every event to every open connection;
* ``thread_routed_events``: events routed by thread id alone;
* ``pooled_emitter_swap``: pooled emitters handed out again still bound to their last user;
* ``unverified_token``: the JWT's claims read without verifying its signature;
* ``missing_user_filter``: one ClickHouse aggregate path lacks the owner filter;
* ``thread_ownership_unchecked``: reading a thread by id does not check who owns it;
* ``lost_event``: a sequence counter shared by a thread's runs makes events skip or repeat;
* ``incomplete_cleanup``: cleanup leaves the request's scratch keys behind in Redis;
* ``stale_result_cache``: ClickHouse writes no longer invalidate the cached results;
* ``capped_scratch``: the Redis scratch trimmed to its oldest entry, not its newest;
* ``unfiltered_key_listing``: the ClickHouse listing lists every user's key names;
* ``reused_connection_slot``: a freed connection slot reused while old routing points at it;
* ``truncated_owner``: ClickHouse rows owned by the first 8 characters of the user id;
* ``unscoped_delete``: ClickHouse drops a key's old rows by its name alone, every user's;
* ``write_behind_owner``: a fire-and-forget write reads its owner when it runs;
* ``inherited_request_identity``: a write queue's worker keeps the first request's user;
* ``unguarded_thread_claim``: a thread claimed by check-then-act on a held connection;
* ``session_scoped_user``: the acting user set per pooled session, and unset means everyone.

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
    inherited_request_identity,
    lost_event,
    missing_user_filter,
    pooled_emitter_swap,
    prefix_ownership,
    reused_connection_slot,
    session_scoped_user,
    shared_engine_state,
    stale_result_cache,
    thread_ownership_unchecked,
    thread_routed_events,
    truncated_owner,
    unfiltered_key_listing,
    unguarded_thread_claim,
    unscoped_cache_key,
    unscoped_delete,
    unverified_token,
    write_behind_owner,
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
    write_behind_owner.BUG,
    inherited_request_identity.BUG,
    unguarded_thread_claim.BUG,
    session_scoped_user.BUG,
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
