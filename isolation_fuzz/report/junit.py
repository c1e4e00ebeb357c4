"""JUnit XML: one test case per invariant, so CI dashboards show which property broke.

A failing case carries the scenario as text (identities, moves, evidence), which is
what a reviewer needs without opening another file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from isolation_fuzz.engine.oracle.registry import registered_invariants
from isolation_fuzz.engine.replay.scenario import Scenario
from isolation_fuzz.engine.trace import format_moves
from isolation_fuzz.model import violation_text

__all__ = ["JUnitCase", "invariant_names", "junit_xml", "scenario_text"]


def invariant_names() -> tuple[str, ...]:
    """Every property a campaign checks, in report order, from the one registry.

    Read at each call, so an invariant a user registered gets its own case too.
    """
    return tuple(entry.name for entry in registered_invariants())


@dataclass(frozen=True)
class JUnitCase:
    """One ``<testcase>``: a name, and the failure text if it failed."""

    name: str
    classname: str
    failure: str | None = None
    message: str = ""
    seconds: float = 0.0


def scenario_text(scenario: Scenario) -> str:
    """The scenario as a person reads it: identities, moves, then what went wrong."""
    lines = [format_moves(scenario.identities, scenario.moves), "", "what went wrong:"]
    lines += [f"  {violation_text(v)}" for v in scenario.violations]
    return "\n".join(lines)


def invariant_cases(classname: str, scenario: Scenario | None) -> list[JUnitCase]:
    """One case per invariant; those the scenario violated fail with it."""
    if scenario is None:
        return [JUnitCase(name, classname) for name in invariant_names()]
    text = scenario_text(scenario)
    cases = []
    for name in invariant_names():
        broken = [v for v in scenario.violations if v.invariant == name]
        failure = text if broken else None
        cases.append(JUnitCase(name, classname, failure, broken[0].message if broken else ""))
    return cases


def junit_xml(
    suite: str, scenario: Scenario | None = None, cases: Sequence[JUnitCase] = ()
) -> str:
    """A JUnit document: the invariant cases of ``scenario`` (if given), then ``cases``."""
    all_cases = [*(invariant_cases(suite, scenario) if not cases else []), *cases]
    failures = sum(1 for c in all_cases if c.failure is not None)
    root = ET.Element(
        "testsuite", name=suite, tests=str(len(all_cases)), failures=str(failures), errors="0"
    )
    for case in all_cases:
        element = ET.SubElement(
            root, "testcase", name=case.name, classname=case.classname, time=f"{case.seconds:.3f}"
        )
        if case.failure is not None:
            failure = ET.SubElement(element, "failure", message=case.message[:500])
            failure.text = case.failure
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
