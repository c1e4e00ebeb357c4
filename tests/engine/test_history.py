"""History records, violations and the history itself, and their JSON forms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isolation_fuzz.engine import history as history_module
from isolation_fuzz.engine.canary import make_canary
from isolation_fuzz.engine.history import History
from isolation_fuzz.model import (
    EVENT_KINDS,
    RECORD_TYPES,
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
    Violation,
    record_from_json,
    record_to_json,
)
from isolation_fuzz.strategies import plans, tool_calls

texts = st.text(max_size=8)
steps = st.integers(0, 99)
# JSON-like values as tool results and observations are: no tuples, string keys only.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
calls = tool_calls()
events = st.builds(
    Event, st.sampled_from(EVENT_KINDS), texts, texts, texts, st.integers(0, 9),
    st.dictionaries(texts, json_values, max_size=3),
)

RECORDS: dict[type[Any], st.SearchStrategy[Any]] = {
    RunStarted: st.builds(RunStarted, steps, texts, texts, texts, texts, plans()),
    ToolResult: st.builds(ToolResult, steps, texts, texts, st.integers(0, 3), calls, json_values),
    RunFinished: st.builds(RunFinished, steps, texts, texts, st.booleans(), st.none() | texts),
    EventDelivered: st.builds(EventDelivered, steps, texts, texts, events),
    ConnectionOpened: st.builds(ConnectionOpened, steps, texts, texts),
    ConnectionClosed: st.builds(ConnectionClosed, steps, texts, texts),
    ForgedAttempt: st.builds(ForgedAttempt, steps, texts, texts, texts, st.booleans(),
                             json_values),
    ResidueProbed: st.builds(ResidueProbed, steps, texts, texts, texts,
                             st.lists(texts, max_size=3).map(tuple)),
    RunBlocked: st.builds(RunBlocked, steps, texts, texts,
                          st.floats(0, 60, allow_nan=False, allow_infinity=False)),
}
records: st.SearchStrategy[Record] = st.one_of(*RECORDS.values())


def test_public_names_are_exactly_all() -> None:
    assert history_module.__all__ == ["History"]


def test_every_record_type_has_a_strategy_here() -> None:
    assert set(RECORDS) == set(RECORD_TYPES.values())


@given(records)
def test_every_record_round_trips_through_its_own_json(record: Record) -> None:
    text = json.dumps(record.to_json())  # JSON-safe: dumps would raise otherwise
    again = type(record).from_json(json.loads(text))
    assert again == record
    assert type(again) is type(record)


@given(records)
def test_every_record_round_trips_through_the_tagged_codec(record: Record) -> None:
    data = json.loads(json.dumps(record_to_json(record)))
    assert data["type"] == type(record).__name__
    assert record_from_json(data) == record


def test_from_json_accepts_an_untagged_record_but_not_a_mislabelled_one() -> None:
    record = ConnectionOpened(3, "c1", "A")
    untagged = {k: v for k, v in record.to_json().items() if k != "type"}
    assert ConnectionOpened.from_json(untagged) == record
    with pytest.raises(ValueError, match="expected a ConnectionClosed record"):
        ConnectionClosed.from_json(record.to_json())


def test_unknown_or_malformed_records_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown history record type"):
        record_from_json({"type": "Pickle"})
    with pytest.raises(ValueError, match="malformed ConnectionOpened record"):
        record_from_json({"type": "ConnectionOpened", "step": 1})
    with pytest.raises(ValueError, match="unknown tool"):
        record_from_json({"type": "ToolResult", "step": 1, "run_id": "r1", "identity": "A",
                          "index": 0, "call": {"tool": "drop", "store": "redis"},
                          "result": None})


@given(st.builds(
    Violation, texts, texts, steps, st.lists(texts, max_size=3).map(tuple), texts,
    st.dictionaries(texts, json_values, max_size=3),
))
def test_violation_round_trips(violation: Violation) -> None:
    assert Violation.from_json(json.loads(json.dumps(violation.to_json()))) == violation


def _small_history() -> History:
    h = History()
    h.add_identity("A", "u1")
    h.add_identity("B", "u10")
    h.canaries.register(make_canary(1), "A")
    h.append(ConnectionOpened(0, "c1", "A"))
    h.append(RunStarted(1, "r1", "A", "u1", "t1", (ToolCall("list", "redis"),)))
    h.append(RunStarted(2, "r2", "B", "u10", "t1", ()))
    h.append(ToolResult(3, "r1", "A", 0, ToolCall("list", "redis"), ["k"]))
    h.append(RunFinished(3, "r1", "A", True, None))
    h.append(RunFinished(4, "r2", "B", False, "AuthError: no"))
    return h


def test_history_indexes_runs_finishes_and_types() -> None:
    h = _small_history()
    assert len(h) == 6
    assert h.last_step == 4
    assert h.owner_of_run("r2") == "B"
    assert h.owner_of_run("r9") is None
    assert h.user_id("B") == "u10"
    assert h.user_id("Z") is None
    assert set(h.finished) == {"r1", "r2"}
    assert [r.run_id for r in h.ok_runs()] == ["r1"]
    assert [r.run_id for r in h.of_type(RunStarted)] == ["r1", "r2"]
    assert [r.ok for r in h.of_type(RunFinished)] == [True, False]
    assert h.of_type(ResidueProbed) == []
    # A copy: appending to it does not change the history.
    h.of_type(RunStarted).clear()
    assert len(h.of_type(RunStarted)) == 2


def test_history_round_trips() -> None:
    h = _small_history()
    again = History.from_json(json.loads(json.dumps(h.to_json())))
    assert again.entries == h.entries
    assert again.identities == h.identities
    assert again.canaries.items() == h.canaries.items()
    assert again.runs == h.runs
    assert again.finished == h.finished


@given(st.lists(records, max_size=6))
def test_any_well_ordered_history_round_trips(entries: list[Record]) -> None:
    h = History()
    seen_runs: set[tuple[str, str]] = set()
    for step, record in enumerate(entries):
        if isinstance(record, RunStarted | RunFinished):
            key = (type(record).__name__, record.run_id)
            if key in seen_runs:
                continue
            seen_runs.add(key)
        h.append(type(record).from_json({**record.to_json(), "step": step}))
    again = History.from_json(json.loads(json.dumps(h.to_json())))
    assert again.entries == h.entries


def test_history_refuses_time_travel_and_restarts() -> None:
    h = _small_history()
    with pytest.raises(ValueError, match="after step 4"):
        h.append(RunFinished(1, "r1", "A", True, None))
    with pytest.raises(ValueError, match="started twice"):
        h.append(RunStarted(5, "r1", "A", "u1", "t1", ()))
    with pytest.raises(ValueError, match="finished twice"):
        h.append(RunFinished(5, "r1", "A", True, None))
    with pytest.raises(ValueError, match="already user 'u1'"):
        h.add_identity("A", "u2")
    h.add_identity("A", "u1")  # the same again is fine
    assert len(h) == 6  # refused records were not added
