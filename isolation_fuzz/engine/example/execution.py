"""One example's moves: identities log in, runs start, step, finish, look, forge.

Design note.  The Hypothesis state machine draws *which* move comes next; an
:class:`Execution` *performs* it.  Replaying a scenario file performs the same
moves through the same methods, so a replay is the example, not an imitation of it:
the run ids, the canaries and the order of history records come out the same.

An example borrows the campaign's world (:class:`~isolation_fuzz.engine.example.harness.Harness`)
and holds its own state: the identities and their event streams (each identity
connects at log-in; the connection moves of :mod:`isolation_fuzz.engine.example.connections`
open and close more), the history, the moves so far and the counters the machine's
budget reads.  What happens around a move lives apart:

* launching a run is :meth:`Execution._launch` (number it, mark its plan with the
  owner's canaries, announce it); what a moved run came to is recorded by
  :mod:`~isolation_fuzz.engine.example.outcome`; a forged token is tried by
  :mod:`~isolation_fuzz.engine.example.forging`; the stress baseline that runs plans
  all at once is :mod:`~isolation_fuzz.engine.example.gather`.

Every move ends with :meth:`Execution.check`: the events that arrived are recorded
and every invariant is checked, by the incremental oracle
(:mod:`isolation_fuzz.engine.oracle.incremental`: the batch oracle's verdict at the cost of
the move's own records); a violation raises :class:`IsolationViolated`.
An example ends with :meth:`Execution.final_reads` (every run left paused
finishes, then every identity looks at all it holds), as Jepsen ends each test
with final reads: a leak then needs only the write, not a reader that happens to
come along.

Calls into the target outside any run (connecting, syncing, resetting; their own
exceptions are the target's failure) are bounded by the service timeout (:meth:`StallPolicy.bounded
<isolation_fuzz.engine.schedule.stall.StallPolicy.bounded>`): a stalled service must end the
campaign with its name, not hang it.  Once an infrastructure error has ended the
example (:attr:`Execution.broken`), :meth:`Execution.close` only cancels what still
runs and closes the streams, with errors ignored: the target's reset would wait on
the same dead service, and the namespace is removed whole when the session ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn

from isolation_fuzz.engine.canary import find_canaries, make_canary, make_key_mark
from isolation_fuzz.engine.example import forging
from isolation_fuzz.engine.example.connections import ConnectionMoves
from isolation_fuzz.engine.example.harness import NAMES, Harness, IsolationViolated, Limits, Stats
from isolation_fuzz.engine.example.outcome import OutcomeRecorder
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle.incremental.core import IncrementalOracle
from isolation_fuzz.engine.schedule.controller import RunFn
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.errors import InfrastructureError
from isolation_fuzz.model import (
    EventDelivered,
    ForgedAttempt,
    Plan,
    RunStarted,
    ToolCall,
    Violation,
)
from isolation_fuzz.strategies.plans import SHARED_KEYS
from isolation_fuzz.target import EventStream
from isolation_fuzz.tokens import ForgeryKind, forge_token, mint_token

# The harness's names are re-exported: callers that drive an example import its
# world from here too (the session, the zoo's tests, benchmarks).
__all__ = [
    "NAMES",
    "Execution",
    "Harness",
    "IsolationViolated",
    "Limits",
    "Stats",
    "canary_for",
    "key_mark_for",
    "owned_key",
]

#: A run left to finish is stepped at most this often (plans are short; this is a backstop).
_FINISH_STEPS = 500


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


def key_mark_for(name: str) -> str:
    """The mark identity ``name`` appends to every key name it uses (issue 13).

    Derived from the name alone, like `canary_for`: the plan strategy still draws
    keys from one shared pool (so draws, replays and shrinking are unchanged) and
    each identity's keys come out distinct and attributable to it.
    """
    digest = hashlib.blake2b(f"{name}/keys".encode(), digest_size=3).digest()
    return make_key_mark(int.from_bytes(digest, "big"))


def owned_key(name: str, key: str) -> str:
    """``key`` as identity ``name`` uses it: with its mark, unless a shared name.

    Shared names (:data:`isolation_fuzz.strategies.plans.SHARED_KEYS`) stay as drawn, the same for
    every identity, as real apps' ``profile`` keys are.
    """
    return key if key in SHARED_KEYS else f"{key}{key_mark_for(name)}"


class Execution(ConnectionMoves):
    """The state of one example, and the moves that change it.

    The connection moves (``connect``, ``disconnect``, ``reconnect``) come from
    :class:`~isolation_fuzz.engine.example.connections.ConnectionMoves`.
    """

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.loop = harness.loop
        # One controller for the whole campaign: entering a task group per example
        # through the portal would cost more than a typical example's steps.
        self.controller = harness.controller
        self.identities: dict[str, _Identity] = {}
        self.history = History(harness.capabilities)
        self.moves: list[Move] = []
        self.streams: dict[str, tuple[str, EventStream]] = {}
        self._connection_ids: set[str] = set()
        self.connection_moves = 0
        self.run_owner: dict[str, str] = {}
        self.run_count = 0
        self.look_count = 0
        self.forgeries = 0
        self.canary_count: dict[str, int] = {}
        self.step_index = 0
        self.checked_step = -1
        #: Checks the history after every move at the cost of the move's records (issue 14).
        self.oracle = IncrementalOracle(self.history)
        self.outcomes = OutcomeRecorder(harness, self.history, self.run_owner, self._fail,
                                        check=self.oracle.check)
        #: The infrastructure error that ended this example, if one did.
        self.broken: InfrastructureError | None = None

    # -- queries -------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """The identities' names, in the order they logged in."""
        return list(self.identities)

    def user_ids(self) -> dict[str, str]:
        """Each identity's name and user id."""
        return {n: i.user_id for n, i in self.identities.items()}

    def active(self) -> list[str]:
        """Runs and their tasks (``r3/bg1``) paused at a point, oldest first."""
        active = self.controller.active()
        for run_id in active:  # a task a run started is its owner's too
            if run_id not in self.run_owner:
                self.run_owner[run_id] = self.run_owner[self.controller.root_of(run_id)]
        return active

    # -- moves ---------------------------------------------------------------------

    def log_in(self, user_ids: Sequence[str]) -> None:
        """Mint a token for each identity, then connect each (``c1`` for A, ``c2`` for B, ...)."""
        for index, user_id in enumerate(user_ids):
            name = NAMES[index]
            token = mint_token(self.harness.auth, user_id)
            self.harness.redactor.add(token)
            self.identities[name] = _Identity(name, user_id, token)
            self.history.add_identity(name, user_id)
        for name in self.identities:
            self._open(name, 0)

    def start_run(
        self, name: str, thread_id: str, plan: Plan, *, run_id: str | None = None,
        marked: bool = False,
    ) -> str:
        """Start a run of ``plan``; it advances to its first checkpoint and pauses.

        ``marked`` says the plan's values already carry their canaries (a replay).
        """
        step = self._next_step()
        run_id, plan, fn = self._launch(step, name, thread_id, plan, run_id=run_id, marked=marked)
        if self.harness.limits.atomic_runs:
            outcome = self.loop.call(self.controller.run_to_end, run_id, fn, _FINISH_STEPS)
        else:
            outcome = self.loop.call(self.controller.start, run_id, fn)
        text = self.outcomes.record(step, run_id, outcome)
        self.moves.append(Move(step, "start_run", name, run_id, thread_id, plan, outcome=text))
        return run_id

    def step(self, run_id: str) -> None:
        """Resume ``run_id`` until its next checkpoint or its end."""
        step = self._next_step()
        outcome = self.loop.call(self.controller.step, run_id)
        text = self.outcomes.record(step, run_id, outcome)
        self.moves.append(Move(step, "step", self.run_owner[run_id], run_id, outcome=text))

    def finish(self, run_id: str, *, final: bool = False) -> None:
        """Let ``run_id`` run to its end in one move."""
        step = self._next_step()
        outcome = self.loop.call(self.controller.finish, run_id, _FINISH_STEPS)
        text = self.outcomes.record(step, run_id, outcome)
        extra = {"final": True} if final else {}
        self.moves.append(
            Move(step, "finish", self.run_owner[run_id], run_id, outcome=text, extra=extra)
        )

    def look(
        self, name: str, thread_id: str, *, run_id: str | None = None, final: bool = False
    ) -> None:
        """``name`` aggregates every store, start to end in one move."""
        plan = tuple(ToolCall("aggregate", store) for store in self.harness.capabilities.stores)
        step = self._next_step()
        if final:
            run_id = f"final-{name}"
        else:
            self.look_count += 1
            run_id = run_id or f"look{self.look_count}"
        run_id, plan, fn = self._launch(step, name, thread_id, plan, run_id=run_id, look=True)
        outcome = self.loop.call(self.controller.run_to_end, run_id, fn, _FINISH_STEPS)
        text = self.outcomes.record(step, run_id, outcome)
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
        accepted, observed = forging.attempt(self.harness, action, token, step)
        self.history.append(ForgedAttempt(step, name, kind, action, accepted, observed))
        if action == "run" and not accepted:
            self.harness.stats.runs_rejected += 1
        self.moves.append(
            Move(step, "forge", name, forgery=kind, action=action,
                 outcome="accepted" if accepted else "rejected", extra={"victim": victim})
        )

    def final_reads(self) -> None:
        """Every run left paused finishes, then every identity looks; checked after each.

        The tasks runs started are finished in turn, oldest first, and any they start
        meanwhile, so the looks see every write done.
        """
        for _ in range(_FINISH_STEPS):
            active = self.active()
            if not active:
                break
            self.finish(active[0], final=True)
            self.check()
        for name in self.names:
            self.look(name, f"final-{name}", final=True)
            self.check()

    def close(self) -> None:
        """Close the connections, cancel what still runs, and clear the target's data."""
        if self.broken is not None:
            self._abandon()
            return
        try:
            for _, stream in self.streams.values():
                self._bounded("closing of an event stream", stream.aclose)
            self.streams.clear()
        finally:
            try:
                self.loop.call(self.controller.cancel_all)
                self.harness.stats.tasks_leaked(self.controller.take_released())
            finally:
                self._bounded("reset", self.harness.target.reset)

    # -- checking --------------------------------------------------------------------

    def check(self) -> None:
        """Record the events that arrived, then check every invariant."""
        if self.checked_step == self.step_index:
            return  # nothing moved since the last check
        self.checked_step = self.step_index
        self._collect(self.step_index)
        # Exactly what oracle.check(self.history) returns, for the records since last time.
        violations = self.oracle.check()
        if violations:
            self._fail(violations)

    def _fail(self, violations: list[Violation]) -> NoReturn:
        self.harness.stats.saw_violation()
        failure = IsolationViolated(violations, self.user_ids(), list(self.moves), self.history)
        failure.points = self.controller.points
        raise failure

    # -- internals -------------------------------------------------------------------

    def _bounded(self, what: str, fn: Any, *args: Any) -> Any:
        """Call the target's ``what`` outside any run (see ``Harness.call_target``)."""
        return self.harness.call_target(what, f"after step {self.step_index}", fn, *args)

    def _abandon(self) -> None:
        """Close what can be closed after an infrastructure error; never raise."""
        # The error that broke the example is what gets reported, not these.
        for _, stream in self.streams.values():
            with suppress(Exception):
                self._bounded("closing of an event stream", stream.aclose)
        self.streams.clear()
        with suppress(Exception):
            self.loop.call(self.controller.cancel_all)

    def _next_step(self) -> int:
        self.step_index += 1
        self.harness.stats.steps += 1
        return self.step_index

    def _launch(
        self, step: int, name: str, thread_id: str, plan: Plan, *, run_id: str | None = None,
        marked: bool = False, look: bool = False,
    ) -> tuple[str, Plan, RunFn]:
        """Announce a run of ``name``'s ``plan`` at ``step``.

        Returns the run's id, its plan as launched (with its canaries) and the call
        that performs it.

        A run (not a look: looks have their own budget, ``Limits.max_looks``) is
        numbered, and its plan's values get ``name``'s canaries (or, when ``marked``,
        the canaries they carry are registered).  ``run_id`` keeps a given id (a
        replay's, a look's).  Nothing runs yet: the caller decides how the call is
        driven (paused at checkpoints, to its end, or all at once).
        """
        if not look:
            self.run_count += 1
        run_id = run_id or f"r{self.run_count}"
        plan = self._register_canaries(name, plan) if marked else self._with_canaries(name, plan)
        ident = self.identities[name]
        self.run_owner[run_id] = name
        self.history.append(RunStarted(step, run_id, name, ident.user_id, thread_id, plan))
        return run_id, plan, partial(self.harness.target.run, ident.token, thread_id, plan, run_id)

    def _with_canaries(self, name: str, plan: Plan) -> Plan:
        # Values written (remembered, or kept in scratch) get a canary each; key names
        # get the owner's key mark, registered once.
        out = []
        for call in plan:
            key, value = call.key, call.value
            if key is not None:
                self.history.canaries.register(key_mark_for(name), name)
                key = owned_key(name, key)
            if value is not None:
                n = self.canary_count.get(name, 0)
                self.canary_count[name] = n + 1
                canary = canary_for(name, n)
                self.history.canaries.register(canary, name)
                value = f"{canary} {value}"
            out.append(ToolCall(call.tool, call.store, key, value))
        return tuple(out)

    def _register_canaries(self, name: str, plan: Plan) -> Plan:
        for call in plan:
            for canary in find_canaries([call.key, call.value]):
                self.history.canaries.register(canary, name)
        return plan

    def _collect(self, step: int) -> None:
        streams = [(cid, n, s) for cid, (n, s) in sorted(self.streams.items())]
        if not streams:
            return

        async def sync_all() -> None:
            for _, _, stream in streams:
                await stream.sync()

        self._bounded("event delivery", sync_all)  # one trip into the loop for all streams
        for connection_id, name, stream in streams:
            for event in stream.take():
                self.history.append(EventDelivered(step, connection_id, name, event))
