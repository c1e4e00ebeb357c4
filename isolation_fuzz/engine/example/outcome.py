"""Outcome recording: what a moved run came to, written into the history.

Design note.  Every move that moves a run (start, step, finish, look, and the
gather baseline) ends with the scheduler's
:class:`~isolation_fuzz.engine.schedule.controller.StepOutcome`:
paused, finished, failed or blocked.  :class:`OutcomeRecorder` turns it into history
records and into the one-word outcome a :class:`~isolation_fuzz.engine.trace.Move`
carries, the same way for every move, so a replay records exactly what the
recording did.

* paused: nothing to record yet; the run will move again.
* finished: each tool call's result, the run's end, then a residue probe: whatever
  the run left in a store after it ended (a lock, a scratch key, a session setting
  on a pooled connection) is recorded, for the oracle to judge.
* failed: an infrastructure error stops the campaign (it is no finding); any other
  error is the run's outcome, redacted, since its text may quote a token.
* blocked: the run reached no checkpoint in time; a ``RunBlocked`` record, which the
  oracle's ``runs_make_progress`` reports at once: the example fails at that step.

The recorder only writes; the oracle reads the history later, at the move's check
(a blocked run aside: it is judged at once).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NoReturn

from isolation_fuzz.engine.example.harness import Harness
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.schedule.runs import StepOutcome
from isolation_fuzz.errors import AuthError, InfrastructureError, is_infrastructure_failure
from isolation_fuzz.model import ResidueProbed, RunBlocked, RunFinished, ToolResult, Violation

__all__ = ["OutcomeRecorder"]


class OutcomeRecorder:
    """Records the outcomes of one example's runs into its history.

    Args:
        harness: the campaign's world (the target to probe, limits, stats, redactor).
        history: the example's history, appended to.
        run_owner: which identity owns each run id; shared with the example, read only.
        fail: ends the example with the given violations (it raises).
        check: every violation so far (default: the batch oracle over ``history``).
    """

    def __init__(
        self,
        harness: Harness,
        history: History,
        run_owner: dict[str, str],
        fail: Callable[[list[Violation]], NoReturn],
        *,
        check: Callable[[], list[Violation]] | None = None,
    ) -> None:
        self.harness = harness
        self.history = history
        self.run_owner = run_owner
        self._fail = fail
        # The example's incremental oracle when given; else the batch one (the same verdict).
        self._check = check or partial(oracle.check, history)
        #: Runs that returned while tasks they started still ran: ended with the last one.
        self._deferred: dict[str, StepOutcome] = {}

    def record(self, step: int, run_id: str, outcome: StepOutcome) -> str:
        """Record what ``run_id`` came to at ``step``; returns the move's outcome text.

        The paused runs it waited on, and moved, come first: their ends are recorded at
        the same step, and the text names each (``waited on r1's row lock: r1 finished``).
        """
        texts = []
        for waited in outcome.waited:
            moved = self._record(step, waited.holder, waited.outcome)
            if waited.kind == "task":  # one of its own tasks, moved with it
                texts.append(f"{waited.holder} {moved}")
            else:
                self.harness.stats.run_waited(waited.kind)
                texts.append(f"waited on {waited.holder}'s {waited.kind}: {waited.holder} {moved}")
        texts.append(self._record(step, run_id, outcome))
        texts += self._settle_deferred(step)
        return "; ".join(texts)

    def _record(self, step: int, run_id: str, outcome: StepOutcome) -> str:
        if "/" in run_id:
            return self._record_actor(step, run_id, outcome)
        owner = self.run_owner[run_id]
        if outcome.status in ("finished", "failed"):
            live = self.harness.controller.live_tasks(run_id)
            if live:
                # Its writes are done when its tasks are: the end is recorded then.
                self._deferred[run_id] = outcome
                return f"returned; its tasks {', '.join(live)} still run"
        return self._record_run(step, run_id, owner, outcome)

    def _settle_deferred(self, step: int) -> list[str]:
        """Record the end of each run whose last running task has just ended."""
        texts = []
        for run_id, outcome in list(self._deferred.items()):
            if not self.harness.controller.live_tasks(run_id):
                del self._deferred[run_id]
                ended = self._record_run(step, run_id, self.run_owner[run_id], outcome)
                texts.append(f"{run_id} {ended} with its tasks")
        return texts

    def _record_actor(self, step: int, actor: str, outcome: StepOutcome) -> str:
        """What a task a run started came to: its run's records hold the rest."""
        root = actor.split("/", 1)[0]
        if outcome.status == "paused":
            return f"paused at {outcome.label}"
        if outcome.status == "idle":
            return "idle (waiting for work)"
        if outcome.status == "finished":
            return "finished"
        if outcome.status == "failed":
            error = outcome.error
            if is_infrastructure_failure(error):
                raise InfrastructureError(
                    f"the target failed in task {actor}: {error}"
                ) from error
            if not isinstance(error, Exception):
                return "cancelled"
            return "failed: " + self.harness.redactor.redact(f"{type(error).__name__}: {error}")
        return self._record_run(step, root, self.run_owner[root], outcome)  # blocked

    def _record_run(self, step: int, run_id: str, owner: str, outcome: StepOutcome) -> str:
        ended = outcome.status in ("finished", "failed")
        if ended and self.harness.controller.runs_out_of_order(run_id):
            self.history.tasked.add(run_id)  # before its end: the read model reads it there
        if outcome.status == "paused":
            return f"paused at {outcome.label}"
        if outcome.status == "finished":
            plan = self.history.runs[run_id].plan
            self.harness.stats.tool_calls += len(plan)
            for index, (call, result) in enumerate(zip(plan, outcome.result, strict=False)):
                self.history.append(ToolResult(step, run_id, owner, index, call, result))
            self.history.append(RunFinished(step, run_id, owner, True, None))
            self.harness.stats.runs_finished += 1
            self._probe_residue(step, run_id, owner)
            return "finished"
        if outcome.status == "failed":
            error = outcome.error
            if is_infrastructure_failure(error):
                # Chained, so that the session can tell whose socket it was and name it.
                raise InfrastructureError(
                    f"the target failed in run {run_id}: {error}"
                ) from error
            text = self.harness.redactor.redact(f"{type(error).__name__}: {error}")
            self.history.append(RunFinished(step, run_id, owner, False, text))
            if isinstance(error, AuthError):  # a valid identity refused: isolation held
                self.harness.stats.runs_refused += 1
                return f"refused: {self.harness.redactor.redact(error.reason)}"
            # Counted: a run that fails is checked by nothing, so a target failing most
            # of them must not pass for clean (issue 10).
            self.harness.stats.run_failed(error)
            return f"failed: {text}"
        # Recorded, then judged at once by the oracle (its runs_make_progress reports
        # it): the example fails here, before the move is listed, as it always has.
        self.history.append(RunBlocked(step, run_id, owner, self.harness.limits.block_timeout))
        self.harness.stats.runs_blocked += 1
        violations = self._check()
        if violations:
            self._fail(violations)
        return "blocked"  # only if the user unregistered runs_make_progress

    def _probe_residue(self, step: int, run_id: str, owner: str) -> None:
        # Asked right after the run ends, before any other run moves: what is left
        # then is this run's, not a later run's work in progress.
        # Bounded by the service timeout: a stalled store must end the campaign, not hang it.
        stalls = self.harness.controller.stalls
        residue = self.harness.loop.call(
            stalls.bounded, "residue probe", self.harness.target.residue, run_id
        )
        for store, leftovers in sorted(residue.items()):
            if leftovers:
                self.history.append(ResidueProbed(step, run_id, owner, store, tuple(leftovers)))
