"""Replaying saved scenarios, and exporting them as regression tests.

This is the morning-after half of the tool: a nightly campaign leaves a scenario
file; :func:`replay_scenario` performs it again (fresh tokens, same moves, same
order) and says whether the violation still shows; :func:`export_test` writes a
pytest module that fails for as long as it does.

:func:`confirm` is the same replay, run by the campaign on its own harness before it
calls a finding a violation: a stalled service can fail one example and no replay,
so a finding is confirmed by showing again (k of N), never by having been seen once.
Replays look at the process's signals between runs (:func:`check_signals`), so a
SIGTERM during a long ``--repeat`` ends it after the current replay, engines torn
down in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from isolation_fuzz._atomic import write_atomic
from isolation_fuzz.engine.example.harness import Harness, Limits
from isolation_fuzz.engine.example.session import open_session
from isolation_fuzz.engine.replay.perform import Replayed, perform
from isolation_fuzz.engine.replay.scenario import Scenario, load_scenario
from isolation_fuzz.engine.schedule.points import Points
from isolation_fuzz.engine.stopping import check_signals
from isolation_fuzz.engine.trace import format_moves
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import violation_text
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec

__all__ = [
    "ReplayReport",
    "confirm",
    "export_test",
    "replay_all",
    "replay_scenario",
    "scenario_files",
]


@dataclass(frozen=True)
class ReplayReport:
    """The replays of one scenario and what they showed."""

    scenario: Scenario
    target: TargetSpec
    replays: tuple[Replayed, ...]

    @property
    def reproductions(self) -> int:
        """How many replays showed one of the scenario's violations."""
        return sum(1 for r in self.replays if self._same(r))

    @property
    def reproduced(self) -> bool:
        return self.reproductions > 0

    def _same(self, replayed: Replayed) -> bool:
        wanted = self.scenario.invariants
        return bool(replayed.invariants & wanted) if wanted else replayed.reproduced

    def explain(self) -> str:
        """The first replay's trace and violations, then the reproduction rate."""
        if not self.replays:
            return f"target {self.target.name}: not replayed"
        first = self.replays[0]
        lines = [
            f"target {self.target.name} ({self.target.transport})",
            format_moves(first.identities, first.moves),
        ]
        for step, recorded, now in first.diverged:
            lines.append(f"  note: move #{step} was {recorded!r} when recorded, now {now!r}")
        if first.violations:
            lines += ["", "what went wrong:"]
            lines += [f"  {violation_text(v)}" for v in first.violations]
        else:
            lines += ["", "no violation: every invariant held"]
        n = len(self.replays)
        verdict = "REPRODUCED" if self.reproduced else "NOT REPRODUCED (fixed?)"
        lines += ["", f"{verdict}: {self.reproductions} of {n} replay(s) showed the violation"]
        return "\n".join(lines)


def replay_scenario(
    scenario: Scenario | str | Path,
    *,
    target: str | TargetSpec | None = None,
    services: ServiceConfig | None = None,
    repeat: int = 1,
    points: Points | None = None,
) -> ReplayReport:
    """Perform ``scenario`` ``repeat`` times against its target (or ``target``).

    It replays with the interleaving points it was recorded with, unless ``points``
    says otherwise (a replay in another mode is another example, and diverges).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if isinstance(target, str):
        target = TargetSpec(target, scenario.target.transport)
    spec = target or scenario.target
    services = services or ServiceConfig.from_env()
    if points is not None:
        scenario = replace(scenario, points=points)
    return replay_all([scenario], spec, services, repeat)[0]


def replay_all(
    scenarios: Sequence[Scenario],
    target: TargetSpec | None,
    services: ServiceConfig,
    repeat: int = 1,
) -> list[ReplayReport]:
    """Replay several scenarios, one session per distinct target and interleaving points."""
    if repeat < 1:
        raise UsageError(f"--repeat must be at least 1, got {repeat}")
    by_target: dict[tuple[TargetSpec, Points], list[int]] = {}
    for index, scenario in enumerate(scenarios):
        key = (target or scenario.target, scenario.points)
        by_target.setdefault(key, []).append(index)
    reports: dict[int, ReplayReport] = {}
    for (spec, points), indices in by_target.items():
        check_signals()
        with open_session(spec, services, Limits(points=points)) as session:
            for index in indices:
                reports[index] = confirm(session.harness, scenarios[index], repeat, spec)
    return [reports[i] for i in range(len(scenarios))]


def confirm(
    harness: Harness,
    scenario: Scenario,
    runs: int,
    target: TargetSpec | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ReplayReport:
    """Perform ``scenario`` up to ``runs`` times on an open ``harness``; k of N says how often.

    Between replays a signal raises :class:`~isolation_fuzz.engine.stopping.StopRequested`;
    ``should_stop`` (a campaign's) ends the replays quietly instead, with fewer than
    ``runs`` done.
    """
    done: list[Replayed] = []
    for _ in range(runs):
        if should_stop is not None and should_stop():
            break
        check_signals()
        done.append(perform(harness, dict(scenario.identities), scenario.moves, strict=False))
    return ReplayReport(scenario, target or scenario.target, tuple(done))


_TEMPLATE = '''"""Exported by isolation-fuzz: this test fails while the isolation bug is present.

Recorded against target {target!r}; violation(s): {invariants}.
Replay it by hand with: isolation-fuzz replay <this scenario saved as JSON>
Run against another target (your fixed build) with ISOLATION_FUZZ_TARGET=<name>.
"""

import json
import os

from isolation_fuzz import Scenario, replay_scenario

SCENARIO = Scenario.from_json(json.loads({payload!r}))


def test_{name}_stays_fixed() -> None:
    report = replay_scenario(SCENARIO, target=os.environ.get("ISOLATION_FUZZ_TARGET"))
    assert not report.reproduced, report.explain()
'''


def export_test(scenario: Scenario, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a standalone pytest module that replays ``scenario`` and fails while it reproduces.

    An existing file is replaced only with ``overwrite`` (the CLI's ``--force``): it may
    be a regression test someone has edited.
    """
    out = Path(path)
    if out.suffix != ".py":
        raise UsageError(f"--export-test {out}: the test module's name must end in .py")
    if out.exists() and not overwrite:
        raise UsageError(f"--export-test {out} exists; pass overwrite=True (--force) to replace it")
    invariants = ", ".join(sorted(scenario.invariants)) or "none recorded"
    name = "_".join(sorted(scenario.invariants)) or "scenario"
    payload = json.dumps(scenario.to_json(), ensure_ascii=False, default=str)
    text = _TEMPLATE.format(
        target=scenario.target.name, invariants=invariants, payload=payload, name=name
    )
    write_atomic(out, text)
    return out


def scenario_files(corpus: Path) -> list[Path]:
    """The scenario files of a corpus directory, in name order."""
    if not corpus.is_dir():
        raise UsageError(f"corpus {corpus} is not a directory; pass --corpus DIR")
    return sorted(p for p in corpus.glob("*.json") if not p.name.startswith("."))
