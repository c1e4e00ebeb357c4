"""``isolation-fuzz check``: the release gate fails on a live bug in the corpus, passes once
it is fixed, and says so in JUnit; stopped during its corpus replays, it says INTERRUPTED.

The corpus holds the ``finding_file`` of tests/conftest.py.  The corpus replay reports
through events of its own, and the run's summary and the gate's JUnit are written from
them: no campaign has to be pretended for a killed gate to leave files that say so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from isolation_fuzz.cli import main
from isolation_fuzz.engine.stopping import handling_signals

SCENARIOS = Path(__file__).parents[1] / "engine" / "replay" / "scenarios"


def test_check_fails_with_a_live_bug_in_the_corpus_and_passes_once_fixed(
    finding_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / finding_file.name).write_text(finding_file.read_text())
    junit = tmp_path / "check.xml"
    common = ["--corpus", str(corpus), "--max-examples", "10", "--quiet",
              "--report-dir", str(tmp_path / "reports"), "--junit", str(junit)]
    assert main(["check", *common]) == 1
    assert "gate: FAIL" in capsys.readouterr().out
    failures = ET.parse(junit).getroot().findall("testcase/failure")
    assert len(failures) == 1
    assert main(["check", *common, "--target", "reference"]) == 0
    assert "gate: PASS" in capsys.readouterr().out
    assert ET.parse(junit).getroot().get("failures") == "0"


def test_a_signal_before_the_first_corpus_replay_ends_the_gate_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SCENARIOS / "format1_thread_routed_events.json", corpus)
    junit = tmp_path / "gate.xml"
    with handling_signals() as state:  # outermost: the command sees the signal as noted
        os.kill(os.getpid(), signal.SIGTERM)
        assert state.received == "SIGTERM"
        code = main(["check", "--corpus", str(corpus), "--quiet", "--junit", str(junit),
                     "--report-dir", str(tmp_path / "reports")])
    out = capsys.readouterr().out
    assert code == 143
    assert f"corpus {corpus}: 1 scenario(s)" in out
    assert "gate: INTERRUPTED by SIGTERM during the corpus replays" in out
    assert "gate: PASS" not in out
    (run_dir,) = (tmp_path / "reports").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["state"] == "interrupted"
    assert summary["signal"] == "SIGTERM"
    assert "corpus replays" in summary["reason"]
    for path in (junit, run_dir / "junit.xml"):
        root = ET.parse(path).getroot()
        assert root.get("failures") == "1"
        (case,) = root.findall("testcase")
        assert case.get("name") == "gate"
