"""Connection moves: a second tab, a disconnect, a reconnect; judged per connection interval.

Issue 13: every identity used to connect once and stay connected, so bugs in slot
reuse, stale registrations and routing after reconnect were out of reach.  These
tests perform the moves on the real reference platform, hold the oracle to each
connection's open interval (no false lifecycle violations for a connection closed
mid-run), shrink connection moves and unused identities away (renaming the rest),
and load and replay a format-1 scenario written by the code before connection moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from isolation_fuzz.engine.example.execution import Execution, canary_for
from isolation_fuzz.engine.example.harness import Harness, Limits
from isolation_fuzz.engine.example.session import open_session
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle.invariants import complete_lifecycle
from isolation_fuzz.engine.replay.drop_identity import drop_identity, unused_identities
from isolation_fuzz.engine.replay.perform import perform
from isolation_fuzz.engine.replay.reproduce import replay_scenario
from isolation_fuzz.engine.replay.scenario import (
    FORMAT,
    Scenario,
    ScenarioError,
    load_scenario,
    save_scenario,
)
from isolation_fuzz.engine.replay.shrink import minimize
from isolation_fuzz.engine.trace import Move, format_moves, scenario_length
from isolation_fuzz.model import (
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventDelivered,
    RunFinished,
    RunStarted,
    ToolCall,
)
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec

FORMAT_1 = Path(__file__).parents[1] / "replay" / "scenarios" / "format1_thread_routed_events.json"
IDS = {"A": "alice", "B": "bob", "C": "carol"}
REMEMBER = (ToolCall("remember", "redis", "k", f"{canary_for('A', 0)} v"),)


def _harness(target: str) -> Iterator[Harness]:
    with open_session(TargetSpec(target), ServiceConfig(), Limits()) as session:
        yield session.harness


@pytest.fixture(scope="module")
def reference() -> Iterator[Harness]:
    yield from _harness("reference")


@pytest.fixture(scope="module")
def slot_bug() -> Iterator[Harness]:
    yield from _harness("zoo:reused_connection_slot")


# -- the moves on the reference platform ------------------------------------------------


def test_a_second_tab_receives_the_whole_run_and_every_connection_is_recorded(
    reference: Harness,
) -> None:
    ex = Execution(reference)
    try:
        ex.log_in(["alice", "bob"])
        second = ex.connect("A")
        assert second == "c3"
        assert ex.connections_of("A") == ["c1", "c3"]
        ex.check()
        run = ex.start_run("A", "t1", REMEMBER)
        ex.finish(run)
        ex.check()
        got = {r.connection_id for r in ex.history.of_type(EventDelivered)
               if r.event.run_id == run}
        assert got == {"c1", "c3"}
        new = ex.reconnect("c1")
        ex.disconnect(new)
        ex.check()
        assert ex.connections_of("A") == ["c3"]
        opened = [(r.step, r.connection_id) for r in ex.history.of_type(ConnectionOpened)]
        closed = [(r.step, r.connection_id) for r in ex.history.of_type(ConnectionClosed)]
        assert opened == [(0, "c1"), (0, "c2"), (1, "c3"), (4, "c4")]
        assert closed == [(4, "c1"), (5, "c4")]
        assert [m.kind for m in ex.moves] == [
            "connect", "start_run", "finish", "reconnect", "disconnect"]
        assert ex.moves[3].opened == "c4"
        ex.final_reads()
    finally:
        ex.close()


def test_connections_closed_and_opened_mid_run_are_clean_on_the_reference(
    reference: Harness,
) -> None:
    # A's only connection closes while its run is paused, B reloads mid-run, A opens a
    # new tab before the run ends: each misses part of a run, none of it is a violation.
    two_calls = (*REMEMBER, ToolCall("recall", "redis", "k"))
    moves = [
        Move(1, "start_run", "A", "r1", "t1", two_calls),
        Move(2, "start_run", "B", "r2", "t1", ()),
        Move(3, "step", "A", "r1"),
        Move(4, "disconnect", "A", connection_id="c1"),
        Move(5, "reconnect", "B", connection_id="c2", extra={"opened": "c3"}),
        Move(6, "step", "A", "r1"),
        Move(7, "connect", "A", connection_id="c4"),
        Move(8, "finish", "A", "r1"),
        Move(9, "finish", "B", "r2"),
    ]
    replayed = perform(reference, {"A": "alice", "B": "bob"}, moves)
    assert not replayed.reproduced, [v.message for v in replayed.violations]
    assert not replayed.diverged


# -- the oracle, per connection interval ------------------------------------------------


def _history(*records: object) -> History:
    h = History()
    h.add_identity("A", "alice")
    for record in records:
        h.append(record)  # type: ignore[arg-type]
    return h


def _event(kind: str, seq: int) -> Event:
    return Event(kind, "alice", "t1", "r1", seq, {})


def test_a_partly_open_connection_may_miss_events_but_never_receive_one_twice() -> None:
    start = RunStarted(1, "r1", "A", "alice", "t1", ())
    end = RunFinished(3, "r1", "A", True, None)
    base = [ConnectionOpened(0, "c1", "A"), start,
            EventDelivered(1, "c1", "A", _event("agent_started", 0)),
            ConnectionClosed(2, "c1", "A"), ConnectionOpened(2, "c2", "A"),
            EventDelivered(3, "c2", "A", _event("agent_completed", 1))]
    assert complete_lifecycle(_history(*base, end)) == []
    twice = EventDelivered(3, "c2", "A", _event("agent_completed", 1))
    [violation] = complete_lifecycle(_history(*base, twice, end))
    assert violation.anomaly == "DuplicateEvent"
    assert "connection c2" in violation.message
    assert "open for part of the run" in violation.message


def test_a_connection_closed_after_the_run_ended_is_held_to_the_whole_lifecycle() -> None:
    records = [ConnectionOpened(0, "c1", "A"), RunStarted(1, "r1", "A", "alice", "t1", ()),
               EventDelivered(1, "c1", "A", _event("agent_started", 0)),
               RunFinished(2, "r1", "A", True, None), ConnectionClosed(3, "c1", "A")]
    [violation] = complete_lifecycle(_history(*records))
    assert violation.anomaly == "LostEvent"


# -- the seeded bug only connection moves find ------------------------------------------

SLOT_REUSE = [
    Move(1, "disconnect", "A", connection_id="c1"),
    Move(2, "connect", "B", connection_id="c3"),
]


def test_a_reused_slot_routes_the_old_users_events_to_the_new_connection(
    slot_bug: Harness, reference: Harness,
) -> None:
    replayed = perform(slot_bug, {"A": "alice", "B": "bob"}, SLOT_REUSE)
    assert "events_reach_only_owner" in replayed.invariants
    assert "on connection c3" in replayed.violations[0].message
    assert not perform(reference, {"A": "alice", "B": "bob"}, SLOT_REUSE).reproduced
    # Without the disconnect no slot is freed: nothing to find.
    assert not perform(slot_bug, {"A": "alice", "B": "bob"}, SLOT_REUSE[1:]).reproduced


@pytest.mark.parametrize("target", ["reference", "zoo:reused_connection_slot"])
def test_connection_moves_work_over_real_websockets(target: str) -> None:
    # The server unregisters a closed socket in its own time; the moves must still
    # replay the same way as in process.
    with open_session(TargetSpec(target, "websocket"), ServiceConfig(), Limits()) as session:
        replayed = perform(session.harness, {"A": "alice", "B": "bob"}, SLOT_REUSE)
    assert replayed.reproduced == (target != "reference")
    assert not replayed.diverged


# -- shrinking ---------------------------------------------------------------------------


def test_drop_identity_renames_the_rest_and_their_log_in_connections() -> None:
    moves = (
        Move(1, "connect", "C", connection_id="c4"),
        Move(2, "reconnect", "C", connection_id="c3", extra={"opened": "c5"}),
        Move(3, "forge", "A", forgery="none", action="run", extra={"victim": "C"}),
        Move(4, "disconnect", "A", connection_id="c1"),
    )
    assert unused_identities(IDS, moves) == ["B"]
    fewer, renamed = drop_identity(IDS, moves, "B")
    assert fewer == {"A": "alice", "B": "carol"}
    assert [(m.identity, m.connection_id) for m in renamed] == [
        ("B", "c4"), ("B", "c2"), ("A", None), ("A", "c1")]
    assert renamed[1].opened == "c5"
    assert renamed[2].extra["victim"] == "B"
    fewer, renamed = drop_identity({"A": "alice", "B": "bob"}, (Move(1, "disconnect", "B",
                                   connection_id="c2"),), "A")
    assert fewer == {"A": "bob"}
    assert renamed[0].identity == "A"
    assert renamed[0].connection_id == "c1"


def test_minimize_drops_connection_moves_and_a_middle_identity_no_move_needs(
    slot_bug: Harness,
) -> None:
    padded = [
        Move(1, "connect", "A", connection_id="c4"),
        Move(2, "disconnect", "A", connection_id="c4"),
        Move(3, "disconnect", "A", connection_id="c1"),
        Move(4, "look", "B", "look1", "t1"),
        Move(5, "reconnect", "C", connection_id="c3", extra={"opened": "c5"}),
    ]
    found = perform(slot_bug, IDS, padded)
    assert found.reproduced
    best, fixpoint = minimize(slot_bug, found)
    assert fixpoint
    chosen = [m for m in best.moves if not m.final]
    assert best.identities == {"A": "alice", "B": "carol"}
    assert [(m.kind, m.identity, m.connection_id) for m in chosen] == [
        ("disconnect", "A", "c1"), ("reconnect", "B", "c2")]
    assert scenario_length(best.moves) == 2
    assert "B reconnects: closes c2, opens c5" in format_moves(best.identities, best.moves)


# -- scenario files ----------------------------------------------------------------------


def test_a_format_1_file_written_before_connection_moves_loads_and_replays(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(FORMAT_1)
    assert json.loads(FORMAT_1.read_text())["format"] == 1
    assert [m.kind for m in scenario.moves if not m.final] == ["start_run", "start_run"]
    report = replay_scenario(scenario, services=ServiceConfig(), repeat=2)
    assert report.reproduced
    assert report.reproductions == 2
    # Saved again, it is written in the current format and still loads.
    copy = save_scenario(tmp_path / "again.json", scenario)
    assert json.loads(copy.read_text())["format"] == FORMAT == 2
    assert load_scenario(copy).moves == scenario.moves


def test_connection_moves_round_trip_and_are_refused_in_a_format_1_file() -> None:
    base = json.loads(FORMAT_1.read_text())
    base["format"] = 2
    base["moves"] = [m.to_json() for m in SLOT_REUSE] + [
        Move(3, "reconnect", "B", connection_id="c3", extra={"opened": "c4"}).to_json()]
    loaded = Scenario.from_json(base)
    assert [m.connection_id for m in loaded.moves] == ["c1", "c3", "c3"]
    assert loaded.moves[2].opened == "c4"
    old = dict(base, format=1)
    with pytest.raises(ScenarioError, match=r"moves\[0\]\.kind.*format 1 files cannot hold"):
        Scenario.from_json(old)
    no_id = dict(base, moves=[{"step": 1, "kind": "disconnect", "identity": "A"}])
    with pytest.raises(ScenarioError, match=r"moves\[0\]\.connection_id: is missing"):
        Scenario.from_json(no_id)
    no_new = dict(base, moves=[{"step": 1, "kind": "reconnect", "identity": "A",
                                "connection_id": "c1"}])
    with pytest.raises(ScenarioError, match=r"moves\[0\]\.extra\.opened: is missing"):
        Scenario.from_json(no_new)
    with pytest.raises(ScenarioError, match=r"format 3 is not supported .*reads 1 and 2"):
        Scenario.from_json(dict(base, format=3))
