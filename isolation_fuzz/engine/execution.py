"""One example's world: identities, runs, connections and the history, moved one move at a time.

The Hypothesis state machine draws *which* move comes next; an :class:`Execution`
*performs* it.  Replaying a scenario file performs the same moves through the same
methods, so a replay is the example, not an imitation of it.

Every move ends with :meth:`Execution.check`: the events that arrived are recorded
and every invariant is checked; a violation raises :class:`IsolationViolated`.
An example ends with :meth:`Execution.final_reads` (every run left paused
finishes, then every identity looks at all it holds), as Jepsen ends each test
with final reads: a leak then needs only the write, not a reader that happens to
come along.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn

import anyio

from isolation_fuzz.checkpoint import installed_hook
from isolation_fuzz.engine import oracle
from isolation_fuzz.engine.canary import find_canaries, make_canary
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.identity import (
    AuthConfig,
    ForgeryKind,
    Redactor,
    forge_token,
    mint_token,
)
from isolation_fuzz.engine.schedule import CampaignLoop, RunController, StepOutcome
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.errors import AuthError, InfrastructureError
from isolation_fuzz.model import (
    STORES,
    ConnectionOpened,
    EventDelivered,
    ForgedAttempt,
    Plan,
    ResidueProbed,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolResult,
    Violation,
)
from isolation_fuzz.target import EventStream, Target

__all__ = ["NAMES", "Execution", "Harness", "IsolationViolated", "Limits", "Stats"]

NAMES = "ABCDEFGH"
#: A forged request that is accepted is stepped at most this often before giving up.
_FORGED_RUN_STEPS = 200
#: A run left to finish is stepped at most this often (plans are short; this is a backstop).
_FINISH_STEPS = 500


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
    max_plan_calls: int = 3
    block_timeout: float = 5.0
    #: Run every agent run start to end in one move (no interleaving): the baseline
    #: that shows what the interleaving itself finds.
    atomic_runs: bool = False


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

    def saw_violation(self) -> None:
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
    on_step: Callable[[Stats], None] | None = None
    #: Told of every failing example as it fails, before any shrinking: nothing is lost.
    on_failure: Callable[[IsolationViolated], None] | None = None


class IsolationViolated(AssertionError):
    """Raised when the oracle finds violations; carries the evidence and the moves."""

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


@dataclass(frozen=True)
class _Identity:
    name: str
    user_id: str
    token: str = field(repr=False)


def canary_for(name: str, index: int) -> str:
    """The ``index``-th canary of identity ``name``.

    Derived, not drawn: shrinking must not make two identities' canaries collide,
    and replays must produce the same markers.
    """
    digest = hashlib.blake2b(f"{name}/{index}".encode(), digest_size=8).digest()
    return make_canary(int.from_bytes(digest, "big"))


class Execution:
    """The state of one example, and the moves that change it."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.loop = harness.loop
        # One controller for the whole campaign: entering a task group per example
        # through the portal would cost more than a typical example's steps.
        self.controller = harness.controller
        self.identities: dict[str, _Identity] = {}
        self.history = History()
        self.moves: list[Move] = []
        self.streams: dict[str, tuple[str, EventStream]] = {}
        self.run_owner: dict[str, str] = {}
        self.run_count = 0
        self.look_count = 0
        self.forgeries = 0
        self.canary_count: dict[str, int] = {}
        self.step_index = 0
        self.checked_step = -1

    # -- queries -------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.identities)

    def user_ids(self) -> dict[str, str]:
        return {n: i.user_id for n, i in self.identities.items()}

    def active(self) -> list[str]:
        """Runs paused at a checkpoint, oldest first."""
        return self.controller.active()

    def next_run_id(self) -> str:
        return f"r{self.run_count + 1}"

    # -- moves ---------------------------------------------------------------------

    def log_in(self, user_ids: Sequence[str]) -> None:
        """Mint a token for each identity and connect it; it stays connected throughout."""
        for index, user_id in enumerate(user_ids):
            name = NAMES[index]
            token = mint_token(self.harness.auth, user_id)
            self.harness.redactor.add(token)
            self.identities[name] = _Identity(name, user_id, token)
            self.history.add_identity(name, user_id)
        for name, ident in self.identities.items():
            connection_id = f"c{len(self.streams) + 1}"
            stream = self.loop.call(self.harness.target.connect, ident.token)
            self.streams[connection_id] = (name, stream)
            self.history.append(ConnectionOpened(0, connection_id, name))

    def start_run(
        self, name: str, thread_id: str, plan: Plan, *, run_id: str | None = None,
        marked: bool = False,
    ) -> str:
        """Start a run of ``plan``; it advances to its first checkpoint and pauses.

        ``marked`` says the plan's values already carry their canaries (a replay).
        """
        step = self._next_step()
        self.run_count += 1
        run_id = run_id or f"r{self.run_count}"
        plan = self._register_canaries(name, plan) if marked else self._with_canaries(name, plan)
        ident = self.identities[name]
        self.run_owner[run_id] = name
        self.history.append(RunStarted(step, run_id, name, ident.user_id, thread_id, plan))
        fn = partial(self.harness.target.run, ident.token, thread_id, plan, run_id)
        if self.harness.limits.atomic_runs:
            outcome = self.loop.call(self.controller.run_to_end, run_id, fn, _FINISH_STEPS)
        else:
            outcome = self.loop.call(self.controller.start, run_id, fn)
        text = self._record_outcome(step, run_id, outcome)
        self.moves.append(Move(step, "start_run", name, run_id, thread_id, plan, outcome=text))
        return run_id

    def step(self, run_id: str) -> None:
        """Resume ``run_id`` until its next checkpoint or its end."""
        step = self._next_step()
        outcome = self.loop.call(self.controller.step, run_id)
        text = self._record_outcome(step, run_id, outcome)
        self.moves.append(Move(step, "step", self.run_owner[run_id], run_id, outcome=text))

    def finish(self, run_id: str, *, final: bool = False) -> None:
        """Let ``run_id`` run to its end in one move."""
        step = self._next_step()
        outcome = self.loop.call(self.controller.finish, run_id, _FINISH_STEPS)
        text = self._record_outcome(step, run_id, outcome)
        extra = {"final": True} if final else {}
        self.moves.append(
            Move(step, "finish", self.run_owner[run_id], run_id, outcome=text, extra=extra)
        )

    def look(
        self, name: str, thread_id: str, *, run_id: str | None = None, final: bool = False
    ) -> None:
        """``name`` aggregates every store, start to end in one move."""
        plan = tuple(ToolCall("aggregate", store) for store in STORES)
        step = self._next_step()
        if final:
            run_id = f"final-{name}"
        else:
            self.look_count += 1
            run_id = run_id or f"look{self.look_count}"
        ident = self.identities[name]
        self.run_owner[run_id] = name
        self.history.append(RunStarted(step, run_id, name, ident.user_id, thread_id, plan))
        fn = partial(self.harness.target.run, ident.token, thread_id, plan, run_id)
        outcome = self.loop.call(self.controller.run_to_end, run_id, fn, _FINISH_STEPS)
        text = self._record_outcome(step, run_id, outcome)
        extra = {"final": True} if final else {}
        self.moves.append(
            Move(step, "look", name, run_id, thread_id, plan, outcome=text, extra=extra)
        )

    def forge(self, name: str, victim: str, kind: ForgeryKind, action: str) -> None:
        """``name`` presents a forged token (aimed at ``victim`` where the kind needs one)."""
        self.forgeries += 1
        step = self._next_step()
        token = forge_token(
            self.harness.auth,
            kind,
            self.identities[name].user_id,
            other_user_id=self.identities[victim].user_id,
        )
        self.harness.redactor.add(token)
        accepted, observed = self._attempt(action, token, step)
        self.history.append(ForgedAttempt(step, name, kind, action, accepted, observed))
        self.moves.append(
            Move(step, "forge", name, forgery=kind, action=action,
                 outcome="accepted" if accepted else "rejected", extra={"victim": victim})
        )

    def gather(
        self, starts: Sequence[tuple[str, str, Plan]], rng: random.Random,
        max_jitter: float = 0.002,
    ) -> None:
        """Run several plans at once, as a hand-written stress test does, in one move.

        Each run sleeps a random ``0..max_jitter`` seconds at every checkpoint instead of
        pausing for the scheduler, so the event loop decides the interleaving: what a
        ``gather`` with jitter explores, and why such a test cannot replay what it finds.
        Baseline A of ``benchmarks/zoo.py``.
        """
        step = self._next_step()
        jobs = []
        for name, thread_id, plan in starts:
            self.run_count += 1
            run_id = f"r{self.run_count}"
            plan = self._with_canaries(name, plan)
            ident = self.identities[name]
            self.run_owner[run_id] = name
            self.history.append(RunStarted(step, run_id, name, ident.user_id, thread_id, plan))
            jobs.append((run_id, partial(self.harness.target.run, ident.token, thread_id,
                                         plan, run_id), rng.random()))
        outcomes: dict[str, StepOutcome] = {}

        async def one(run_id: str, fn: Callable[[], Any], seed: float) -> None:
            jitter = random.Random(seed)

            async def hook(label: str) -> None:
                await anyio.sleep(jitter.uniform(0, max_jitter))

            with installed_hook(hook):
                try:
                    outcomes[run_id] = StepOutcome("finished", result=await fn())
                except Exception as exc:  # a failing run is an outcome, as in step()
                    outcomes[run_id] = StepOutcome("failed", error=exc)

        async def all_together() -> None:
            with anyio.move_on_after(self.harness.limits.block_timeout * 4):
                async with anyio.create_task_group() as group:
                    for job in jobs:
                        group.start_soon(one, *job)

        self.loop.call(all_together)
        for run_id, _, _ in jobs:
            outcome = outcomes.get(run_id, StepOutcome("blocked"))
            text = self._record_outcome(step, run_id, outcome)
            self.moves.append(Move(step, "start_run", self.run_owner[run_id], run_id,
                                   self.history.runs[run_id].thread_id,
                                   self.history.runs[run_id].plan, outcome=text))

    def final_reads(self) -> None:
        """Every run left paused finishes, then every identity looks; checked after each."""
        for run_id in list(self.active()):
            self.finish(run_id, final=True)
            self.check()
        for name in self.names:
            self.look(name, f"final-{name}", final=True)
            self.check()

    def close(self) -> None:
        """Close the connections, cancel what still runs, and clear the target's data."""
        try:
            for _, stream in self.streams.values():
                self.loop.call(stream.aclose)
            self.streams.clear()
        finally:
            try:
                self.loop.call(self.controller.cancel_all)
            finally:
                self.loop.call(self.harness.target.reset)

    # -- checking --------------------------------------------------------------------

    def check(self) -> None:
        """Record the events that arrived, then check every invariant."""
        if self.checked_step == self.step_index:
            return  # nothing moved since the last check
        self.checked_step = self.step_index
        self._collect(self.step_index)
        violations = oracle.check(self.history)
        if violations:
            self._fail(violations)

    def _fail(self, violations: list[Violation]) -> NoReturn:
        self.harness.stats.saw_violation()
        failure = IsolationViolated(violations, self.user_ids(), list(self.moves), self.history)
        if self.harness.on_failure is not None:
            self.harness.on_failure(failure)
        raise failure

    # -- internals -------------------------------------------------------------------

    def _next_step(self) -> int:
        self.step_index += 1
        self.harness.stats.steps += 1
        if self.harness.on_step is not None:
            self.harness.on_step(self.harness.stats)
        return self.step_index

    def _with_canaries(self, name: str, plan: Plan) -> Plan:
        out = []
        for call in plan:
            if call.tool == "remember":
                n = self.canary_count.get(name, 0)
                self.canary_count[name] = n + 1
                canary = canary_for(name, n)
                self.history.canaries.register(canary, name)
                call = ToolCall(call.tool, call.store, call.key, f"{canary} {call.value}")
            out.append(call)
        return tuple(out)

    def _register_canaries(self, name: str, plan: Plan) -> Plan:
        for call in plan:
            for canary in find_canaries(call.value):
                self.history.canaries.register(canary, name)
        return plan

    def _collect(self, step: int) -> None:
        streams = [(cid, n, s) for cid, (n, s) in sorted(self.streams.items())]
        if not streams:
            return

        async def sync_all() -> None:
            for _, _, stream in streams:
                await stream.sync()

        self.loop.call(sync_all)  # one trip into the loop for all streams
        for connection_id, name, stream in streams:
            for event in stream.take():
                self.history.append(EventDelivered(step, connection_id, name, event))

    def _record_outcome(self, step: int, run_id: str, outcome: StepOutcome) -> str:
        owner = self.run_owner[run_id]
        if outcome.status == "paused":
            return f"paused at {outcome.label}"
        if outcome.status == "finished":
            plan = self.history.runs[run_id].plan
            self.harness.stats.tool_calls += len(plan)
            for index, (call, result) in enumerate(zip(plan, outcome.result, strict=False)):
                self.history.append(ToolResult(step, run_id, owner, index, call, result))
            self.history.append(RunFinished(step, run_id, owner, True, None))
            residue = self.loop.call(self.harness.target.residue, run_id)
            for store, leftovers in sorted(residue.items()):
                if leftovers:
                    self.history.append(
                        ResidueProbed(step, run_id, owner, store, tuple(leftovers))
                    )
            return "finished"
        if outcome.status == "failed":
            error = outcome.error
            if isinstance(error, InfrastructureError | OSError):
                raise InfrastructureError(f"the target failed in run {run_id}: {error}")
            text = self.harness.redactor.redact(f"{type(error).__name__}: {error}")
            self.history.append(RunFinished(step, run_id, owner, False, text))
            return f"failed: {text}"
        timeout = self.harness.limits.block_timeout
        self._fail(
            [
                Violation(
                    invariant="runs_make_progress",
                    anomaly="RunBlocked",
                    step=step,
                    identities=(owner,),
                    message=(
                        f"run {run_id} of {owner} reached no checkpoint within {timeout}s at "
                        f"step {step}: it is blocked, probably on a lock held by a paused run"
                    ),
                    evidence={"run_id": run_id},
                )
            ]
        )

    def _attempt(self, action: str, token: str, step: int) -> tuple[bool, Any]:
        loop = self.loop
        if action == "connect":
            try:
                stream = loop.call(self.harness.target.connect, token)
            except AuthError:
                return False, None
            loop.call(stream.sync)
            observed = [e.to_json() for e in stream.take()]
            loop.call(stream.aclose)
            return True, observed
        run_id = f"forged{step}"
        plan = (ToolCall("list", "redis"),)
        fn = partial(self.harness.target.run, token, "t1", plan, run_id)
        outcome = loop.call(self.controller.start, run_id, fn)
        for _ in range(_FORGED_RUN_STEPS):
            if outcome.status != "paused":
                break
            outcome = loop.call(self.controller.step, run_id)
        if outcome.status == "failed" and isinstance(outcome.error, AuthError):
            return False, None
        return True, outcome.result if outcome.status == "finished" else outcome.status
