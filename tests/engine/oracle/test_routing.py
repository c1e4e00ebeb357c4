"""Events routed per connection: a run's lifecycle is owed to the tab that started it.

Histories crafted by hand.  Identity A has two tabs (c1 opened first, c2 newest);
B has one (c3).  With ``event_routing = "connection"`` A's run r1 started through
c2, its newest tab open at the start: c2 must get the whole lifecycle, c1 may get
none of it (no false lifecycle violation), a repeat anywhere is still named, and an
event on B's tab is still a foreign event.  With the default per-user routing the
same silent c1 is a lost lifecycle, as it always was.
"""

from __future__ import annotations

import pytest

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.oracle.incremental.core import IncrementalOracle
from isolation_fuzz.engine.oracle.lifecycle import connection_log, origin
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import (
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventDelivered,
    RunFinished,
    RunStarted,
    ToolCall,
)

KINDS = dict(event_kinds=("begin", "token", "end"), begin_kinds=("begin",), end_kinds=("end",))
PER_TAB = Capabilities(**KINDS, event_routing="connection")  # type: ignore[arg-type]
PER_USER = Capabilities(**KINDS)  # type: ignore[arg-type]
WHOLE = ["begin", "token", "end"]


def _history(capabilities: Capabilities, deliveries: dict[str, list[str]], *,
             seqs: dict[str, list[int]] | None = None,
             close_c2_at: int | None = None) -> History:
    """A's run r1 (steps 2 to 3) whose events went to the given connections."""
    h = History(capabilities)
    h.add_identity("A", "u1")
    h.add_identity("B", "u2")
    h.append(ConnectionOpened(0, "c1", "A"))
    h.append(ConnectionOpened(0, "c3", "B"))
    h.append(ConnectionOpened(1, "c2", "A"))
    if close_c2_at is not None and close_c2_at < 2:
        h.append(ConnectionClosed(close_c2_at, "c2", "A"))
    h.append(RunStarted(2, "r1", "A", "u1", "t1", (ToolCall("list", "redis"),)))
    h.append(RunFinished(3, "r1", "A", True, None))
    owners = {"c1": "A", "c2": "A", "c3": "B"}
    for connection, kinds in deliveries.items():
        numbers = (seqs or {}).get(connection, list(range(len(kinds))))
        for seq, kind in zip(numbers, kinds, strict=True):
            h.append(EventDelivered(3, connection, owners[connection],
                                    Event(kind, "u1", "t1", "r1", seq, {})))
    return h


def _anomalies(h: History) -> list[tuple[str, str]]:
    """What the batch oracle finds, after checking the incremental one finds the same."""
    replayed = History(h.capabilities)
    for name, user_id in h.identities.items():
        replayed.add_identity(name, user_id)
    live = IncrementalOracle(replayed)
    for record in h.entries:  # record by record, as a live example feeds it
        replayed.append(record)
        assert live.check() == oracle.check(replayed), f"after {record!r}"
    return [(v.invariant, v.anomaly) for v in oracle.check(h)]


def test_the_other_tabs_of_the_owner_owe_nothing() -> None:
    assert _anomalies(_history(PER_TAB, {"c2": WHOLE})) == []


def test_the_same_silence_is_a_lost_lifecycle_when_events_are_owed_to_the_user() -> None:
    assert _anomalies(_history(PER_USER, {"c2": WHOLE})) == [
        ("complete_lifecycle", "LostEvent")
    ]


@pytest.mark.parametrize(("deliveries", "anomaly"), [
    ({"c2": ["begin", "token"]}, "LostEvent"),
    ({"c2": [], "c1": WHOLE}, "LostEvent"),  # the wrong tab of the right user
    ({"c2": ["token", "begin", "end"]}, "EventsOutOfOrder"),
])
def test_the_starting_tab_must_get_the_whole_lifecycle(
    deliveries: dict[str, list[str]], anomaly: str
) -> None:
    assert _anomalies(_history(PER_TAB, deliveries)) == [("complete_lifecycle", anomaly)]


def test_a_repeat_on_another_tab_of_the_owner_is_still_named() -> None:
    found = _anomalies(_history(PER_TAB, {"c2": WHOLE, "c1": ["begin", "begin"]},
                                seqs={"c1": [0, 0]}))
    assert found == [("complete_lifecycle", "DuplicateEvent")]


def test_an_event_on_another_users_tab_is_still_foreign() -> None:
    found = _anomalies(_history(PER_TAB, {"c2": WHOLE, "c3": ["token"]}))
    assert found == [("events_reach_only_owner", "ForeignEventDelivered")]


def test_the_origin_is_the_newest_tab_still_open_when_the_run_started() -> None:
    h = _history(PER_TAB, {}, close_c2_at=1)
    opened, closed, _ = connection_log(h.entries)
    assert origin(h.runs["r1"], opened, closed) == "c1"
    assert _anomalies(_history(PER_TAB, {"c1": WHOLE}, close_c2_at=1)) == []


def test_a_routing_nobody_knows_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="event_routing 'tab' is not one of user, connection"):
        Capabilities(event_routing="tab")
