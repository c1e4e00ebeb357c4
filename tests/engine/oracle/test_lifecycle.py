"""Lifecycle checks apply to the declared event kinds; every kind is routed and checked.

Histories crafted by hand for a target with kinds of its own (``run_begin``,
``tool_call``, ``usage``, ``run_end``): a whole run passes whatever comes between its
begin and its end; a lost end, a doubled begin or a reordered pair is named; an
event of a kind nobody declared is ignored by ``complete_lifecycle`` and still
caught by ``events_reach_only_owner`` when it reaches the wrong user.
"""

from __future__ import annotations

import pytest

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.oracle.lifecycle import judge
from isolation_fuzz.model import (
    ConnectionOpened,
    Event,
    EventDelivered,
    RunFinished,
    RunStarted,
    ToolCall,
)

OWN = Capabilities(
    event_kinds=("run_begin", "tool_call", "usage", "run_end"),
    begin_kinds=("run_begin",),
    end_kinds=("run_end",),
)
PLAN = (ToolCall("list", "redis"),)


def _history(capabilities: Capabilities, kinds: list[str], *, seqs: list[int] | None = None,
             to: str = "c1", user: str = "u1") -> History:
    """A finished run r1 of A whose events, of ``kinds``, went to connection ``to``."""
    h = History(capabilities)
    h.add_identity("A", "u1")
    h.add_identity("B", "u10")
    h.append(ConnectionOpened(0, "c1", "A"))
    h.append(ConnectionOpened(0, "c2", "B"))
    h.append(RunStarted(1, "r1", "A", "u1", "t1", PLAN))
    h.append(RunFinished(2, "r1", "A", True, None))
    who = "A" if to == "c1" else "B"
    for kind, seq in zip(kinds, seqs or range(len(kinds)), strict=True):
        h.append(EventDelivered(2, to, who, Event(kind, user, "t1", "r1", seq, {})))
    return h


def _anomalies(h: History) -> list[tuple[str, str]]:
    return [(v.invariant, v.anomaly) for v in oracle.check(h)]


@pytest.mark.parametrize("kinds", [
    ["run_begin", "run_end"],
    ["run_begin", "tool_call", "usage", "tool_call", "run_end"],
    ["run_begin", "debug", "run_end", "heartbeat"],  # undeclared kinds: routed, not judged
])
def test_a_whole_run_of_a_targets_own_kinds_passes(kinds: list[str]) -> None:
    assert _anomalies(_history(OWN, kinds)) == []


@pytest.mark.parametrize(("kinds", "seqs", "anomaly"), [
    (["run_begin", "tool_call"], None, "LostEvent"),
    (["tool_call", "run_end"], None, "LostEvent"),
    (["run_begin", "run_begin", "run_end"], None, "DuplicateEvent"),
    (["run_begin", "usage", "run_end"], [0, 0, 1], "DuplicateEvent"),
    (["run_begin", "run_end", "usage"], None, "EventsOutOfOrder"),
    (["run_begin", "usage", "run_end"], [0, 2, 1], "EventsOutOfOrder"),
])
def test_a_broken_run_of_a_targets_own_kinds_is_named(
    kinds: list[str], seqs: list[int] | None, anomaly: str
) -> None:
    assert _anomalies(_history(OWN, kinds, seqs=seqs)) == [("complete_lifecycle", anomaly)]


@pytest.mark.parametrize("kind", ["usage", "debug"])
def test_an_extra_kind_that_reaches_another_user_is_caught(kind: str) -> None:
    h = _history(OWN, ["run_begin", "run_end"])
    # The run's own events were fine; one more, of a declared or an undeclared kind,
    # went to B's connection.
    h.append(EventDelivered(3, "c2", "B", Event(kind, "u1", "t1", "r1", 2, {})))
    assert _anomalies(h) == [("events_reach_only_owner", "ForeignEventDelivered")]


def test_the_default_declaration_still_checks_every_event_of_the_plan() -> None:
    # One tool call: five events are due; a lost tool_completed is named exactly.
    got = [("agent_started", 0), ("agent_thinking", 1), ("tool_executing", 2),
           ("agent_completed", 4)]
    fault = judge(Capabilities(), 1, got)
    assert fault is not None
    assert (fault.anomaly, fault.detail) == ("LostEvent", "missing: tool_completed#3")


def test_undeclared_kinds_in_the_default_numbering_cause_no_false_alarm() -> None:
    # A target of the reference shape that also sends a heartbeat, numbered with the rest.
    got = [("agent_started", 0), ("heartbeat", 1), ("agent_thinking", 2),
           ("tool_executing", 3), ("tool_completed", 4), ("heartbeat", 5),
           ("agent_completed", 6)]
    assert judge(Capabilities(), 1, got) is None
    assert judge(Capabilities(), 2, got) is not None  # but a lost call's events still show


def test_an_event_of_any_kind_survives_its_json_form() -> None:
    event = Event("usage_report", "u1", "t1", "r1", 3, {"tokens": 7})
    assert Event.from_json(event.to_json()) == event
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match="event kind"):
            Event.from_json({**event.to_json(), "kind": bad})
