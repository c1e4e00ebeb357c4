"""Reporters as handlers: a case is on disk the moment it fails; the bar reads its budget."""

from __future__ import annotations

import io
import json
from pathlib import Path

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.campaign.budget import resolve_budget
from isolation_fuzz.engine.campaign.events import (
    CampaignEvent,
    CampaignStarted,
    Counts,
    Progress,
    ViolationFound,
)
from isolation_fuzz.report.files import RunReport
from isolation_fuzz.report.progress import ProgressBar
from isolation_fuzz.report.text import TextVerdict
from isolation_fuzz.target import TargetSpec


class _Snapshot:
    """Runs after the report handler: what was on disk when the first failure came."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        self.summary: dict[str, object] | None = None
        self.scenario_saved = False

    def handle_event(self, event: CampaignEvent) -> None:
        if isinstance(event, ViolationFound):
            self.summary = json.loads((self.report.dir / "summary.json").read_text())
            self.scenario_saved = self.report.scenario_path.exists()


def test_a_finding_is_saved_before_shrinking_and_the_report_finished_after(
    tmp_path: Path,
) -> None:
    notices, out = io.StringIO(), io.StringIO()
    report = RunReport(tmp_path, "run", tmp_path / "corpus", notices)
    snapshot = _Snapshot(report)
    config = CampaignConfig(target=TargetSpec("zoo:broadcast_events"), max_examples=100, seed=0)
    result = run_campaign(config, handlers=[report, snapshot, TextVerdict(out)])
    assert result.finding is not None
    assert snapshot.scenario_saved
    assert snapshot.summary is not None
    assert snapshot.summary["verdict"] == "violation (not fully shrunk)"
    assert snapshot.summary["state"] == "running"
    assert snapshot.summary["seed"] == 0
    final = json.loads((report.dir / "summary.json").read_text())
    assert final["state"] == "done"
    assert (report.dir / "junit.xml").exists()
    assert (report.dir / "report.html").exists()
    assert len(list((tmp_path / "corpus").iterdir())) == 1
    assert f"saved to {report.scenario_path} (shrinking it now)" in notices.getvalue()
    assert notices.getvalue().endswith(f"report: {report.dir}\n")
    assert "verdict: VIOLATION, reproduced 5/5" in out.getvalue()
    assert final["reproduced"] == {"k": 5, "n": 5, "text": "reproduced 5/5"}
    assert final["stop_reason"] == "violation"
    assert "reproduced 5/5" in (report.dir / "report.html").read_text()


def test_the_progress_bar_takes_its_budget_from_the_first_event() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.handle_event(
        CampaignStarted(TargetSpec("reference"), resolve_budget("quick", max_examples=7), 1)
    )
    bar.handle_event(Progress(Counts(examples=3, steps=9, violations=0, tool_calls=4), 2.0))
    assert "examples 3/7 | steps 9 | violations 0 | 00:02" in stream.getvalue()
    bar.handle_event(Progress(Counts(4, 10, 0, 4), 2.5))  # throttled: no second line yet
    assert stream.getvalue().count("examples") == 1
    assert stream.getvalue().startswith("starting services and target reference...\n")


def test_the_progress_bar_never_shows_more_than_its_budget() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.handle_event(
        CampaignStarted(TargetSpec("reference"), resolve_budget("quick", max_examples=100), 1)
    )
    bar.update(Counts(examples=116, steps=900, violations=1, tool_calls=0), 40.0, force=True)
    assert "examples 100/100" in stream.getvalue()
    assert "116/100" not in stream.getvalue()
    assert "[####################]" in stream.getvalue()
    assert "shrinking" in stream.getvalue()
    timed = io.StringIO()
    bar = ProgressBar(timed)
    bar.handle_event(CampaignStarted(TargetSpec("reference"), resolve_budget("quick", None, 30), 1))
    bar.update(Counts(examples=50, steps=400, violations=0, tool_calls=0), 45.0, force=True)
    assert "00:30/00:30" in timed.getvalue()
    assert "examples 50 |" in timed.getvalue()  # a time budget has no example cap to show


def test_the_text_verdict_waits_for_the_finish() -> None:
    out = io.StringIO()
    verdict = TextVerdict(out)
    verdict.handle_event(Progress(Counts(1, 1, 0, 0), 0.1))
    assert out.getvalue() == ""  # the verdict itself: the campaign test above
