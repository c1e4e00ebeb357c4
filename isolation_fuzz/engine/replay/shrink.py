"""Cut a failing list of moves down to the moves it needs: delta debugging over moves.

Minimising happens after Hypothesis has shrunk a failure.  Hypothesis shrinks the
choices it made; deleting a whole move there also shifts the choices after it (rule
flags, owners), so it sometimes keeps a move the failure does not need.  Here the
moves themselves are deleted, one at a time (a run's start takes its later steps
with it), and a deletion is kept when the replay still violates one of the same
invariants, until no single deletion keeps it failing.

Connection moves (issue 13) are moves like any other: deleting a ``connect`` or a
``reconnect`` takes the later moves on the connection it opened with it, as deleting
a run's start takes its steps.  Then identities that no remaining move names are
deleted, any of them, not only the last (:mod:`isolation_fuzz.engine.replay.drop_identity`
renames the rest and their log-in connections so the moves stay consistent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from isolation_fuzz.engine.example.harness import Harness
from isolation_fuzz.engine.replay.drop_identity import drop_identity, unused_identities
from isolation_fuzz.engine.replay.perform import Replayed, perform
from isolation_fuzz.engine.trace import CONNECTION_MOVES, Move

__all__ = ["minimize"]


def minimize(
    harness: Harness,
    found: Replayed,
    *,
    budget_seconds: float = 60.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[Replayed, bool]:
    """Delete moves, unused identities, then plan calls while the replay keeps violating.

    Returns the smallest failing replay and whether it is a fixpoint: no single
    deletion keeps it failing (``False`` when time ran out first).
    """
    wanted = found.invariants
    best = found
    deadline = time.monotonic() + budget_seconds
    while True:
        for candidate in _smaller(best):
            if should_stop() or time.monotonic() >= deadline:
                return best, False
            outcome = perform(harness, candidate.identities, candidate.moves, strict=False)
            if outcome.invariants & wanted and _size(outcome) < _size(best):
                best = outcome
                break
        else:
            return best, True


def _without_connection_move(chosen: list[Move], index: int) -> list[Move]:
    """``chosen`` without its ``index``-th move and the later moves on what that opened."""
    gone = {index}
    opened = {chosen[index].opened if chosen[index].kind == "reconnect"
              else chosen[index].connection_id if chosen[index].kind == "connect" else None}
    for later in range(index + 1, len(chosen)):
        move = chosen[later]
        if move.kind in ("disconnect", "reconnect") and move.connection_id in opened:
            gone.add(later)
            opened.add(move.opened)
    return [m for position, m in enumerate(chosen) if position not in gone]


def _size(r: Replayed) -> tuple[int, int, int]:
    chosen = [m for m in r.moves if not m.final]
    return (len(chosen), len(r.identities), sum(len(m.plan) for m in chosen))


def _smaller(current: Replayed) -> list[Replayed]:
    chosen = [m for m in current.moves if not m.final]
    out: list[Replayed] = []
    # Later moves first: they are the likeliest to be padding after the failure's cause.
    for index in reversed(range(len(chosen))):
        move = chosen[index]
        if move.kind in ("start_run", "look"):
            rest = [m for m in chosen if m.run_id != move.run_id]
        elif move.kind in CONNECTION_MOVES:
            rest = _without_connection_move(chosen, index)
        else:
            rest = chosen[:index] + chosen[index + 1 :]
        out.append(Replayed(current.identities, tuple(rest), ()))
    # Identities no move needs, any of them (the last first), with their connections.
    if len(current.identities) > 1:
        for name in unused_identities(current.identities, chosen):
            fewer, moves = drop_identity(current.identities, chosen, name)
            out.append(Replayed(fewer, moves, ()))
    # Then tool calls within plans: a reader should see only the calls the leak needs.
    for index, move in enumerate(chosen):
        if move.kind != "start_run" or len(move.plan) < 2:
            continue
        for call in reversed(range(len(move.plan))):
            plan = move.plan[:call] + move.plan[call + 1 :]
            shorter = replace(move, plan=plan)
            out.append(Replayed(current.identities,
                                (*chosen[:index], shorter, *chosen[index + 1 :]), ()))
    return out
