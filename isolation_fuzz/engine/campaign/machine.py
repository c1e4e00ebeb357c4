"""The Hypothesis state machine that drives interleaved multi-user agent runs.

Design note.  Hypothesis runs rules one at a time and knows nothing of
concurrency, so the interleaving itself is made part of the generated data: a
rule *starts* an agent run (which advances to its first checkpoint and pauses) and
another rule *steps* one chosen run to its next checkpoint.  Only one run moves at
a time (see :mod:`isolation_fuzz.engine.schedule.controller`), so the sequence of rules fixes the
interleaving completely; Hypothesis explores it, shrinks it by deleting and
simplifying rules, and replays it exactly.

Everything observed lands in the :class:`~isolation_fuzz.engine.history.History`, and
after every rule the oracle checks every invariant over it.  A violation raises
:class:`~isolation_fuzz.engine.example.harness.IsolationViolated`, which Hypothesis
treats as a failure to shrink; the campaign's control hears of it first, and after
every rule that passed it decides whether the campaign stops
(:mod:`isolation_fuzz.engine.campaign.control`).

The machine reaches the system under test only through the
:class:`~isolation_fuzz.target.Target` protocol, from inside the campaign's event
loop (a blocking portal), where the services and pools live for the whole campaign.

An infrastructure error (a service that stalled or died) is no failing example:
every rule, the invariant and the teardown re-raise it as
:class:`~isolation_fuzz.engine.schedule.stall.InfrastructureStop`, which Hypothesis passes
straight through instead of shrinking it against a dead service.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import suppress
from typing import Any, ClassVar, TypeVar, cast

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from isolation_fuzz.engine.campaign.control import CampaignControl
from isolation_fuzz.engine.campaign.userids import Admitted, identities_for
from isolation_fuzz.engine.example.execution import Execution
from isolation_fuzz.engine.example.harness import Harness, IsolationViolated
from isolation_fuzz.engine.schedule.stall import InfrastructureStop
from isolation_fuzz.errors import InfrastructureError, TargetFailed
from isolation_fuzz.model import Plan, Store
from isolation_fuzz.strategies import forgery_kinds, plans, thread_ids
from isolation_fuzz.tokens import ForgeryKind

__all__ = ["IsolationMachine", "machine_for"]


F = TypeVar("F", bound=Callable[..., Any])


def _controlled(method: F) -> F:
    """Tell the control of a failing example; re-raise infrastructure as a stop (see the note)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except IsolationViolated as failure:
            if self.control is not None:
                self.control.failed(failure, self.harness.stats)
            raise
        except InfrastructureError as exc:
            self.ex.broken = exc
            raise InfrastructureStop(exc) from exc

    return cast(F, wrapper)


class IsolationMachine(RuleBasedStateMachine):
    """The rules of one example, for the harness and control of a bound subclass.

    Never run directly: :func:`machine_for` binds it to one campaign's harness and
    control, and adds the one rule whose strategies depend on what the target declares.
    """

    harness: ClassVar[Harness]
    control: ClassVar[CampaignControl | None]
    plan_strategies: ClassVar[dict[tuple[Store, ...], st.SearchStrategy[Plan]]]

    def __init__(self) -> None:
        super().__init__()
        self.harness.stats.examples += 1
        self.ex = Execution(self.harness)
        self.limits = self.harness.limits
        # True once the invariants have passed after the latest rule: the final
        # reads run only then, never on top of a rule that raised.
        self.settled = False

    def _choose(self, data: st.DataObject, label: str) -> str:
        # Choose by owner, then newest-first among that owner's runs, rather than by
        # position in one list: deleting an unrelated earlier move while shrinking
        # then leaves this choice pointing at the same run.
        runs = self.ex.active()
        owners = sorted({self.ex.run_owner[run] for run in runs})
        name = data.draw(st.sampled_from(owners), label=f"{label} owner")
        mine = [run for run in runs if self.ex.run_owner[run] == name]
        back = data.draw(st.integers(0, len(mine) - 1), label=f"{label}, newest first")
        return mine[len(mine) - 1 - back]

    def _thread(self, data: st.DataObject) -> str:
        user_ids = list(self.ex.user_ids().values())
        accepts = self.harness.capabilities.thread_ids
        return data.draw(thread_ids(user_ids, accepts), label="thread")

    # -- rules ---------------------------------------------------------------------

    def _log_in(self, admitted: Admitted, focus: tuple[Store, ...]) -> None:
        # The initialize rule (its strategies are the harness's: see machine_for).
        self.settled = False
        ids, dropped, replaced = admitted
        self.harness.stats.ids_dropped += dropped
        self.harness.stats.ids_replaced += replaced
        self.plans = self.plan_strategies[focus]
        # Every identity is connected from the start: events need somewhere to land.
        # Connection moves come later, few of them (Limits.max_connection_moves).
        self.ex.log_in(ids)

    # One rule draws which move comes next from the moves possible now.  Separate
    # rules with preconditions let Hypothesis's swarm flags switch off every rule
    # that could run (say, all but `finish` once the runs are spent), aborting
    # most examples as invalid after their engines had done the work.
    def _possible(self) -> list[str]:
        ex, limits = self.ex, self.limits
        kinds = []
        if ex.run_count < limits.max_runs:
            kinds.append("start_run")
        if ex.active():
            kinds += ["step_run", "finish_run"]
        if ex.look_count < limits.max_looks:
            kinds.append("look")
        if ex.forgeries < limits.max_forgeries:
            kinds.append("forge")
        if ex.connection_moves < limits.max_connection_moves:
            kinds.append("connection")  # last: the others keep their draws (issue 13)
        return kinds

    @rule(data=st.data())
    @_controlled
    def move(self, data: st.DataObject) -> None:
        kinds = self._possible()
        if not kinds:
            return  # everything spent: an idle rule leaves no move
        self.settled = False
        getattr(self, "_" + data.draw(st.sampled_from(kinds), label="move"))(data)

    def _start_run(self, data: st.DataObject) -> None:
        plan = data.draw(self.plans, label="plan")
        name = data.draw(st.sampled_from(self.ex.names), label="identity")
        self.ex.start_run(name, self._thread(data), plan)

    def _step_run(self, data: st.DataObject) -> None:
        self.ex.step(self._choose(data, "run"))

    def _finish_run(self, data: st.DataObject) -> None:
        # "Let this run go to the end" as one move: without it, a scenario that
        # needs a run finished costs one step per checkpoint, and shrinks poorly.
        self.ex.finish(self._choose(data, "run"))

    def _look(self, data: st.DataObject) -> None:
        # A user looking at everything they have stored, in one move, mid-example:
        # reads while other runs are paused see what the final reads cannot.
        name = data.draw(st.sampled_from(self.ex.names), label="identity")
        self.ex.look(name, self._thread(data))

    def _forge(self, data: st.DataObject) -> None:
        kind = cast(ForgeryKind, data.draw(forgery_kinds(self.harness.auth.forgeries),
                                               label="forgery"))
        action = data.draw(st.sampled_from(["connect", "run"]), label="action")
        name = data.draw(st.sampled_from(self.ex.names), label="identity")
        victim = data.draw(st.sampled_from(self.ex.names), label="victim")
        self.ex.forge(name, victim, kind, action)

    def _connection(self, data: st.DataObject) -> None:
        # Which connection move, then whose connection: by owner, then oldest first,
        # so deleting an unrelated earlier move leaves the choice where it was.
        ex, limits = self.ex, self.limits
        held = [name for name in ex.names if ex.connections_of(name)]
        room = [n for n in ex.names if len(ex.connections_of(n)) < limits.max_connections]
        kinds = [kind for kind, who in
                 (("reconnect", held), ("disconnect", held), ("connect", room)) if who]
        kind = data.draw(st.sampled_from(kinds), label="connection move")
        if kind == "connect":
            ex.connect(data.draw(st.sampled_from(room), label="identity"))
            return
        name = data.draw(st.sampled_from(held), label="identity")
        mine = ex.connections_of(name)
        chosen = mine[data.draw(st.integers(0, len(mine) - 1), label="connection")]
        if kind == "reconnect":
            ex.reconnect(chosen)
        else:
            ex.disconnect(chosen)

    # -- checking ------------------------------------------------------------------

    @invariant()
    @_controlled
    def isolation_holds(self) -> None:
        self.ex.check()
        if self.control is not None:
            # Before `settled`: a campaign told to stop skips the final reads.
            self.control.after_rule(self.harness.stats)
        self.settled = True

    @_controlled
    def teardown(self) -> None:
        try:
            if self.settled:
                self.ex.final_reads()
        except InfrastructureError as exc:
            # Known before closing: close must not wait on the service that failed
            # (its own timeout error would replace this one, naming no service).
            self.ex.broken = exc
            self.ex.close()
            raise
        except BaseException:
            # A finding in flight outlives a reset of the target's that fails after
            # it: the finding is what the user needs, and it must never be lost.
            with suppress(TargetFailed):
                self.ex.close()
            raise
        self.ex.close()


def machine_for(
    harness: Harness, control: CampaignControl | None = None
) -> type[IsolationMachine]:
    """The state machine bound to one campaign's harness and control.

    The log-in rule is added here: its strategies are what the target declares.  Only
    the stores it declares are drawn (issue 11); with the default, all three, in the
    same order as ever, so a seed explores the same examples.
    """
    limits = harness.limits
    stores = harness.capabilities.stores
    # Swarm testing: most examples focus on one store, so that one identity's writes
    # and another's reads meet far more often than with every store in every plan.
    plan_strategies = {
        focus: plans(stores=focus, max_calls=limits.max_plan_calls,
                     tools=harness.capabilities.tools)
        for focus in [(store,) for store in stores] + ([stores] if len(stores) > 1 else [])
    }
    # Ids the target refuses are replaced (and counted); with no rule, the same draws.
    identities = identities_for(harness.capabilities, min_size=2, max_size=limits.max_identities)
    log_in = initialize(
        admitted=identities, focus=st.sampled_from(sorted(plan_strategies, key=len)),
    )(_controlled(IsolationMachine._log_in))
    bound = type("IsolationMachine", (IsolationMachine,), {
        "harness": harness, "control": control, "plan_strategies": plan_strategies,
        "log_in": log_in, "__module__": __name__,
    })
    return cast(type[IsolationMachine], bound)
