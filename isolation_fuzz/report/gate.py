"""The pre-release gate's word: a line per corpus scenario, the gate's line, its JUnit file.

``check`` replays its corpus, then runs the ``pre-release`` campaign.
:class:`GateReport` reads the events of both, the corpus replay's own
(:mod:`isolation_fuzz.engine.replay.corpus`) and then the campaign's, and writes what
a CI job reads: one JUnit case per corpus scenario (failing if it still
reproduces), then one per invariant of the campaign, or a failing ``gate`` case when
the gate did not finish, so a killed or broken job never looks green.  The JUnit
file replaces the run's own ``junit.xml`` (it is the gate's), and is also written
where ``--junit`` says.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from isolation_fuzz._atomic import write_atomic
from isolation_fuzz.engine.campaign.events import CampaignAborted, CampaignEvent, CampaignFinished
from isolation_fuzz.engine.campaign.result import CampaignResult
from isolation_fuzz.engine.replay.corpus import (
    CorpusEvent,
    CorpusReplayInterrupted,
    CorpusReplayStarted,
    CorpusScenarioReplayed,
)
from isolation_fuzz.report.junit import JUnitCase, invariant_cases, junit_xml

__all__ = ["GateReport"]


class GateReport:
    """Prints the gate's lines to ``out`` and writes its JUnit under ``run_dir`` (and ``also``)."""

    def __init__(self, out: TextIO, run_dir: Path, also: str | None = None) -> None:
        self.out = out
        self.run_dir = run_dir
        self.also = None if also is None else Path(also)
        self.cases: list[JUnitCase] = []
        #: Corpus scenarios replayed, and how many of them still reproduce.
        self.replayed = 0
        self.reproduced = 0
        #: ``"PASS"``, ``"FAIL"`` or ``"INTERRUPTED"`` once the gate has its word.
        self.gate: str | None = None

    def handle_event(self, event: CorpusEvent | CampaignEvent) -> None:
        """Note each corpus replay; at the end (or the interruption) write the gate's word."""
        if isinstance(event, CorpusReplayStarted):
            self.out.write(f"corpus {event.corpus}: {len(event.files)} scenario(s)\n")
        elif isinstance(event, CorpusScenarioReplayed):
            self._replayed(event)
        elif isinstance(event, CorpusReplayInterrupted):
            self._write([self._unfinished(event.reason)])
            self.gate = "INTERRUPTED"
            self.out.write(f"gate: INTERRUPTED by {event.signal} during the corpus replays\n")
        elif isinstance(event, CampaignFinished):
            self._finished(event.result)
        elif isinstance(event, CampaignAborted):
            self._write([*self.cases, self._unfinished(f"pre-release campaign: {event.reason}")])

    def _replayed(self, event: CorpusScenarioReplayed) -> None:
        report = event.report
        self.replayed += 1
        self.reproduced += report.reproduced
        status = "REPRODUCES" if report.reproduced else "fixed"
        self.out.write(f"  {status:<10} {event.path.name} ({report.target.name})\n")
        self.cases.append(
            JUnitCase(
                f"replay {event.path.name}",
                "isolation-fuzz.corpus",
                report.explain() if report.reproduced else None,
                ", ".join(sorted(report.scenario.invariants)),
            )
        )

    def _finished(self, result: CampaignResult) -> None:
        if result.verdict in ("interrupted", "no examples"):
            campaign = [self._unfinished(f"pre-release campaign: {result.verdict}")]
        else:
            scenario = None
            if result.finding is not None and result.verdict == "violation":
                scenario = result.finding.to_scenario(result.target, result.seed)
            campaign = invariant_cases("isolation-fuzz.pre-release", scenario)
        self._write([*self.cases, *campaign])
        failed = self.reproduced > 0 or result.verdict in ("violation", "no examples")
        self.gate = "INTERRUPTED" if result.verdict == "interrupted" else (
            "FAIL" if failed else "PASS"
        )
        self.out.write(
            f"gate: {self.gate} ({self.reproduced} of {self.replayed} corpus "
            f"scenario(s) reproduce; pre-release campaign {result.verdict})\n"
        )

    @staticmethod
    def _unfinished(why: str) -> JUnitCase:
        return JUnitCase("gate", "isolation-fuzz.check", f"the gate did not finish: {why}", why)

    def _write(self, cases: list[JUnitCase]) -> None:
        junit = junit_xml("isolation-fuzz check", cases=cases)
        write_atomic(self.run_dir / "junit.xml", junit)
        if self.also is not None:
            write_atomic(self.also, junit)
