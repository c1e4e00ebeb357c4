"""What a finished run's events on one connection should have been: the lifecycle rules.

Design note.  ``complete_lifecycle`` (registered in :mod:`isolation_fuzz.engine.oracle.invariants`)
asks, per finished run and owner's connection, whether what arrived is a whole
lifecycle; this module answers, for either of two kinds of target (issue 11):

* **Exact**, for a target with the reference platform's five kinds (the default
  :class:`~isolation_fuzz.capabilities.Capabilities`): every event is known in
  advance from the plan (started, per tool call thinking, executing, completed, then
  agent completed) with its ``seq``, so a lost, repeated or reordered event is named
  precisely.  If events of undeclared kinds share the run's numbering, the declared
  ones are compared by kind and arrival rank instead of by ``seq``.
* **Declared**, for a target with kinds of its own: only its begin and end kinds
  are known to the fuzzer.  A run's declared-kind events must hold exactly one begin
  event, first, and exactly one end event, last, with no ``seq`` twice and ``seq``
  rising in arrival order.  How many events come between is the target's business.

A connection open for only part of a run (opened after it started, or closed before
it ended: issue 13's connection moves) may miss any of its events, so
:func:`judge_partial` asks only that none arrived twice.

Either way only the declared kinds are judged: an event of any other kind is routed
and checked for routing and canaries elsewhere (``events_reach_only_owner``,
``no_foreign_data``), never counted as a lifecycle fault.  That is what lets a
system with extra event kinds be fuzzed without false violations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.model import ConnectionClosed, ConnectionOpened, EventDelivered, RunStarted

__all__ = [
    "LifecycleFault", "Received", "connection_log", "expected_kinds", "judge", "judge_partial",
    "origin",
]


def expected_kinds(calls: int) -> list[str]:
    """The event kinds of a successful run of ``calls`` tool calls, in order (exact mode)."""
    middle = ["agent_thinking", "tool_executing", "tool_completed"] * calls
    return ["agent_started", *middle, "agent_completed"]


@dataclass(frozen=True)
class LifecycleFault:
    """What was wrong with one connection's events of one run.

    Attributes:
        anomaly: ``DuplicateEvent``, ``LostEvent`` or ``EventsOutOfOrder``.
        detail: what exactly, e.g. ``missing: tool_completed#3``.
        due: what was due, in words (``5 events``, ``a begin event ... first``).
        expected: ``[kind, seq]`` pairs due (declared mode: ``[kinds, "first"|"last"]``).
        received: the ``[kind, seq]`` pairs of the declared kinds, in arrival order.
    """

    anomaly: str
    detail: str
    due: str
    expected: list[list[Any]]
    received: list[list[Any]]


def judge(
    capabilities: Capabilities, calls: int, delivered: list[tuple[str, int]]
) -> LifecycleFault | None:
    """The fault in ``delivered`` (every kind, in arrival order) for a run of ``calls`` calls."""
    declared = set(capabilities.event_kinds)
    got = [(kind, seq) for kind, seq in delivered if kind in declared]
    if capabilities.exact_lifecycle:
        return _exact(calls, got, mixed=len(got) != len(delivered))
    return _declared(capabilities, got)


def judge_partial(
    capabilities: Capabilities, delivered: list[tuple[str, int]]
) -> LifecycleFault | None:
    """The fault in ``delivered`` on a connection open for part of the run: a repeat."""
    declared = set(capabilities.event_kinds)
    got = [(kind, seq) for kind, seq in delivered if kind in declared]
    repeated = sorted({f"#{seq}" for (_, seq), n in Counter(got).items() if n > 1})
    if not repeated:
        return None
    return LifecycleFault(
        "DuplicateEvent", f"repeated: {', '.join(repeated)}",
        "at most one of each event due on a connection open for part of the run",
        [], [list(g) for g in got],
    )


def _exact(calls: int, got: list[tuple[str, int]], *, mixed: bool) -> LifecycleFault | None:
    expected = [(kind, seq) for seq, kind in enumerate(expected_kinds(calls))]
    compared = got
    if mixed and len({seq for _, seq in got}) == len(got):
        # Undeclared kinds took numbers of the run's sequence: judge the declared
        # events by their rank in it, not by the numbers themselves.
        rank = {seq: i for i, seq in enumerate(sorted(seq for _, seq in got))}
        compared = [(kind, rank[seq]) for kind, seq in got]
    if compared == expected:
        return None
    anomaly, detail = _exact_anomaly(expected, compared)
    return LifecycleFault(
        anomaly, detail, f"{len(expected)} events",
        [list(e) for e in expected], [list(g) for g in got],
    )


def _exact_anomaly(
    expected: list[tuple[str, int]], got: list[tuple[str, int]]
) -> tuple[str, str]:
    """Name what is wrong with ``got``: duplicates first, then losses, then order."""
    seqs = Counter(seq for _, seq in got)
    kinds = Counter(kind for kind, _ in got)
    wanted = Counter(kind for kind, _ in expected)
    # A kind seen more often than the plan allows is a duplicate even under a new seq.
    repeated = sorted({f"#{s}" for s, n in seqs.items() if n > 1}
                      | {k for k, n in kinds.items() if n > wanted[k]})
    if repeated:
        return "DuplicateEvent", f"repeated: {', '.join(repeated)}"
    present = set(got)
    missing = [f"{k}#{s}" for k, s in expected if (k, s) not in present]
    if missing:
        return "LostEvent", f"missing: {', '.join(missing)}"
    return "EventsOutOfOrder", "every event arrived once, out of order"


def _declared(capabilities: Capabilities, got: list[tuple[str, int]]) -> LifecycleFault | None:
    begin, end = set(capabilities.begin_kinds), set(capabilities.end_kinds)
    begins = [kind for kind, _ in got if kind in begin]
    ends = [kind for kind, _ in got if kind in end]
    seqs = Counter(seq for _, seq in got)
    fault: tuple[str, str] | None = None
    repeated = sorted({f"#{s}" for s, n in seqs.items() if n > 1}
                      | ({f"{len(begins)} begin events"} if len(begins) > 1 else set())
                      | ({f"{len(ends)} end events"} if len(ends) > 1 else set()))
    if repeated:
        fault = ("DuplicateEvent", f"repeated: {', '.join(repeated)}")
    elif not begins or not ends:
        missing = [f"a {'|'.join(kinds)} event" for kinds, seen in (
            (capabilities.begin_kinds, begins), (capabilities.end_kinds, ends)) if not seen]
        fault = ("LostEvent", f"missing: {', '.join(missing)}")
    elif (got[0][0] not in begin or got[-1][0] not in end
          or any(a[1] >= b[1] for a, b in pairwise(got))):
        fault = ("EventsOutOfOrder", "every event arrived once, out of order")
    if fault is None:
        return None
    first, last = "|".join(capabilities.begin_kinds), "|".join(capabilities.end_kinds)
    return LifecycleFault(
        fault[0], fault[1], f"one {first} event first and one {last} event last",
        [[first, "first"], [last, "last"]], [list(g) for g in got],
    )


def origin(start: RunStarted, opened: dict[str, ConnectionOpened],
            closed: dict[str, int]) -> str | None:
    """The connection a run started through: its owner's newest one open at the start."""
    newest = None
    for connection_id, conn in opened.items():  # in the order they opened
        if (conn.identity == start.identity and conn.step < start.step
                and closed.get(connection_id, start.step + 1) > start.step):
            newest = connection_id
    return newest


#: Per (connection id, run id): the kind, sequence number and step of each event received.
Received = dict[tuple[str, str], list[tuple[str, int, int]]]


def connection_log(
    entries: Iterable[object],
) -> tuple[dict[str, ConnectionOpened], dict[str, int], Received]:
    """Each connection's opening, the step it first closed, and the events it received."""
    opened: dict[str, ConnectionOpened] = {}
    closed: dict[str, int] = {}
    received: Received = {}
    for record in entries:
        if isinstance(record, ConnectionOpened):
            opened[record.connection_id] = record
        elif isinstance(record, ConnectionClosed):
            closed.setdefault(record.connection_id, record.step)
        elif isinstance(record, EventDelivered):
            key = (record.connection_id, record.event.run_id)
            received.setdefault(key, []).append(
                (record.event.kind, record.event.seq, record.step)
            )
    return opened, closed, received
