"""Re-execute a list of moves: a replay performs the example rather than imitating it.

Replaying goes through :class:`~isolation_fuzz.engine.example.execution.Execution`, the
same code the state machine drives.  Cutting a failing list down is
:mod:`isolation_fuzz.engine.replay.shrink`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from isolation_fuzz.engine.example.execution import Execution
from isolation_fuzz.engine.example.harness import Harness, IsolationViolated, Stats
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import Violation

__all__ = ["ReplayDiverged", "Replayed", "perform"]


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
    ex = Execution(replace(harness, stats=Stats()))
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
