"""The one registry of invariants: bundled ones in report order, a user's after, crash-safe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from isolation_fuzz.engine.example.harness import Stats
from isolation_fuzz.engine.example.outcome import OutcomeRecorder
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.oracle import registry as invariants
from isolation_fuzz.engine.oracle.registry import (
    Unknown,
    check_all,
    invariant,
    register_invariant,
    registered_invariants,
    unregister_invariant,
)
from isolation_fuzz.engine.schedule.runs import StepOutcome
from isolation_fuzz.errors import InvariantCrashed, UsageError
from isolation_fuzz.evidence import BlockedRunEvidence
from isolation_fuzz.model import (
    ConnectionOpened,
    ResidueProbed,
    RunBlocked,
    RunStarted,
    ToolCall,
    Violation,
)
from isolation_fuzz.report.junit import invariant_cases, invariant_names, junit_xml

README = Path(__file__).resolve().parents[3] / "docs" / "reference" / "invariants.md"
BUNDLED = [
    "no_foreign_data", "events_reach_only_owner", "complete_lifecycle", "read_your_writes",
    "rejects_bad_tokens", "no_residue", "runs_make_progress",
]


def _history() -> History:
    h = History()
    h.add_identity("A", "u1")
    h.append(ConnectionOpened(0, "c1", "A"))
    h.append(RunStarted(1, "r1", "A", "u1", "t1", (ToolCall("list", "redis"),)))
    return h


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names registered by the test, unregistered after it whatever happens."""
    names: list[str] = []
    yield names
    for name in names:
        if name in {entry.name for entry in registered_invariants()}:
            unregister_invariant(name)


def test_public_names_are_exactly_all() -> None:
    public = {n for n, v in vars(invariants).items() if not n.startswith("_")
              and getattr(v, "__module__", None) == invariants.__name__}
    assert public | {"CheckFunction"} == set(invariants.__all__)


def test_the_bundled_invariants_are_registered_in_report_order() -> None:
    entries = registered_invariants()
    assert [e.name for e in entries] == BUNDLED
    assert [e.check for e in entries] == list(oracle.INVARIANTS)
    assert all(e.holds_when for e in entries)


def test_the_readme_table_is_the_registry() -> None:
    # The README's table lists every bundled invariant, in order, with its holds_when.
    text = README.read_text(encoding="utf-8")
    head = "| invariant | holds when |\n|---|---|\n"
    rows = "".join(f"| `{e.name}` | {e.holds_when} |\n" for e in registered_invariants())
    assert head + rows in text
    table = text[text.index(head):].split("\n\n", 1)[0]
    assert re.findall(r"^\| `(\w+)` \|", table, re.M) == BUNDLED


def test_a_user_registers_an_invariant_with_the_decorator(registered: list[str]) -> None:
    @invariant(holds_when="no run is ever started on thread 't1'")
    def thread_t1_stays_unused(history: History) -> list[Violation]:
        """Nobody uses thread t1."""
        return [
            Violation("thread_t1_stays_unused", "ThreadUsed", r.step, (r.identity,),
                      f"{r.identity} used t1", {"run_id": r.run_id})
            for r in history.of_type(RunStarted) if r.thread_id == "t1"
        ]

    registered.append("thread_t1_stays_unused")
    assert callable(thread_t1_stays_unused)  # the decorator hands the function back
    assert [e.name for e in registered_invariants()] == [*BUNDLED, "thread_t1_stays_unused"]
    assert registered_invariants()[-1].holds_when == "no run is ever started on thread 't1'"
    (found,) = oracle.check(_history())
    assert (found.invariant, found.anomaly, found.step) == ("thread_t1_stays_unused",
                                                           "ThreadUsed", 1)
    # JUnit reads the same registry: the user's invariant is a case of its own.
    assert invariant_names()[-1] == "thread_t1_stays_unused"
    assert 'name="thread_t1_stays_unused"' in junit_xml("suite")


def test_bare_decorator_and_function_form_default_to_the_docstring(
    registered: list[str],
) -> None:
    @invariant
    def always_holds(history: History) -> list[Violation]:
        """Nothing to see.

        More text that is not the summary.
        """
        return []

    def also_holds(history: History) -> list[Violation]:
        return []

    registered += ["always_holds", "held"]
    entry = register_invariant(also_holds, name="held")
    assert (entry.name, entry.holds_when) == ("held", "held")
    assert registered_invariants()[-2].holds_when == "Nothing to see."
    unregister_invariant("held")
    assert "held" not in invariant_names()


def test_a_second_function_under_a_taken_name_is_refused(registered: list[str]) -> None:
    def no_foreign_data(history: History) -> list[Violation]:
        return []

    with pytest.raises(UsageError, match="already registered"):
        register_invariant(no_foreign_data)
    # The same function again (a module imported twice) keeps its place.
    register_invariant(oracle.no_foreign_data)
    assert invariant_names() == tuple(BUNDLED)
    with pytest.raises(UsageError, match="no invariant is registered as 'nope'"):
        unregister_invariant("nope")


def test_a_crashing_invariant_is_unknown_never_a_violation(registered: list[str]) -> None:
    @invariant
    def crashes(history: History) -> list[Violation]:
        """Divides by zero."""
        return [1 / 0]  # type: ignore[list-item]

    @invariant
    def returns_junk(history: History) -> list[Violation]:
        """Returns what is not a violation."""
        return ["oops"]  # type: ignore[list-item]

    registered += ["crashes", "returns_junk"]
    h = _history()
    checked = check_all(h)
    assert checked.violations == ()
    assert checked.valid is None
    assert checked.unknown == (
        Unknown("crashes", 1, "ZeroDivisionError: division by zero"),
        Unknown("returns_junk", 1, "TypeError: it returned 'oops', not a Violation"),
    )
    with pytest.raises(InvariantCrashed, match="'crashes' at step 1") as caught:
        oracle.check(h)
    assert caught.value.exit_code == 2
    assert "unregister_invariant('crashes')" in str(caught.value)
    # A real violation outranks an unknown: it is reported, and nothing false is added.
    h.append(ResidueProbed(2, "r1", "A", "redis", ("k",)))
    assert [(v.invariant, v.anomaly) for v in oracle.check(h)] == [("no_residue", "ResidueLeft")]
    assert check_all(h).valid is False


def test_a_blocked_run_is_recorded_and_reported_by_runs_make_progress() -> None:
    h = _history()
    harness: Any = SimpleNamespace(limits=SimpleNamespace(block_timeout=5.0), stats=Stats())
    failed: list[list[Violation]] = []

    def fail(violations: list[Violation]) -> Any:
        failed.append(violations)
        raise AssertionError("failed")

    recorder = OutcomeRecorder(harness, h, {"r1": "A"}, fail)
    with pytest.raises(AssertionError, match="failed"):
        recorder.record(3, "r1", StepOutcome("blocked"))
    assert h.of_type(RunBlocked) == [RunBlocked(3, "r1", "A", 5.0)]
    assert failed == [[Violation(
        "runs_make_progress", "RunBlocked", 3, ("A",),
        "run r1 of A reached no checkpoint within 5.0s at step 3: it is blocked, probably "
        "on a lock held by a paused run",
        {"run_id": "r1"},
    )]]
    assert isinstance(failed[0][0].evidence, BlockedRunEvidence)
    assert oracle.runs_make_progress(h) == failed[0]


def test_junit_has_one_case_per_registered_invariant() -> None:
    assert [c.name for c in invariant_cases("suite", None)] == BUNDLED
