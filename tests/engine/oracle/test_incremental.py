"""The incremental oracle reports exactly what the batch oracle reports, after every record.

The batch oracle (`oracle.check`, via `check_all`) is the reference.  Histories come
from three sources, each appended record by record with a check after each append:

* a small simulated platform that is correct except for drawn corruptions (foreign
  values, stale and lost reads, dropped, repeated and misrouted events, residue,
  accepted forgeries, blocked runs), with connections opening and closing, canaries
  sometimes registered late and an identity sometimes added late;
* arbitrary records from ``tests/engine/test_history.py``'s strategies, over a small
  alphabet of names so that runs, connections and identities meet;
* real histories recorded from short campaigns on the reference platform and a few
  seeded bugs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isolation_fuzz.engine.canary import find_canaries, make_canary, make_key_mark
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import incremental
from isolation_fuzz.engine.oracle.incremental.core import IncrementalOracle
from isolation_fuzz.engine.oracle.lifecycle import expected_kinds
from isolation_fuzz.engine.oracle.registry import check_all
from isolation_fuzz.model import (
    TOOLS,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventDelivered,
    ForgedAttempt,
    Record,
    ResidueProbed,
    RunBlocked,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolResult,
)
from isolation_fuzz.strategies import plans
from tests.engine.test_history import RECORDS

USERS = {"A": "u1", "B": "u10", "C": "u2"}
Action = tuple[str, Any]


def test_public_names_are_exactly_all() -> None:
    assert incremental.__all__ == ["IncrementalOracle"]


def _agree(actions: list[Action], names: list[str],
           users: dict[str, str] | None = None) -> None:
    """Apply ``actions``; after each, the incremental and batch verdicts are equal."""
    h = History()
    for name in names:
        h.add_identity(name, (users or USERS).get(name, name))
    live = IncrementalOracle(h)
    for kind, what in actions:
        if kind == "identity":
            h.add_identity(what, USERS[what])
        elif kind == "canary":
            if h.canaries.owner_of(what[0]) is None:
                h.canaries.register(*what)
        else:
            try:
                h.append(what)
            except ValueError:
                continue  # a run started or finished twice: not a history
        assert live.checked() == check_all(h), f"after {what!r}"


# -- a simulated platform, correct but for drawn corruptions ----------------------------


def _mark(who: str) -> str:
    return make_key_mark({"A": 1, "B": 2, "C": 3}[who])


def _corrupt(draw: st.DrawFn, tool: str, result: Any, mine: list[str], others: list[str],
             foreign_keys: list[str]) -> Any:
    """A wrong read: lost, stale (an own older value), foreign, or a foreign key name."""
    extra = draw(st.sampled_from([*mine[-3:], *others[:2], *foreign_keys[:2], "x"]))
    if tool == "recall":
        return draw(st.sampled_from([None, extra]))
    if tool == "aggregate":
        values = list(result["values"])
        return {"values": values[1:] if values and draw(st.booleans()) else [*values, extra]}
    if isinstance(result, list):
        return result[1:] if result and draw(st.booleans()) else [*result, extra]
    return extra


@st.composite
def simulated(draw: st.DrawFn) -> tuple[list[str], list[Action]]:
    """Moves of a tiny platform: runs call by call, events to open connections."""
    names = ["A", "B", "C"][: draw(st.integers(2, 3))]
    actions: list[Action] = [("canary", (_mark(n), n)) for n in names]
    if draw(st.integers(0, 5)) == 0:
        names.remove(late := names[-1])  # added after the first records: a rebuild
    else:
        late = None
    memory: dict[tuple[str, str, str], str] = {}
    old: dict[str, list[str]] = {}  # every value each identity wrote or kept, in order
    conns: dict[str, str] = {}
    active: dict[str, list[Any]] = {}
    step, made = 0, 0

    def bad() -> bool:
        return draw(st.integers(0, 7)) == 0

    def deliver(who: str, run_id: str, seq: int, kind: str, payload: dict[str, Any]) -> None:
        targets = [c for c, n in sorted(conns.items()) if n == who]
        if bad() and conns:
            targets.append(draw(st.sampled_from(sorted(conns))))  # misrouted
        for cid in targets:
            if bad():
                continue  # lost
            user = USERS[who] if not bad() else "u99"
            event = Event(kind, user, "t1", run_id, seq, payload)
            for _ in range(2 if bad() else 1):
                actions.append(("record", EventDelivered(step, cid, conns[cid], event)))

    for who in ["A", "B", "C"][: len(names) + (late is not None)]:
        made += 1
        conns[f"c{made}"] = who
        actions.append(("record", ConnectionOpened(0, f"c{made}", who)))
    for n in range(draw(st.integers(1, 30))):
        step += draw(st.sampled_from([0, 1, 1, 1]))
        if late is not None and n == 3:
            actions.append(("identity", late))
        move = draw(st.sampled_from(
            ["start"] * 3 + ["advance"] * 6 + ["connect", "disconnect", "other"]))
        who = draw(st.sampled_from(sorted(USERS)[: len(names) + (late is not None)]))
        if move == "start" or (move == "advance" and not active):
            run_id = f"r{n}"
            plan = []
            for call in draw(plans(keys=("k", "x"), tools=TOOLS)):
                key = None if call.key is None else call.key + _mark(who)
                value = None
                if call.value is not None:
                    value = f"{make_canary(1000 + n * 10 + len(plan))} v"
                    when = draw(st.sampled_from(["before"] * 6 + ["after", "never"]))
                    if when == "before":
                        actions.append(("canary", (value.split()[0], who)))
                    elif when == "after":
                        active.setdefault("late", []).append((value.split()[0], who))
                plan.append(ToolCall(call.tool, call.store, key, value))
            actions.append(("record", RunStarted(step, run_id, who, USERS[who], "t1",
                                                 tuple(plan))))
            actions += [("canary", c) for c in active.pop("late", [])]
            active[run_id] = [who, tuple(plan), [], draw(st.none() | st.integers(0, 3))]
            deliver(who, run_id, 0, "agent_started", {})
        elif move == "advance":
            run_id = draw(st.sampled_from(sorted(active)))
            who, plan, results, fail_at = active[run_id]
            if fail_at == len(results) or len(results) == len(plan):
                del active[run_id]
                ok = fail_at != len(results)
                if ok:
                    for i, (call, result) in enumerate(zip(plan, results, strict=True)):
                        actions.append(("record", ToolResult(step, run_id, who, i, call, result)))
                actions.append(("record", RunFinished(step, run_id, who, ok, None)))
                if ok:
                    deliver(who, run_id, len(plan) * 3 + 1, "agent_completed", {})
                if ok and bad():
                    actions.append(("record", ResidueProbed(step, run_id, who, "redis", ("x",))))
                continue
            call = plan[len(results)]
            mine = sorted((k, v) for (u, s, k), v in memory.items()
                          if (u, s) == (who, call.store))
            others = sorted(v for (u, _, _), v in memory.items() if u != who)
            result: Any = {
                "remember": "ok", "forget": True,
                "recall": memory.get((who, call.store, call.key or "")),
                "list": [k for k, _ in mine],
                "aggregate": {"values": sorted(v for _, v in mine)},
                "scratch": [c.value for c in plan[: len(results) + 1]
                            if c.tool == "scratch" and c.store == call.store],
            }[call.tool]
            if bad():
                prior = old.get(f"{who}/{call.store}/{call.key}", []) + old.get(who, [])
                result = _corrupt(draw, call.tool, result, prior, others,
                                  [k + _mark(o) for o in USERS if o != who for k in "kx"])
            if call.tool in ("remember", "scratch") and call.value:
                old.setdefault(who, []).append(call.value)
                old.setdefault(f"{who}/{call.store}/{call.key}", []).append(call.value)
            if call.tool == "remember" and call.key and call.value:
                memory[(who, call.store, call.key)] = call.value
            elif call.tool == "forget" and call.key:
                memory.pop((who, call.store, call.key), None)
            results.append(result)
            seq = 1 + 3 * len(results) - 3
            three = list(enumerate(expected_kinds(len(plan))[seq : seq + 3]))
            for i, kind in three[::-1] if bad() else three:  # reversed: out of order
                deliver(who, run_id, seq + i, kind, {"result": result} if i == 2 else {})
        elif move == "connect":
            made += 1
            conns[f"c{made}"] = who
            actions.append(("record", ConnectionOpened(step, f"c{made}", who)))
        elif move == "disconnect" and conns:
            cid = draw(st.sampled_from(sorted(conns)))
            actions.append(("record", ConnectionClosed(step, cid, conns.pop(cid))))
        elif move == "other":
            actions.append(("record", draw(st.sampled_from([
                ForgedAttempt(step, who, "alg_none", "run", bad(), None),
                RunBlocked(step, draw(st.sampled_from(sorted(active) or ["r0"])), who, 1.0),
            ]))))
    return names, actions


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(simulated())
def test_incremental_agrees_with_batch_on_simulated_platforms(
    drawn: tuple[list[str], list[Action]],
) -> None:
    names, actions = drawn
    _agree(actions, names)


# -- arbitrary records over a small alphabet --------------------------------------------

_SMALL = {"run_id": ["r1", "r2", "r3"], "identity": ["A", "B", "C"],
          "connection_id": ["c1", "c2", "c3"]}


def _small(record: Record, draw: st.DrawFn, step: int) -> Record:
    """``record`` at ``step``, its ids drawn from a few names so that records meet."""
    changes: dict[str, Any] = {"step": step}
    for name, choices in _SMALL.items():
        if hasattr(record, name):
            changes[name] = draw(st.sampled_from(choices))
    if isinstance(record, EventDelivered):
        changes["event"] = dataclasses.replace(
            record.event, run_id=draw(st.sampled_from(_SMALL["run_id"])),
            user_id=draw(st.sampled_from(sorted(USERS.values()))))
    return dataclasses.replace(record, **changes)


@st.composite
def arbitrary(draw: st.DrawFn) -> list[Action]:
    actions: list[Action] = []
    step = 0
    for _ in range(draw(st.integers(1, 20))):
        step += draw(st.integers(0, 2))
        record = _small(draw(st.one_of(*RECORDS.values())), draw, step)
        if draw(st.integers(0, 9)) == 0:
            actions.append(("canary", (make_canary(draw(st.integers(0, 3))), "B")))
        actions.append(("record", record))
    return actions


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arbitrary())
def test_incremental_agrees_with_batch_on_arbitrary_records(actions: list[Action]) -> None:
    _agree(actions, ["A", "B", "C"])


# -- real histories, recorded from short campaigns ----------------------------------------

REAL_TARGETS = ("reference", "zoo:stale_result_cache", "zoo:capped_scratch",
                "zoo:lost_event", "zoo:pooled_emitter_swap", "zoo:unfiltered_key_listing")


def _recorded(target: str, monkeypatch: pytest.MonkeyPatch) -> list[History]:
    """Every example's history from a short campaign on ``target``."""
    from isolation_fuzz import CampaignConfig, run_campaign
    from isolation_fuzz.engine.example.execution import Execution
    from isolation_fuzz.target import TargetSpec

    kept: dict[int, History] = {}
    check = Execution.check

    def recording(self: Execution) -> None:
        kept[id(self.history)] = self.history
        check(self)

    monkeypatch.setattr(Execution, "check", recording)
    run_campaign(CampaignConfig(target=TargetSpec(target), max_examples=25, seed=3,
                                shrink=False))
    return list(kept.values())


@pytest.mark.parametrize("target", REAL_TARGETS)
def test_incremental_agrees_with_batch_on_recorded_histories(
    target: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    histories = _recorded(target, monkeypatch)
    assert histories
    for recorded in histories:
        # Canaries registered from each run's plan just before it, as stress does.
        actions: list[Action] = []
        for record in recorded.entries:
            if isinstance(record, RunStarted):
                actions += [("canary", (c, record.identity)) for call in record.plan
                            for c in sorted(find_canaries([call.key, call.value]))
                            if recorded.canaries.owner_of(c) == record.identity]
            actions.append(("record", record))
        _agree(actions, list(recorded.identities), dict(recorded.identities))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(simulated(), st.lists(st.integers(1, 12), min_size=1))
def test_stress_checkers_report_the_same_violations_once_each(
    drawn: tuple[list[str], list[Action]], sizes: list[int],
) -> None:
    from isolation_fuzz.capabilities import Capabilities
    from isolation_fuzz.engine.stress.checker import BatchChecker, IncrementalChecker

    _, actions = drawn
    users = {n: USERS[n] for n in USERS}  # stress knows every identity from the start
    batch, live = BatchChecker(users, Capabilities()), IncrementalChecker(users, Capabilities())
    records = [what for kind, what in actions if kind == "record"]
    at = 0
    for size in sizes * (len(records) // max(1, sum(sizes)) + 1):
        chunk, at = records[at : at + size], at + size
        if not chunk:
            break
        try:  # the checkers register plan canaries themselves, as stress needs
            expected = batch.add(chunk)
        except ValueError:
            return  # a canary of the drawn history written by two identities
        assert live.add(chunk) == expected


# -- reads over tiny pools: values collide, runs start and finish at the same step -------

_VALUES = ["v1", "v2", "v3"]
_KEYS = ["k", "x", "k" + make_key_mark(1), "x" + make_key_mark(2)]


@st.composite
def read_heavy(draw: st.DrawFn) -> list[Action]:
    """Runs of A and B over two stores whose reads return anything from tiny pools."""
    actions: list[Action] = []
    started: dict[str, RunStarted] = {}
    step = 0
    key = st.sampled_from(_KEYS)
    value = st.sampled_from(_VALUES)
    store = st.sampled_from(["redis", "postgres"])
    for n in range(draw(st.integers(1, 24))):
        step += draw(st.sampled_from([0, 0, 1]))
        move = draw(st.sampled_from(["start", "start", "finish", "finish", "mark"]))
        if move == "mark":
            which = draw(st.sampled_from([("A", 1), ("B", 2)]))
            actions.append(("canary", (make_key_mark(which[1]), which[0])))
        elif move == "start" or not started:
            who = draw(st.sampled_from("AB"))
            calls = draw(st.lists(st.builds(
                ToolCall, st.sampled_from(TOOLS), store, key, value), min_size=1, max_size=3))
            run = RunStarted(step, f"r{n}", who, USERS[who], "t1", tuple(calls))
            started[run.run_id] = run
            actions.append(("record", run))
        else:
            run = started.pop(draw(st.sampled_from(sorted(started))))
            ok = draw(st.integers(0, 5)) > 0
            if ok:
                for i, call in enumerate(run.plan):
                    got = draw(st.one_of(st.none(), value, st.lists(key, max_size=3),
                                         st.lists(value, max_size=3),
                                         st.lists(value, max_size=3).map(
                                             lambda v: {"values": v})))
                    actions.append(("record", ToolResult(step, run.run_id, run.identity, i,
                                                         call, got)))
            actions.append(("record", RunFinished(step, run.run_id, run.identity, ok, None)))
    return actions


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(read_heavy())
def test_incremental_agrees_with_batch_on_colliding_reads(actions: list[Action]) -> None:
    _agree(actions, ["A", "B"])
