"""Every seeded bug is caught by a short campaign with a fixed seed; each record is honest.

Each bug's facts come from its record (``SeededBug``): the invariants it must trip,
the length of its shortest interleaving, its target name.  These tests hold the
records to the modules, to the README's measured table, and to what campaigns do.
Shrinking is off in the catch test (it is measured by ``isolation-fuzz zoo`` and the
benchmark): it checks that the search reaches each bug, and fast.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import isolation_fuzz.platform.bugs as bugs_package
from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.example.execution import canary_for, key_mark_for
from isolation_fuzz.engine.example.harness import Harness, Limits
from isolation_fuzz.engine.example.session import open_session
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.replay.perform import perform
from isolation_fuzz.engine.trace import Move, scenario_length
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import Store, ToolCall
from isolation_fuzz.platform.bugs import BUGS, SEEDED_BUGS, TARGETS, seeded_bug
from isolation_fuzz.platform.bugs._record import SeededBug
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec
from isolation_fuzz.zoo import ZooRow, format_zoo, shortest_for

README = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "zoo-default.md"

#: Bugs whose shrunk finding is checked against the record here, the shortest at 0 and
#: at 2 moves (``isolation-fuzz zoo`` checks every bug so, with a larger budget).
SHRINK_CHECKED = ("broadcast_events", "global_current_user")


def _ids(bug: SeededBug) -> str:
    return bug.name


@pytest.mark.parametrize("bug", SEEDED_BUGS, ids=_ids)
def test_bug_is_caught(bug: SeededBug) -> None:
    result = run_campaign(
        CampaignConfig(target=TargetSpec(bug.target), max_examples=600, seed=1, shrink=False)
    )
    assert result.finding is not None, f"{bug.name} was not caught in {result.examples} examples"
    fired = {v.invariant for v in result.finding.violations}
    assert fired & set(bug.trips), fired


@pytest.mark.parametrize("name", SHRINK_CHECKED)
def test_a_shrunk_finding_is_within_one_move_of_the_records_shortest(name: str) -> None:
    bug = seeded_bug(name)
    result = run_campaign(CampaignConfig(target=TargetSpec(bug.target), max_examples=300, seed=1))
    assert result.finding is not None
    assert scenario_length(result.finding.moves) <= bug.shortest + 1, result.finding.moves


@pytest.mark.parametrize("bug", SEEDED_BUGS, ids=_ids)
def test_record_agrees_with_its_module(bug: SeededBug) -> None:
    module = importlib.import_module(f"isolation_fuzz.platform.bugs.{bug.name}")
    assert module.BUG is bug
    doc = module.__doc__ or ""
    assert doc.startswith(bug.summary)
    assert f"Shortest interleaving: {bug.shortest} move" in doc
    assert callable(bug.open_target)
    assert TARGETS[f"zoo:{bug.name}"] is bug.open_target
    assert shortest_for(bug.name) == bug.shortest


@pytest.mark.parametrize("bug", SEEDED_BUGS, ids=_ids)
def test_record_names_invariants_the_oracle_has(bug: SeededBug) -> None:
    for name in bug.trips:
        assert callable(getattr(oracle, name, None)), name


def test_records_are_distinct_and_cover_every_module() -> None:
    modules = {path.stem for path in Path(bugs_package.__file__ or "").parent.glob("[!_]*.py")}
    assert len(set(BUGS)) == len(BUGS)
    assert set(BUGS) == modules


def test_an_unknown_bug_is_a_usage_error_naming_the_choices() -> None:
    with pytest.raises(UsageError, match="unknown bug 'nope'; choose from global_current_user"):
        seeded_bug("nope")


def _readme_zoo_rows() -> list[list[str]]:
    section = README.read_text(encoding="utf-8").split("## The zoo", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if re.match(r"^\| [a-z]", line)
    ]
    return [row for row in rows if row[0] not in ("bug", "reference")]


def test_readme_zoo_table_lists_the_records_in_order() -> None:
    rows = _readme_zoo_rows()
    assert [row[0] for row in rows] == list(BUGS)
    assert [int(row[-1]) for row in rows] == [bug.shortest for bug in SEEDED_BUGS]
    for row, bug in zip(rows, SEEDED_BUGS, strict=True):
        assert set(row[2].split(", ")) <= set(bug.trips), (bug.name, row[2])


def test_zoo_table_verdict() -> None:
    caught = ZooRow("lost_event", True, ("complete_lifecycle",), 1.0, 5, 7, 6, 50, 3.0)
    long_shrink = ZooRow(
        "broadcast_events", True, ("events_reach_only_owner",), 1.0, 5, 9, 2, 50, 3.0
    )
    clean = ZooRow("reference", False, (), None, None, None, None, 300, 20.0)
    assert caught.ok
    assert not long_shrink.ok
    assert clean.ok
    assert format_zoo([caught, clean]).endswith("verdict: PASS")
    assert format_zoo([caught, long_shrink, clean]).endswith("verdict: FAIL")


def _remember(name: str, store: Store, *more: ToolCall) -> tuple[ToolCall, ...]:
    return (ToolCall("remember", store, "k", f"{canary_for(name, 0)} v"), *more)


def _keep(name: str, store: Store) -> ToolCall:
    return ToolCall("scratch", store, value=f"{canary_for(name, 0)} v")


def _start(name: str, run: str, thread: str, plan: tuple[ToolCall, ...]) -> Move:
    return Move(0, "start_run", name, run, thread, plan)


_LIST = (ToolCall("list", "redis"),)
#: A provider-style id: two that differ after it agree on far more than their first 8.
_ROLE = "arn:aws:sts::000000000000:assumed-role/deploy"
_PLAIN = {"A": "a", "B": "b"}

#: For each bug, identities and moves of its shortest interleaving (its module's
#: docstring walks through it; its record states the length).
WITNESSES: dict[str, tuple[dict[str, str], list[Move]]] = {
    "broadcast_events": (_PLAIN, []),
    "incomplete_cleanup": (_PLAIN, []),
    "pooled_emitter_swap": (_PLAIN, []),
    "delimiter_injection": (
        {"A": "a", "B": "a:b"},
        [_start("B", "r1", "t1", _remember("B", "redis"))],
    ),
    "glob_injection": ({"A": "x*", "B": "x1"}, [_start("B", "r1", "t1", _remember("B", "redis"))]),
    "prefix_ownership": (
        {"A": "u1", "B": "u10"},
        [_start("B", "r1", "t1", _remember("B", "clickhouse"))],
    ),
    "missing_user_filter": (_PLAIN, [_start("B", "r1", "t1", _remember("B", "clickhouse"))]),
    "unscoped_cache_key": (
        _PLAIN,
        [
            _start(
                "B", "r1", "t1", _remember("B", "clickhouse", ToolCall("aggregate", "clickhouse"))
            )
        ],
    ),
    "unverified_token": (
        _PLAIN,
        [Move(0, "forge", "A", forgery="wrong_signature", action="run", extra={"victim": "B"})],
    ),
    "global_current_user": (
        _PLAIN,
        [_start("B", "r1", "t1", _remember("B", "postgres")), _start("A", "r2", "t2", _LIST)],
    ),
    "write_behind_owner": (
        _PLAIN,
        [_start("A", "r1", "t1", _remember("A", "redis")),
         _start("B", "r2", "t2", _remember("B", "redis"))],
    ),
    "inherited_request_identity": (
        _PLAIN,
        [_start("A", "r1", "t1", _remember("A", "redis")),
         _start("B", "r2", "t2", _remember("B", "redis"))],
    ),
    # Issue 19: inside held connections, where only automatic points are (HELD_WITNESSES).
    "unguarded_thread_claim": (
        _PLAIN,
        [_start("A", "r1", "t1", _remember("A", "redis")),
         _start("B", "r2", "t1", _remember("B", "redis")),
         Move(0, "step", "B", "r2"), Move(0, "step", "B", "r2")],
    ),
    "session_scoped_user": (_PLAIN, [_start("A", "r1", "t1", _remember("A", "postgres"))]),
    "shared_engine_state": (
        _PLAIN,
        [_start("A", "r1", "t1", _remember("A", "redis")), _start("B", "r2", "t1", _LIST)],
    ),
    "thread_ownership_unchecked": (
        _PLAIN,
        [_start("A", "r1", "t1", _remember("A", "redis")), _start("B", "r2", "t1", _LIST)],
    ),
    "thread_routed_events": (
        _PLAIN,
        [_start("B", "r1", "t1", _LIST), _start("A", "r2", "t1", _LIST)],
    ),
    # Issue 13: found by the read model, key marks and a run's own scratch.
    "stale_result_cache": (
        _PLAIN,
        [_start("A", "r1", "t1", (ToolCall("aggregate", "clickhouse"),
                                  ToolCall("remember", "clickhouse", f"k{key_mark_for('A')}",
                                           f"{canary_for('A', 0)} v")))],
    ),
    "unfiltered_key_listing": (
        _PLAIN,
        [
            _start("B", "r1", "t1", (ToolCall("remember", "clickhouse", f"k{key_mark_for('B')}",
                                              f"{canary_for('B', 0)} v"),)),
            _start("A", "r2", "t2", (ToolCall("list", "clickhouse"),)),
        ],
    ),
    "capped_scratch": (
        _PLAIN,
        [_start("A", "r1", "t1",
                (*_LIST, _keep("A", "redis")))],
    ),
    # Issue 13: found only by connection moves.
    "reused_connection_slot": (
        _PLAIN,
        [Move(0, "disconnect", "A", connection_id="c1"),
         Move(0, "connect", "B", connection_id="c3")],
    ),
    # Issue 13: found only by identity families (ids agreeing on their first 8 characters).
    "truncated_owner": (
        {"A": f"{_ROLE}-a", "B": f"{_ROLE}-b"},
        [_start("B", "r1", "t1", _remember("B", "clickhouse"))],
    ),
    # Issue 13: found only through a key name every identity shares (strategies/plans.py).
    "unscoped_delete": (
        _PLAIN,
        [
            _start("A", "r1", "t1", _remember("A", "clickhouse")),
            _start("B", "r2", "t2", (ToolCall("forget", "clickhouse", "k"),)),
        ],
    ),
    "lost_event": (
        _PLAIN,
        [
            _start("A", "r1", "t1", _LIST),
            _start("B", "r2", "t1", _LIST),
            Move(0, "step", "B", "r2"),
            Move(0, "step", "B", "r2"),
        ],
    ),
}


#: The witnesses step from checkpoint to checkpoint, as the bug modules tell them...
EXPLICIT = Limits(points="explicit")
#: ...but for bugs whose window is inside a held connection: they step from await to
#: await, with the default points (a checkpoint cannot be placed there).
HELD_WITNESSES = frozenset({"unguarded_thread_claim"})


@pytest.fixture(scope="module")
def reference() -> Iterator[Harness]:
    with open_session(TargetSpec("reference"), ServiceConfig(), EXPLICIT) as session:
        yield session.harness


@pytest.fixture(scope="module")
def reference_auto() -> Iterator[Harness]:
    """The reference with the default points, for the held-connection witnesses."""
    with open_session(TargetSpec("reference"), ServiceConfig(), Limits()) as session:
        yield session.harness


def test_every_bug_has_a_witness() -> None:
    assert set(WITNESSES) == set(BUGS)


@pytest.mark.parametrize("bug", SEEDED_BUGS, ids=_ids)
def test_the_stated_shortest_interleaving_shows_the_bug(
    bug: SeededBug, request: pytest.FixtureRequest
) -> None:
    identities, moves = WITNESSES[bug.name]
    assert len(moves) == bug.shortest
    held = bug.name in HELD_WITNESSES
    with open_session(TargetSpec(bug.target), ServiceConfig(), Limits() if held else EXPLICIT
                      ) as session:
        replayed = perform(session.harness, identities, moves)
        assert replayed.invariants & set(bug.trips), replayed.moves
        assert scenario_length(replayed.moves) == bug.shortest
    reference: Harness = request.getfixturevalue("reference_auto" if held else "reference")
    assert not perform(reference, identities, moves).reproduced


def test_a_held_window_is_missed_a_step_short_and_two_long() -> None:
    """The claim race needs B paused *inside* its held connection, between check and claim."""
    identities, moves = WITNESSES["unguarded_thread_claim"]
    bug = seeded_bug("unguarded_thread_claim")
    with open_session(TargetSpec(bug.target), ServiceConfig(), Limits()) as session:
        assert not perform(session.harness, identities, moves[:-1]).reproduced
        assert not perform(session.harness, identities, [*moves, *moves[-1:] * 2]).reproduced


#: Witnesses with automatic points only, for bugs whose shortest changes with them (a
#: step then runs to the next real await instead of the next checkpoint; issue 12).
AUTO_WITNESSES: dict[str, tuple[dict[str, str], list[Move]]] = {
    "lost_event": (WITNESSES["lost_event"][0], WITNESSES["lost_event"][1][:3]),
}


def test_bugs_stating_a_shortest_with_automatic_points_have_a_witness_for_it() -> None:
    assert set(AUTO_WITNESSES) == {b.name for b in SEEDED_BUGS if b.shortest_auto is not None}


@pytest.mark.parametrize("name", sorted(AUTO_WITNESSES))
def test_the_stated_shortest_with_automatic_points_only_shows_the_bug(name: str) -> None:
    bug = seeded_bug(name)
    identities, moves = AUTO_WITNESSES[name]
    assert len(moves) == bug.shortest_auto
    assert shortest_for(name, "auto-only") == bug.shortest_auto
    limits = Limits(points="auto-only")
    with open_session(TargetSpec(bug.target), ServiceConfig(), limits) as session:
        replayed = perform(session.harness, identities, moves)
        assert replayed.invariants & set(bug.trips), replayed.moves
        assert scenario_length(replayed.moves) == bug.shortest_auto


def test_zoo_target_checks_a_users_system_as_the_control_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from isolation_fuzz.cli import main

    path = "isolation_fuzz.platform.reference:open_reference_target"
    code = main(["zoo", "--bugs", "broadcast_events", "--budget-per-bug", "4s",
                 "--target", path])
    out = capsys.readouterr().out
    assert code == 0, out
    control = [line for line in out.splitlines() if line.startswith(f"| {path}")]
    assert len(control) == 1
    assert "| clean " in control[0]


def test_zoo_target_that_does_not_load_is_exit_2_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from isolation_fuzz.cli import main

    assert main(["zoo", "--target", "nowhere.at_all:factory"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nowhere.at_all" in err
