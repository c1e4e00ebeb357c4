"""Re-execute a list of moves, and cut a failing list down to the moves it needs.

Replaying goes through :class:`~isolation_fuzz.engine.execution.Execution`, the same code
the state machine drives, so a replay performs the example rather than imitating it.

Minimising happens after Hypothesis has shrunk a failure.  Hypothesis shrinks the
choices it made; deleting a whole move there also shifts the choices after it (rule
flags, owners), so it sometimes keeps a move the failure does not need.  Here the
moves themselves are deleted, one at a time (a run's start takes its later steps
with it), and a deletion is kept when the replay still violates one of the same
invariants, until no single deletion keeps it failing: delta debugging over moves.

Connection moves (issue 13) are moves like any other: deleting a ``connect`` or a
``reconnect`` takes the later moves on the connection it opened with it, as deleting
a run's start takes its steps.  Then identities that no remaining move names are
deleted, any of them, not only the last (:mod:`isolation_fuzz.engine.drop_identity`
renames the rest and their log-in connections so the moves stay consistent).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from isolation_fuzz.engine.drop_identity import drop_identity, unused_identities
from isolation_fuzz.engine.execution import Execution
from isolation_fuzz.engine.harness import Harness, IsolationViolated, Stats
from isolation_fuzz.engine.trace import CONNECTION_MOVES, Move
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import Violation

__all__ = ["ReplayDiverged", "Replayed", "minimize", "perform"]


class ReplayDiverged(UsageError):
    """A replayed move referred to a run that was not paused: the target behaves differently."""


@dataclass(frozen=True)
class Replayed:
    """What one replay did and saw."""

    identities: dict[str, str]
    moves: tuple[Move, ...]
    violations: tuple[Violation, ...]
    #: Event deliveries of the failing replay (see ``IsolationViolated.deliveries``).
    deliveries: tuple[dict[str, Any], ...] = ()
    #: Moves whose outcome differed from the recorded one (step, recorded, replayed).
    diverged: tuple[tuple[int, str, str], ...] = ()

    @property
    def reproduced(self) -> bool:
        return bool(self.violations)

    @property
    def invariants(self) -> frozenset[str]:
        return frozenset(v.invariant for v in self.violations)


def perform(
    harness: Harness,
    identities: dict[str, str],
    moves: Sequence[Move],
    *,
    strict: bool = True,
) -> Replayed:
    """Log the identities in, perform the chosen moves in order, then the final reads.

    Final reads are recomputed, not replayed: they follow from the moves before them.
    With ``strict``, a move aimed at a run that is not paused raises
    :class:`ReplayDiverged`; otherwise it is skipped (minimising deletes moves).
    """
    ex = Execution(replace(harness, stats=Stats(), on_step=None, on_failure=None))
    diverged: list[tuple[int, str, str]] = []
    try:
        ex.log_in([identities[name] for name in sorted(identities)])
        ex.check()
        for move in moves:
            if move.final:
                continue
            if not _perform_one(ex, move, strict):
                diverged.append((move.step, move.outcome, "skipped: that run was not paused"))
                continue
            done = ex.moves[-1]
            if move.outcome and done.outcome != move.outcome:
                diverged.append((move.step, move.outcome, done.outcome))
            ex.check()
        ex.final_reads()
    except IsolationViolated as failure:
        return Replayed(
            dict(failure.identities), tuple(failure.moves), tuple(failure.violations),
            tuple(failure.deliveries()), tuple(diverged),
        )
    finally:
        ex.close()
    return Replayed(ex.user_ids(), tuple(ex.moves), (), (), tuple(diverged))


def _perform_one(ex: Execution, move: Move, strict: bool) -> bool:
    name = move.identity or ""
    if move.kind in ("step", "finish"):
        if move.run_id not in ex.active():
            if strict:
                raise ReplayDiverged(
                    f"move #{move.step} ({move.kind} run {move.run_id}) found that run "
                    "not paused; the target no longer behaves as when this was recorded"
                )
            return False
        if move.kind == "step":
            ex.step(move.run_id)
        else:
            ex.finish(move.run_id)
    elif move.kind == "start_run":
        ex.start_run(name, move.thread_id or "t1", move.plan, run_id=move.run_id, marked=True)
    elif move.kind == "look":
        ex.look(name, move.thread_id or "t1", run_id=move.run_id)
    elif move.kind == "forge":
        victim = str(move.extra.get("victim", name))
        ex.forge(name, victim, move.forgery, move.action or "run")  # type: ignore[arg-type]
    elif move.kind == "connect":
        ex.connect(name, connection_id=move.connection_id)
    elif move.kind in ("disconnect", "reconnect"):
        held = ex.streams.get(move.connection_id or "")
        if held is None or held[0] != name:
            if strict:
                raise ReplayDiverged(
                    f"move #{move.step} ({move.kind} {move.connection_id} of {name}) found "
                    "that connection not open; the target no longer behaves as recorded"
                )
            return False
        if move.kind == "disconnect":
            ex.disconnect(move.connection_id or "")
        else:
            ex.reconnect(move.connection_id or "", opened=move.opened)
    else:
        raise UsageError(f"cannot replay a move of kind {move.kind!r} (step {move.step})")
    return True


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
