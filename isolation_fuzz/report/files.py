"""A run's files in ``reports/<run-id>/``, and the corpus of saved scenarios.

Written in two moments.  As soon as a campaign sees a failing example,
:meth:`RunReport.save_finding` writes its scenario and a summary whose verdict says
"violation (not fully shrunk)", so a run killed a second later still leaves
something to replay.  At the end :meth:`RunReport.finish` replaces both with the
final word and adds ``junit.xml`` and ``report.html``.  Every file is written
whole to a temporary name and renamed into place.

Only a confirmed finding (one the campaign's replays showed again) joins the
corpus; one that never reproduced moves to ``unconfirmed/scenario.json``, kept for
a person to look at but never replayed by ``check``.  A campaign that raised
(``CampaignAborted``: a dead service, a second Ctrl-C) still gets a summary whose
``state`` says so ("interrupted", "infrastructure"), never one left "running".

:class:`RunReport` is a handler of the campaign's events: ``ViolationFound`` (the
first failing example, before shrinking) and ``ShrinkImproved`` save the case,
``CampaignFinished`` writes the final files.  A gate's corpus replay stopped by a
signal (``CorpusReplayInterrupted``) gets an interrupted summary too.  Given a
``notices`` stream, it also says where it saved them.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from isolation_fuzz._atomic import write_atomic
from isolation_fuzz.engine.campaign.events import (
    CampaignAborted,
    CampaignEvent,
    CampaignFinished,
    CampaignStarted,
    ShrinkImproved,
    ViolationFound,
)
from isolation_fuzz.engine.replay.corpus import CorpusEvent, CorpusReplayInterrupted
from isolation_fuzz.engine.replay.scenario import Scenario, save_scenario
from isolation_fuzz.report.junit import JUnitCase, junit_xml

if TYPE_CHECKING:
    from isolation_fuzz.engine.campaign.finding import Finding
    from isolation_fuzz.engine.campaign.result import CampaignResult

__all__ = ["RunReport", "corpus_name", "new_run_id", "summary_of", "verdict_of"]


def new_run_id(label: str) -> str:
    """``20261125-061502-reference-3fa1``: sortable by time, readable, unique enough."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")[:40] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(2)}"


def corpus_name(scenario: Scenario) -> str:
    """A file name that is the same for the same case found twice."""
    body = json.dumps(
        [dict(scenario.identities), [m.to_json() for m in scenario.moves if not m.final]],
        sort_keys=True, default=str,
    )
    digest = hashlib.blake2b(body.encode(), digest_size=5).hexdigest()
    target = re.sub(r"[^A-Za-z0-9]+", "-", scenario.target.name).strip("-")
    invariant = sorted(scenario.invariants)[0] if scenario.invariants else "none"
    return f"{target}-{invariant}-{digest}.json"


class RunReport:
    """The files of one run under ``root/<run_id>/``, and where findings join the corpus."""

    def __init__(
        self, root: Path, run_id: str, corpus: Path | None = None, notices: TextIO | None = None
    ) -> None:
        self.dir = root / run_id
        self.run_id = run_id
        self.corpus = corpus
        self.scenario_path = self.dir / "scenario.json"
        #: Where to say that a case was saved and where the report is (the CLI's stderr).
        self.notices = notices
        self._meta: dict[str, Any] = {}
        #: The error that stopped the files being written, if one did.
        self._unwritable: OSError | None = None

    def handle_event(self, event: CampaignEvent | CorpusEvent) -> None:
        """Save each failing case as it comes, and the final files at the finish.

        A file that cannot be written never costs a finding (issue 10: with an
        unusable report folder a violation was lost): the case goes to stderr as
        scenario JSON instead, and the campaign goes on to its verdict and exit 1.
        """
        try:
            self._handle(event)
        except OSError as exc:
            self._keep_on_stderr(event, exc)

    def _keep_on_stderr(self, event: CampaignEvent | CorpusEvent, exc: OSError) -> None:
        """Print the event's finding as scenario JSON, once when first seen and at the end."""
        first = self._unwritable is None
        self._unwritable = exc
        finding = getattr(getattr(event, "result", event), "finding", None)
        if not self._meta or finding is None or not (first or isinstance(event, CampaignFinished)):
            return
        stream = self.notices if self.notices is not None else sys.stderr
        scenario = self.scenario_of(self._meta, finding)
        stream.write(
            f"\nisolation-fuzz: cannot write the report in {str(self.dir)!r} "
            f"({exc.strerror or exc}); the finding follows as scenario JSON: save it to a "
            "file and run isolation-fuzz replay FILE\n"
            + json.dumps(scenario.to_json(), indent=2, default=str) + "\n"
        )
        stream.flush()

    def _handle(self, event: CampaignEvent | CorpusEvent) -> None:
        if isinstance(event, CampaignStarted):
            self._meta = {
                "target": event.target, "seed": event.seed, "profile": event.budget.profile.name
            }
        elif isinstance(event, ViolationFound | ShrinkImproved):
            path = self.save_finding(self._meta, event.finding)
            if isinstance(event, ViolationFound) and self.notices is not None:
                self.notices.write(f"\nviolation found; saved to {path} (shrinking it now)\n")
                self.notices.flush()
        elif isinstance(event, CampaignFinished):
            where = self.finish(event.result)
            if self.notices is not None:
                self.notices.write(f"report: {where}\n")
        elif isinstance(event, CampaignAborted) and self._meta:
            self.abort(event)  # no notice: the error's one line is all the user reads
        elif isinstance(event, CorpusReplayInterrupted):
            self._meta = {"target": event.target, "seed": None, "profile": None}
            self.abort(CampaignAborted("interrupted", event.reason, event.signal))

    def scenario_of(self, result_meta: Mapping[str, Any], finding: Finding) -> Scenario:
        """The finding as a scenario, with the run's target and seed from ``result_meta``."""
        return finding.to_scenario(result_meta["target"], result_meta.get("seed"))

    def save_finding(self, meta: Mapping[str, Any], finding: Finding) -> Path:
        """Save a failing case now, before shrinking: the report says it is not shrunk yet."""
        scenario = self.scenario_of(meta, finding)
        save_scenario(self.scenario_path, scenario)
        summary = {
            "run_id": self.run_id,
            "verdict": "violation (not fully shrunk)",
            "target": meta["target"].to_json(),
            "seed": meta.get("seed"),
            "profile": meta.get("profile"),
            "scenario": self.scenario_path.name,
            "counts": _counts(finding.violations),
            "state": "running",
        }
        write_atomic(self.dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        return self.scenario_path

    def finish(self, result: CampaignResult) -> Path:
        """Write the final summary, JUnit and HTML report; add a confirmed finding to the corpus."""
        meta = {"target": result.target, "seed": result.seed, "profile": result.profile}
        scenario, where = None, None
        if result.finding is not None:
            scenario = self.scenario_of(meta, result.finding)
            where = self.scenario_path
            if result.verdict == "unconfirmed":
                where = self.dir / "unconfirmed" / "scenario.json"
                self.scenario_path.unlink(missing_ok=True)
            save_scenario(where, scenario)
            if self.corpus is not None and result.verdict == "violation":
                save_scenario(self.corpus / corpus_name(scenario), scenario)
        summary = summary_of(result, self.run_id, scenario)
        if where is not None:
            summary["scenario"] = str(where.relative_to(self.dir))
        write_atomic(self.dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        suite = f"isolation-fuzz {result.target.name}"
        if result.verdict in ("interrupted", "no examples", "not working"):
            junit = junit_xml(suite, cases=[_not_run(suite, summary["verdict"])])
        else:
            junit = junit_xml(suite, scenario if result.verdict == "violation" else None)
        write_atomic(self.dir / "junit.xml", junit)
        if scenario is not None and result.finding is not None:
            from isolation_fuzz.report.html import render_html

            shown = {**summary, "deliveries": list(result.finding.deliveries)}
            if result.reproduced is not None:
                shown["verdict"] += f", reproduced {result.reproduced}/{result.confirm_runs}"
            write_atomic(self.dir / "report.html", render_html(scenario, shown))
        return self.dir

    def abort(self, event: CampaignAborted) -> Path:
        """A campaign that raised: say so in the summary and JUnit, keeping any saved case."""
        meta = self._meta
        summary = {
            "run_id": self.run_id,
            "verdict": event.state,
            "state": event.state,
            "stop_reason": event.state if event.state != "error" else "infrastructure",
            "signal": event.signal,
            "reason": event.reason,
            "target": None if meta["target"] is None else meta["target"].to_json(),
            "seed": meta.get("seed"),
            "profile": meta.get("profile"),
            "budget_used": {"examples": event.examples},
            "scenario": self.scenario_path.name if self.scenario_path.exists() else None,
        }
        write_atomic(self.dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        target = meta["target"]
        suite = "isolation-fuzz" if target is None else f"isolation-fuzz {target.name}"
        junit = junit_xml(suite, cases=[_not_run(suite, event.reason)])
        write_atomic(self.dir / "junit.xml", junit)
        return self.dir


def verdict_of(result: CampaignResult) -> str:
    """The verdict as summary.json and report.html give it."""
    if result.verdict == "interrupted":
        return f"interrupted ({result.signal})"
    if result.verdict == "no examples":
        small = " (budget too small)" if result.stop_reason == "budget" else ""
        return f"no examples{small}"
    if result.verdict == "unconfirmed":
        return f"unconfirmed (reproduced 0/{result.confirm_runs})"
    if result.verdict == "not working":
        runs = result.runs
        return f"target not working ({runs.failed_total} of {runs.valid} runs failed)"
    if result.finding is None:
        return "clean"
    return "violation" if result.finding.shrunk else "violation (not fully shrunk)"


def _not_run(suite: str, why: str) -> JUnitCase:
    """The one JUnit case of a campaign that checked nothing to the end: it fails."""
    return JUnitCase("campaign", suite, f"isolation-fuzz did not finish: {why}", why)


def summary_of(
    result: CampaignResult, run_id: str, scenario: Scenario | None
) -> dict[str, Any]:
    from importlib.metadata import version

    import hypothesis

    return {
        "run_id": run_id,
        "verdict": verdict_of(result),
        "state": "interrupted" if result.verdict == "interrupted" else "done",
        "target": result.target.to_json(),
        "seed": result.seed,
        "profile": result.profile,
        "stopped_by": result.stopped_by,
        "stop_reason": result.stop_reason,
        "signal": result.signal,
        "reproduced": None if result.reproduced is None else {
            "k": result.reproduced, "n": result.confirm_runs,
            "text": f"reproduced {result.reproduced}/{result.confirm_runs}",
        },
        "gathered": None if result.finding is None or result.finding.gathered is None else {
            "k": result.finding.gathered[0], "n": result.finding.gathered[1],
            "text": result.finding.gathered_text(),
        },
        "points": result.finding.points if result.finding else None,
        "counts": _counts(result.finding.violations if result.finding else ()),
        "runs": result.runs.to_json(),
        "declared": result.declared.to_json(),
        "budget_used": {
            "examples": result.examples,
            "steps": result.steps,
            "seconds": round(result.elapsed, 3),
        },
        "first_failure": {
            "seconds": result.first_failure_seconds,
            "examples": result.first_failure_examples,
        },
        "services": result.services,
        "versions": {
            "isolation-fuzz": version("isolation-fuzz"),
            "hypothesis": hypothesis.__version__,
        },
        "scenario": "scenario.json" if scenario is not None else None,
    }


def _counts(violations: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for violation in violations:
        counts[violation.invariant] = counts.get(violation.invariant, 0) + 1
    return counts
