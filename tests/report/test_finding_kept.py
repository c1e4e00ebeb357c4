"""A finding is never lost: when the report folder cannot be written, it goes to stderr."""

from __future__ import annotations

import io
import json
from pathlib import Path

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.replay.scenario import load_scenario
from isolation_fuzz.report.files import RunReport
from isolation_fuzz.target import TargetSpec


def test_an_unwritable_report_folder_prints_the_scenario_and_keeps_exit_1(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the report folder should go\n")
    notices = io.StringIO()
    report = RunReport(blocker, "run", None, notices)
    config = CampaignConfig(target=TargetSpec("zoo:broadcast_events"), max_examples=100, seed=0)
    result = run_campaign(config, handlers=[report])
    assert result.finding is not None
    assert result.exit_code == 1
    said = notices.getvalue()
    assert said.count("cannot write the report") == 2  # when found, and the final case
    last = said.rpartition("scenario JSON: save it to a file and run isolation-fuzz replay FILE\n")
    saved = tmp_path / "kept.json"
    saved.write_text(last[2])
    scenario = load_scenario(saved)
    assert scenario.invariants
    assert json.loads(last[2])["target"]["name"] == "zoo:broadcast_events"
