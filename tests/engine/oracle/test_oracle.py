"""Each invariant passes on crafted clean histories and fails, precisely, on broken ones.

The broken histories are crafted by hand, one anomaly each; the clean ones come both
from hand and from a small simulation of a correct platform (`_simulated`), whose
interleavings must never raise a false alarm.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isolation_fuzz.engine.canary import make_canary
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.model import (
    TOOLS,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventDelivered,
    ForgedAttempt,
    ResidueProbed,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolResult,
    Violation,
)
from isolation_fuzz.strategies import plans

CA, CA2, CB = make_canary(1), make_canary(3), make_canary(2)


def _history() -> History:
    h = History()
    h.add_identity("A", "u1")
    h.add_identity("B", "u10")
    h.canaries.register(CA, "A")
    h.canaries.register(CA2, "A")
    h.canaries.register(CB, "B")
    h.append(ConnectionOpened(0, "c1", "A"))
    h.append(ConnectionOpened(0, "c2", "B"))
    return h


def _run(
    h: History, step: int, run_id: str, who: str, calls: list[ToolCall], results: list[Any],
    end: int | None = None, ok: bool = True,
) -> None:
    """Start a run; with ``end``, finish it then (ok: with results and all its events)."""
    h.append(RunStarted(step, run_id, who, h.identities[who], "t1", tuple(calls)))
    if end is not None:
        _finish(h, end, run_id, results, ok=ok)


def _finish(h: History, end: int, run_id: str, results: list[Any], ok: bool = True) -> None:
    run = h.runs[run_id]
    if ok:
        for i, (call, result) in enumerate(zip(run.plan, results, strict=True)):
            h.append(ToolResult(end, run_id, run.identity, i, call, result))
    h.append(RunFinished(end, run_id, run.identity, ok, None if ok else "ValueError: x"))
    if ok:
        conn = "c1" if run.identity == "A" else "c2"
        _events(h, end, conn, run.identity, run_id, range(len(run.plan) * 3 + 2))


def _events(h: History, step: int, conn: str, who: str, run_id: str, seqs: Any,
            user: str | None = None) -> None:
    kinds = oracle.expected_kinds(len(h.runs[run_id].plan)) if run_id in h.runs else []
    for seq in seqs:
        kind = kinds[seq] if seq < len(kinds) else "agent_completed"
        event = Event(kind, user or h.identities[who], "t1", run_id, seq, {})  # type: ignore[arg-type]
        h.append(EventDelivered(step, conn, who, event))


def _names(violations: list[Violation]) -> list[tuple[str, str, int, tuple[str, ...]]]:
    return [(v.invariant, v.anomaly, v.step, v.identities) for v in violations]


REMEMBER_A = ToolCall("remember", "redis", "k", f"{CA} v")
REMEMBER_A2 = ToolCall("remember", "redis", "k", f"{CA2} w")
REMEMBER_B = ToolCall("remember", "redis", "k", f"{CB} v")
RECALL = ToolCall("recall", "redis", "k")
FORGET = ToolCall("forget", "redis", "k")
AGGREGATE = ToolCall("aggregate", "redis")


def test_clean_history_passes_every_invariant() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A, RECALL], ["ok", f"{CA} v"], end=2)
    _run(h, 3, "r2", "B", [REMEMBER_B, AGGREGATE], ["ok", {"values": [f"{CB} v"]}], end=4)
    _run(h, 5, "r3", "A", [RECALL, ToolCall("recall", "postgres", "k")], [f"{CA} v", None], end=6)
    h.append(ForgedAttempt(7, "B", "alg_none", "run", False, None))
    assert oracle.check(h) == []
    for invariant in oracle.INVARIANTS:
        assert invariant(h) == [], invariant.__name__


def test_invariants_are_named_in_order_and_all_public() -> None:
    assert [f.__name__ for f in oracle.INVARIANTS] == [
        "no_foreign_data", "events_reach_only_owner", "complete_lifecycle",
        "read_your_writes", "rejects_bad_tokens", "no_residue", "runs_make_progress",
    ]
    public = {n for n, v in vars(oracle).items() if callable(v) and n[0] not in "_@"
              and getattr(v, "__module__", None) == oracle.__name__}
    assert public <= set(oracle.__all__)


# -- no_foreign_data ------------------------------------------------------------------


def test_no_foreign_data_in_a_tool_result() -> None:
    h = _history()
    _run(h, 1, "r1", "B", [REMEMBER_B], ["ok"], end=2)
    _run(h, 3, "r2", "A", [AGGREGATE], [{"count": 1, "values": [f"{CB} v"]}], end=4)
    (found,) = oracle.no_foreign_data(h)
    assert _names([found]) == [("no_foreign_data", "ForeignDataObserved", 4, ("A", "B"))]
    assert found.evidence == {
        "observer": "A", "owner": "B", "canary": CB, "step": 4,
        "where": "tool result of run r2 call 0 aggregate(redis)",
    }
    assert found.message.startswith("no_foreign_data violated at step 4: A ('u1') saw B ('u10')")


def test_no_foreign_data_in_an_event_payload() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], [])
    event = Event("tool_executing", "u10", "t1", "r9", 2, {"call": REMEMBER_A.to_json()})
    h.append(EventDelivered(2, "c2", "B", event))
    (found,) = oracle.no_foreign_data(h)
    assert _names([found]) == [("no_foreign_data", "ForeignDataObserved", 2, ("B", "A"))]
    assert found.evidence["where"] == "event tool_executing of run r9 on connection c2"


def test_no_foreign_data_in_what_a_forged_token_saw_even_if_rejected() -> None:
    h = _history()
    h.append(ForgedAttempt(3, "B", "tampered_sub", "run", True, [{"values": [CA]}]))
    h.append(ForgedAttempt(4, "B", "expired", "connect", False, [{"kind": f"x{CA2}"}]))
    found = oracle.no_foreign_data(h)
    assert [(v.step, v.identities, v.evidence["canary"]) for v in found] == [
        (3, ("B", "A"), CA), (4, ("B", "A"), CA2)
    ]


def test_no_foreign_data_names_every_owner_and_reads_dict_keys() -> None:
    h = _history()
    h.add_identity("C", "u2")
    h.canaries.register(make_canary(9), "C")
    _run(h, 1, "r1", "A", [AGGREGATE], [{CB: 1, "v": [make_canary(9)]}], end=2)
    assert sorted(v.identities for v in oracle.no_foreign_data(h)) == [("A", "B"), ("A", "C")]


def test_own_and_unregistered_canaries_are_not_foreign() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A, AGGREGATE], ["ok", {"values": [CA, make_canary(77)]}],
         end=2)
    assert oracle.no_foreign_data(h) == []


# -- events_reach_only_owner ----------------------------------------------------------


def test_events_of_another_identitys_run_are_foreign() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], [])
    _events(h, 2, "c1", "A", "r1", [0])
    assert oracle.events_reach_only_owner(h) == []
    _events(h, 3, "c2", "B", "r1", [0], user="u1")
    (found,) = oracle.events_reach_only_owner(h)
    assert _names([found]) == [("events_reach_only_owner", "ForeignEventDelivered", 3, ("B", "A"))]
    assert found.evidence["connection_id"] == "c2"
    assert "B ('u10') received event agent_started of run r1" in found.message


def test_events_of_an_unknown_run_are_foreign() -> None:
    h = _history()
    _events(h, 4, "c2", "B", "nope", [0], user="u10")
    _events(h, 5, "c2", "B", "ghost", [0], user="u1")
    assert _names(oracle.events_reach_only_owner(h)) == [
        ("events_reach_only_owner", "ForeignEventDelivered", 4, ("B",)),
        ("events_reach_only_owner", "ForeignEventDelivered", 5, ("B", "A")),
    ]


def test_an_event_of_ones_own_run_addressed_to_another_user_is_foreign() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], [])
    _events(h, 2, "c1", "A", "r1", [0], user="u10")
    assert _names(oracle.events_reach_only_owner(h)) == [
        ("events_reach_only_owner", "ForeignEventDelivered", 2, ("A", "B"))
    ]


# -- complete_lifecycle ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seqs", "anomaly"),
    [
        ([0, 1, 2, 3], "LostEvent"),
        ([0, 2, 3, 4], "LostEvent"),
        ([], "LostEvent"),
        ([0, 1, 2, 3, 4, 4], "DuplicateEvent"),
        ([0, 0, 1, 2, 3, 4], "DuplicateEvent"),
        ([0, 1, 2, 3, 4, 5], "DuplicateEvent"),  # a second agent_completed, numbered on
        ([1, 0, 2, 3, 4], "EventsOutOfOrder"),
        ([0, 1, 2, 4, 3], "EventsOutOfOrder"),
    ],
)
def test_complete_lifecycle_catches_lost_duplicate_and_reordered(
    seqs: list[int], anomaly: str
) -> None:
    h = _history()
    _run(h, 2, "r1", "A", [REMEMBER_A], [])
    _events(h, 3, "c1", "A", "r1", seqs)
    h.append(RunFinished(3, "r1", "A", True, None))
    (found,) = oracle.complete_lifecycle(h)
    assert _names([found]) == [("complete_lifecycle", anomaly, 3, ("A",))]
    assert found.evidence["received"] == [[oracle.expected_kinds(1)[s] if s < 5 else
                                           "agent_completed", s] for s in seqs]
    assert found.evidence["connection_id"] == "c1"


def test_a_late_duplicate_is_reported_at_the_step_it_arrives() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], ["ok"], end=2)
    assert oracle.complete_lifecycle(h) == []
    _events(h, 6, "c1", "A", "r1", [4])
    assert _names(oracle.complete_lifecycle(h)) == [("complete_lifecycle", "DuplicateEvent", 6,
                                                     ("A",))]


def test_complete_lifecycle_checks_each_of_the_owners_connections() -> None:
    h = _history()
    h.append(ConnectionOpened(0, "c3", "A"))
    _run(h, 1, "r1", "A", [REMEMBER_A, RECALL], ["ok", f"{CA} v"], end=2)  # c1 sees all
    (found,) = oracle.complete_lifecycle(h)
    assert (found.anomaly, found.evidence["connection_id"]) == ("LostEvent", "c3")


def test_complete_lifecycle_skips_connections_not_open_for_the_whole_run() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], [])
    h.append(ConnectionOpened(1, "same_step", "A"))
    h.append(ConnectionOpened(2, "late", "A"))
    _events(h, 3, "late", "A", "r1", [3, 4])
    h.append(ConnectionClosed(3, "c1", "A"))
    h.append(RunFinished(4, "r1", "A", True, None))
    assert oracle.complete_lifecycle(h) == []


def test_complete_lifecycle_checks_a_connection_closed_after_the_finish() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], [])
    _events(h, 2, "c1", "A", "r1", [0, 1])
    h.append(RunFinished(2, "r1", "A", True, None))
    h.append(ConnectionClosed(3, "c1", "A"))
    assert _names(oracle.complete_lifecycle(h)) == [("complete_lifecycle", "LostEvent", 2,
                                                     ("A",))]


def test_complete_lifecycle_skips_failed_and_unfinished_runs_and_others_connections() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], [], end=2, ok=False)
    _run(h, 3, "r2", "A", [REMEMBER_A], [])
    _events(h, 3, "c1", "A", "r2", [0])
    _run(h, 4, "r3", "B", [REMEMBER_B], ["ok"], end=5)  # A's c1 is not B's connection
    assert oracle.complete_lifecycle(h) == []


# -- read_your_writes -----------------------------------------------------------------


def test_read_your_writes_catches_a_lost_write() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], ["ok"], end=2)
    _run(h, 3, "r2", "A", [RECALL], [None], end=4)
    (found,) = oracle.read_your_writes(h)
    assert _names([found]) == [("read_your_writes", "LostWrite", 4, ("A",))]
    assert (found.evidence["expected"], found.evidence["got"]) == (f"{CA} v", None)
    assert "A ('u1') recalled 'k' from redis in run r2 call 0 and got None" in found.message


def test_read_your_writes_catches_another_users_value() -> None:
    h = _history()
    _run(h, 1, "r1", "B", [REMEMBER_B], ["ok"], end=2)
    _run(h, 3, "r2", "A", [RECALL], [None], end=4)
    assert oracle.read_your_writes(h) == []  # B's write is not A's
    _run(h, 5, "r3", "A", [RECALL], [f"{CB} v"], end=6)
    assert _names(oracle.read_your_writes(h)) == [("read_your_writes", "LostWrite", 6, ("A",))]


def test_read_your_writes_within_one_run_and_after_a_forget() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A, RECALL, FORGET, RECALL],
         ["ok", f"{CA} v", True, None], end=2)
    assert oracle.read_your_writes(h) == []
    h2 = _history()
    _run(h2, 1, "r1", "A", [REMEMBER_A, FORGET, RECALL], ["ok", True, f"{CA} v"], end=2)
    (found,) = oracle.read_your_writes(h2)
    assert (found.evidence["index"], found.evidence["expected"]) == (2, None)


def test_the_latest_earlier_run_wins_and_other_keys_are_separate() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], ["ok"], end=2)
    _run(h, 3, "r2", "A", [REMEMBER_A2], ["ok"], end=4)
    other = ToolCall("recall", "postgres", "k")
    _run(h, 5, "r3", "A", [RECALL, other], [f"{CA} v", None], end=6)
    (found,) = oracle.read_your_writes(h)
    assert (found.evidence["expected"], found.evidence["acceptable"]) == (
        f"{CA2} w", [f"{CA2} w"])


def test_read_your_writes_exempts_the_same_users_concurrent_runs() -> None:
    h = _history()
    _run(h, 1, "r0", "A", [REMEMBER_A2], ["ok"], end=2)
    _run(h, 3, "r1", "A", [RECALL, RECALL], [])
    _run(h, 4, "r2", "A", [REMEMBER_A], ["ok"], end=5)  # inside r1
    _run(h, 6, "r3", "A", [FORGET], [])  # still running when r1 ends
    _finish(h, 7, "r1", [f"{CA} v", None])  # neither is r0's value: both writes raced
    assert oracle.read_your_writes(h) == []
    # The exemption is per user: B's overlapping write does not excuse A's lost one.
    h2 = _history()
    _run(h2, 1, "r1", "A", [REMEMBER_A], ["ok"], end=2)
    _run(h2, 3, "r2", "A", [RECALL], [])
    _run(h2, 4, "r3", "B", [REMEMBER_B], ["ok"], end=5)
    _finish(h2, 6, "r2", [None])
    # Not excused, and B, who wrote the same key name meanwhile, is named as a suspect.
    assert _names(oracle.read_your_writes(h2)) == [
        ("read_your_writes", "DataDestroyedByAnotherIdentity", 6, ("A", "B"))]


def test_prior_runs_that_overlapped_each_other_may_win_either_way() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], [])
    _run(h, 2, "r2", "A", [REMEMBER_A2], ["ok"], end=3)
    _finish(h, 4, "r1", ["ok"])
    _run(h, 5, "r3", "A", [RECALL], [f"{CA2} w"], end=6)  # r2 finished first, wrote last
    _run(h, 7, "r4", "A", [RECALL], [None], end=8)
    (found,) = oracle.read_your_writes(h)
    assert found.step == 8
    assert found.evidence["acceptable"] == [f"{CA} v", f"{CA2} w"]


def test_a_failed_writer_may_or_may_not_have_written() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], ["ok"], end=2)
    _run(h, 3, "r2", "A", [FORGET, REMEMBER_A2], [], end=4, ok=False)
    for step, got in [(5, f"{CA} v"), (7, None), (9, f"{CA2} w")]:
        _run(h, step, f"x{step}", "A", [RECALL], [got], end=step + 1)
    assert oracle.read_your_writes(h) == []
    _run(h, 11, "r9", "A", [RECALL], ["something else"], end=12)
    assert [v.step for v in oracle.read_your_writes(h)] == [12]


def test_recalls_of_failed_runs_are_not_checked() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], ["ok"], end=2)
    _run(h, 3, "r2", "A", [RECALL], [])
    h.append(ToolResult(4, "r2", "A", 0, RECALL, None))  # recorded, but the run failed
    h.append(RunFinished(4, "r2", "A", False, "AuthError: expired"))
    assert oracle.read_your_writes(h) == []


# -- rejects_bad_tokens and no_residue ------------------------------------------------


def test_rejects_bad_tokens() -> None:
    h = _history()
    h.append(ForgedAttempt(1, "A", "expired", "connect", False, None))
    assert oracle.rejects_bad_tokens(h) == []
    h.append(ForgedAttempt(2, "A", "alg_none", "run", True, ["x"]))
    h.append(ForgedAttempt(3, "B", "wrong_audience", "connect", True, []))
    found = oracle.rejects_bad_tokens(h)
    assert _names(found) == [
        ("rejects_bad_tokens", "ForgedTokenAccepted", 2, ("A",)),
        ("rejects_bad_tokens", "ForgedTokenAccepted", 3, ("B",)),
    ]
    assert found[0].evidence["kind"] == "alg_none"
    assert "B ('u10') was accepted to connect" in found[1].message


def test_no_residue() -> None:
    h = _history()
    _run(h, 1, "r1", "A", [REMEMBER_A], ["ok"], end=2)
    assert oracle.no_residue(h) == []
    h.append(ResidueProbed(2, "r1", "A", "redis", ("scratch:r1",)))
    h.append(ResidueProbed(2, "r1", "A", "postgres", ("a", "b")))
    found = oracle.no_residue(h)
    assert _names(found) == [("no_residue", "ResidueLeft", 2, ("A",))] * 2
    assert found[1].evidence["leftovers"] == ["a", "b"]
    assert "left 2 request-scoped entries in postgres" in found[1].message


# -- check ----------------------------------------------------------------------------


def test_check_orders_by_step_and_violations_are_json_safe() -> None:
    h = _history()
    _run(h, 1, "r1", "B", [REMEMBER_B], ["ok"], end=2)
    _run(h, 3, "r2", "A", [RECALL], [f"{CB} v"], end=4)
    h.append(ForgedAttempt(5, "A", "alg_none", "run", True, None))
    h.append(ResidueProbed(6, "r9", "B", "redis", ("x",)))
    found = oracle.check(h)
    assert [(v.step, v.invariant) for v in found] == [
        (4, "no_foreign_data"), (4, "read_your_writes"),
        (5, "rejects_bad_tokens"), (6, "no_residue"),
    ]
    for v in found:
        assert v.message.startswith(f"{v.invariant} violated at step {v.step}: ")
        assert Violation.from_json(json.loads(json.dumps(v.to_json()))) == v


# -- no false alarms on a correct platform --------------------------------------------


@st.composite
def _simulated(draw: st.DrawFn) -> History:
    """Runs of A and B interleaved call by call over per-user stores, some failing."""
    h = _history()
    memory: dict[tuple[str, str, str | None], str | None] = {}
    todo = [(draw(st.sampled_from("AB")), draw(plans(keys=("k", "x"), tools=TOOLS)),
             draw(st.none() | st.integers(0, 3))) for _ in range(draw(st.integers(1, 4)))]
    active: dict[str, list[Any]] = {}
    step = 0
    while todo or active:
        step += 1
        move = draw(st.sampled_from((["start"] if todo else []) + sorted(active)))
        if move == "start":
            who, plan, fail_at = todo.pop(0)
            run_id = f"r{step}"
            plan = tuple(ToolCall(c.tool, c.store, c.key, f"{make_canary(step * 10 + i)} v")
                         if c.value is not None else c for i, c in enumerate(plan))
            for i, call in enumerate(plan):
                if call.value is not None:
                    h.canaries.register(make_canary(step * 10 + i), who)
            h.append(RunStarted(step, run_id, who, h.identities[who], "t1", plan))
            active[run_id] = [who, plan, fail_at, []]
            continue
        who, plan, fail_at, results = active[move]
        if fail_at == len(results):
            h.append(RunFinished(step, move, who, False, "ValueError: x"))
        elif len(results) == len(plan):
            _finish(h, step, move, results)
        else:  # one more call, applied to the store now, reported when the run ends
            call = plan[len(results)]
            slot = (who, call.store, call.key)
            live = sorted((k, v) for (u, s, k), v in memory.items()
                          if (u, s) == (who, call.store) and v is not None)
            kept = [c.value for c in plan[: len(results) + 1]
                    if c.tool == "scratch" and c.store == call.store]
            results.append({
                "remember": "ok", "forget": True, "recall": memory.get(slot),
                "list": [k for k, _ in live], "scratch": kept,
                "aggregate": {"count": len(live), "values": sorted(v for _, v in live)},
            }[call.tool])
            if call.tool in ("remember", "forget"):
                memory[slot] = call.value
            continue
        del active[move]
    return h


@given(_simulated())
def test_a_correct_platform_never_violates_anything(h: History) -> None:
    assert oracle.check(h) == []


@given(_simulated())
def test_a_lost_tool_completed_is_always_caught(h: History) -> None:
    drop = next((r for r in h.entries if isinstance(r, EventDelivered)
                 and r.event.kind == "tool_completed"), None)
    broken = History.from_json({**h.to_json(), "entries": [
        r.to_json() for r in h.entries if r is not drop]})
    found = oracle.check(broken)
    assert [v.anomaly for v in found] == ([] if drop is None else ["LostEvent"])
