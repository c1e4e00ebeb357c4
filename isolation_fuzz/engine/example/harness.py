"""The harness: what every example of a campaign shares, and the failure it raises.

Design note.  A campaign opens its world once: the event loop (a blocking portal),
the run controller on it, the target opened on the services, the signing key and
the redactor that hides every secret.  Opening them per example would cost more
than a typical example's moves, so they live in one :class:`Harness` that each
example's :class:`~isolation_fuzz.engine.example.execution.Execution` borrows.  The harness
also carries how big an example may grow (:class:`Limits`), the campaign's running
counters (:class:`Stats`) and the two callbacks the campaign listens on.

Runs are counted by outcome (:class:`RunCounts`), because a run that fails is
checked by nothing: before issue 10, a system that raised on every request was
reported "clean".  Finished, failed (by the error's type), rejected (a forged
token's run, refused as it should be) and blocked.  When most runs of valid
identities fail (over half of at least :data:`MIN_RUNS_TO_JUDGE`), the target is
not working and no verdict of "clean" can be trusted
(:meth:`RunCounts.target_not_working`).

:class:`IsolationViolated` is what an example raises when the oracle finds
something: an ``AssertionError``, so Hypothesis treats it as a failure to shrink,
carrying the violations, the identities, the moves and the history as evidence.

Nothing here performs a move or reads the target; this module only holds the world.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.schedule.controller import RunController
from isolation_fuzz.engine.schedule.loop import CampaignLoop
from isolation_fuzz.engine.schedule.points import Points
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.errors import IsolationFuzzError, TargetFailed
from isolation_fuzz.model import EventDelivered, Violation
from isolation_fuzz.redaction import Redactor
from isolation_fuzz.target import Target
from isolation_fuzz.tokens import AuthConfig

__all__ = [
    "MIN_RUNS_TO_JUDGE",
    "NAMES",
    "Harness",
    "IsolationViolated",
    "Limits",
    "RunCounts",
    "Stats",
]

#: The names identities go by in an example, in the order they log in.
NAMES = "ABCDEFGH"


@dataclass(frozen=True)
class Limits:
    """How big one example may grow."""

    max_identities: int = 3
    max_runs: int = 6
    #: Looks in the middle of an example (the final reads come on top of these).
    max_looks: int = 2
    #: Forged-token attempts per example: they do not depend on the interleaving, so
    #: one per example explores them fully while leaving the steps to the runs.
    max_forgeries: int = 1
    #: Connection moves (connect, disconnect, reconnect) per example (issue 13): few,
    #: since a connection bug needs one or two of them and every one displaces a step.
    max_connection_moves: int = 2
    #: Connections one identity may hold open at once (its log-in one included).
    max_connections: int = 2
    max_plan_calls: int = 3
    block_timeout: float = 5.0
    #: Run every agent run start to end in one move (no interleaving): the baseline
    #: that shows what the interleaving itself finds.
    atomic_runs: bool = False
    #: Which suspensions are interleaving points: ``auto`` (every real await and every
    #: explicit checkpoint), ``explicit`` or ``auto-only`` (:mod:`.points`, issue 12).
    points: Points = "auto"
    #: Open a new target from the factory after every example (``--fresh-target``), for
    #: systems whose in-process state ``reset()`` cannot enumerate (engine/fresh.py).
    fresh_target: bool = False


#: Fewer runs of valid identities than this say nothing about whether the target works.
MIN_RUNS_TO_JUDGE = 10


@dataclass(frozen=True)
class RunCounts:
    """How the runs of a campaign ended.

    Attributes:
        finished: Runs of valid identities that returned.
        failed: Runs of valid identities that raised, by the error's type name.
        rejected: Runs with a forged token that the target refused.
        blocked: Runs that waited on a paused run (every service answering).
        waited: Times a run waited on what a paused run held, and that run was moved,
            by what it held (``row lock``, ``pool slot``, ``lock``): not blocked.
        leaked: Tasks a run started that outlived their example, waiting for work,
            by the line that created them: let go to run freely, and said.
        refused: Runs of valid identities the target refused (``Refused`` or any
            ``AuthError``): correct isolation on what is not theirs, not a failure.
    """

    finished: int = 0
    failed: Mapping[str, int] = field(default_factory=dict)
    rejected: int = 0
    blocked: int = 0
    waited: Mapping[str, int] = field(default_factory=dict)
    leaked: Mapping[str, int] = field(default_factory=dict)
    refused: int = 0

    @property
    def failed_total(self) -> int:
        """Runs of valid identities that raised, whatever the error."""
        return sum(self.failed.values())

    @property
    def valid(self) -> int:
        """Runs of valid identities: finished, failed, refused or blocked."""
        return self.finished + self.failed_total + self.refused + self.blocked

    def target_not_working(self) -> bool:
        """Whether, of at least :data:`MIN_RUNS_TO_JUDGE` valid runs, over half failed
        or none finished (a target that refuses everything checks nothing)."""
        return self.valid >= MIN_RUNS_TO_JUDGE and (
            2 * self.failed_total > self.valid or self.finished == 0
        )

    def describe(self) -> str:
        """``12 finished, 3 failed (KeyError 2, ValueError 1), 1 rejected, 0 blocked``."""
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.failed.items()))
        failed = f"{self.failed_total} failed" + (f" ({kinds})" if kinds else "")
        text = (
            f"{self.finished} finished, {failed}, {self.rejected} rejected, "
            f"{self.blocked} blocked"
        )
        if self.refused:
            text += f", {self.refused} refused (not theirs)"
        if self.waited:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.waited.items()))
            text += f"; {sum(self.waited.values())} waited on another run's lock ({kinds})"
        return text

    def leak_warning(self) -> str | None:
        """The warning for tasks that outlived their example, naming where they were made."""
        if not self.leaked:
            return None
        sites = ", ".join(f"{site} (x{n})" for site, n in sorted(self.leaked.items()))
        return (
            f"warning: {sum(self.leaked.values())} task(s) a run started outlived their "
            f"example, waiting for work, and were let go to run unscheduled: created at {sites}"
        )

    def to_json(self) -> dict[str, object]:
        """The counts as summary.json shows them."""
        return {
            "finished": self.finished,
            "failed": self.failed_total,
            "failed_by_error": dict(sorted(self.failed.items())),
            "rejected": self.rejected,
            "blocked": self.blocked,
            "waited": dict(sorted(self.waited.items())),
            "leaked_tasks": dict(sorted(self.leaked.items())),
            "refused": self.refused,
        }


@dataclass
class Stats:
    """Counters of a campaign, updated as it runs."""

    examples: int = 0
    steps: int = 0
    #: Tool calls of finished runs: each one store operation of the target.
    tool_calls: int = 0
    violations: int = 0
    started: float = field(default_factory=time.monotonic)
    #: Seconds from the start, and examples run, when the first violation was seen.
    first_failure_seconds: float | None = None
    first_failure_examples: int | None = None
    #: How runs ended: ``finished``, ``rejected``, ``blocked`` and per error type failed.
    runs_finished: int = 0
    runs_failed: dict[str, int] = field(default_factory=dict)
    runs_rejected: int = 0
    runs_blocked: int = 0
    #: Runs of valid identities the target refused (not theirs).
    runs_refused: int = 0
    #: Times a run waited on a paused run's lock, row lock or pool slot, by kind.
    runs_waited: dict[str, int] = field(default_factory=dict)
    #: Tasks started by runs that outlived their example, by creation site.
    leaked_tasks: dict[str, int] = field(default_factory=dict)
    #: Generated user ids that failed the target's declared ``user_ids`` predicate,
    #: and how many of those were replaced by a valid id of the same family.
    ids_dropped: int = 0
    ids_replaced: int = 0

    def run_failed(self, error: BaseException | None) -> None:
        """Count a run of a valid identity that raised ``error``."""
        kind = type(error).__name__
        self.runs_failed[kind] = self.runs_failed.get(kind, 0) + 1

    def run_waited(self, kind: str) -> None:
        """Count a run that waited on what a paused run held (``row lock``, ...)."""
        self.runs_waited[kind] = self.runs_waited.get(kind, 0) + 1

    def tasks_leaked(self, sites: list[str]) -> None:
        """Count tasks, by creation site, that outlived their example."""
        for site in sites:
            self.leaked_tasks[site] = self.leaked_tasks.get(site, 0) + 1

    def run_counts(self) -> RunCounts:
        """A snapshot of the run counters."""
        return RunCounts(
            self.runs_finished, dict(self.runs_failed), self.runs_rejected, self.runs_blocked,
            dict(self.runs_waited), dict(self.leaked_tasks), self.runs_refused,
        )

    def saw_violation(self) -> None:
        """Count a failing example; the first one also fixes the time-to-first-failure."""
        self.violations += 1
        if self.first_failure_seconds is None:
            self.first_failure_seconds = time.monotonic() - self.started
            self.first_failure_examples = self.examples


@dataclass
class Harness:
    """What every example of a campaign shares: the loop, the target and the auth config."""

    loop: CampaignLoop
    controller: RunController
    target: Target
    auth: AuthConfig
    redactor: Redactor
    limits: Limits = field(default_factory=Limits)
    stats: Stats = field(default_factory=Stats)
    #: What the target declares it has (issue 11): which stores are drawn, which event
    #: kinds have a lifecycle, which user ids it accepts.
    capabilities: Capabilities = field(default_factory=Capabilities)
    #: The target's name as the user gave it, for errors of theirs.
    name: str = "target"

    def call_target(self, what: str, when: str, fn: Any, *args: Any) -> Any:
        """Call the target's ``what`` outside any run, within the service timeout.

        An exception of the target's own (not one of the tool's) is theirs: it leaves
        as :class:`~isolation_fuzz.errors.TargetFailed`, naming ``when`` and their frame.
        """
        try:
            return self.loop.call(self.controller.stalls.bounded, what, fn, *args)
        except (IsolationFuzzError, AssertionError):
            raise
        except Exception as exc:
            raise TargetFailed(self.name, f"in its {what} {when}", exc) from exc


class IsolationViolated(AssertionError):
    """Raised when the oracle finds violations; carries the evidence and the moves."""

    #: The interleaving points the example ran with (a scenario must replay with them).
    points: Points = "explicit"

    def __init__(
        self,
        violations: list[Violation],
        identities: dict[str, str],
        moves: list[Move],
        history: History,
    ) -> None:
        self.violations = violations
        self.identities = identities
        self.moves = moves
        self.history = history
        super().__init__("; ".join(v.message for v in violations))

    def deliveries(self) -> list[dict[str, Any]]:
        """Every event delivery: step, run, its owner, who received it, and whether foreign."""
        out = []
        for record in self.history.of_type(EventDelivered):
            started = self.history.runs.get(record.event.run_id)
            owner = started.identity if started is not None else None
            out.append({
                "step": record.step,
                "run_id": record.event.run_id,
                "owner": owner,
                "receiver": record.identity,
                "type": record.event.kind,
                "foreign": owner is not None and owner != record.identity,
            })
        return out
