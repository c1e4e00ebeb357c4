"""The morning after: findings replay exactly, export as tests, survive kills, gate releases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.cli import main
from isolation_fuzz.engine.example import execution, session
from isolation_fuzz.engine.replay.reproduce import export_test, replay_scenario
from isolation_fuzz.engine.replay.scenario import load_scenario, save_scenario
from isolation_fuzz.errors import UsageError
from isolation_fuzz.target import TargetSpec
from isolation_fuzz.tokens import AuthConfig

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def finding_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shrunk delimiter-injection finding from a real campaign, saved as a scenario."""
    result = run_campaign(
        CampaignConfig(target=TargetSpec("zoo:delimiter_injection"), max_examples=300, seed=1)
    )
    assert result.finding is not None
    scenario = result.finding.to_scenario(TargetSpec("zoo:delimiter_injection"), seed=1)
    return save_scenario(tmp_path_factory.mktemp("finding") / "scenario.json", scenario)


def test_a_finding_replays_the_same_violation_at_the_same_step_20_times(
    finding_file: Path,
) -> None:
    scenario = load_scenario(finding_file)
    report = replay_scenario(finding_file, repeat=20)
    assert report.reproductions == 20
    expected = [(v.invariant, v.step, v.identities) for v in scenario.violations]
    for replayed in report.replays:
        assert [(v.invariant, v.step, v.identities) for v in replayed.violations] == expected
        assert not replayed.diverged


def test_replay_exits_1_while_the_bug_is_there_and_0_on_the_fixed_platform(
    finding_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(finding_file), "--repeat", "3"]) == 1
    out = capsys.readouterr().out
    assert "REPRODUCED: 3 of 3" in out
    assert "no_foreign_data" in out
    assert main(["replay", str(finding_file), "--target", "reference"]) == 0
    assert "NOT REPRODUCED" in capsys.readouterr().out


def _pytest(module: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        capture_output=True, text=True, timeout=300, cwd=module.parent,
        env={**os.environ, **env},
    )


def test_the_exported_test_fails_on_the_bug_and_passes_on_the_fix(
    finding_file: Path, tmp_path: Path
) -> None:
    module = export_test(load_scenario(finding_file), tmp_path / "test_regression.py")
    buggy = _pytest(module)
    assert buggy.returncode == 1, buggy.stdout
    assert "REPRODUCED" in buggy.stdout
    fixed = _pytest(module, ISOLATION_FUZZ_TARGET="reference")
    assert fixed.returncode == 0, fixed.stdout


def test_a_test_exported_by_the_previous_release_still_imports_and_runs(
    finding_file: Path, tmp_path: Path
) -> None:
    # 0.1.0 exported tests that import from the engine's old paths; they run, warned.
    module = export_test(load_scenario(finding_file), tmp_path / "test_old_export.py")
    text = module.read_text()
    new = "from isolation_fuzz import Scenario, replay_scenario\n"
    assert new in text
    module.write_text(text.replace(new, (
        "from isolation_fuzz.engine.reproduce import replay_scenario\n"
        "from isolation_fuzz.engine.scenario import Scenario\n"
    )))
    buggy = _pytest(module)
    assert buggy.returncode == 1, buggy.stdout
    assert "REPRODUCED" in buggy.stdout
    assert "DeprecationWarning" in buggy.stdout  # pytest's warnings summary names it
    fixed = _pytest(module, ISOLATION_FUZZ_TARGET="reference")
    assert fixed.returncode == 0, fixed.stdout


def test_export_test_keeps_an_existing_file_unless_told_to_overwrite(
    finding_file: Path, tmp_path: Path
) -> None:
    scenario = load_scenario(finding_file)
    edited = tmp_path / "test_regression.py"
    edited.write_text("# edited by hand\n")
    with pytest.raises(UsageError, match="exists; pass overwrite=True"):
        export_test(scenario, edited)
    assert edited.read_text() == "# edited by hand\n"
    export_test(scenario, edited, overwrite=True)
    assert edited.read_text() != "# edited by hand\n"


def test_a_campaign_killed_mid_shrink_leaves_a_replayable_scenario(tmp_path: Path) -> None:
    # The nightly profile shrinks for hundreds of examples: SIGTERM lands mid-shrink.
    cmd = [
        str(BIN / "isolation-fuzz"), "run", "--target", "zoo:global_current_user",
        "--profile", "nightly", "--max-examples", "5000", "--seed", "3", "--quiet",
        "--report-dir", str(tmp_path / "reports"), "--corpus", "none",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    saved = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if "violation found; saved to" in line:
            saved = Path(line.split("saved to ", 1)[1].split(" (shrinking")[0])
            break
    assert saved is not None, "no violation was reported before the deadline"
    assert load_scenario(saved).violations  # written before shrinking
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err  # interrupted: never 0, and not a confirmed violation
    assert "verdict: interrupted by SIGTERM" in out
    assert "Traceback" not in err
    summary = json.loads((saved.parent / "summary.json").read_text())
    assert summary["state"] == "interrupted"
    assert summary["scenario"] == "scenario.json"
    assert replay_scenario(saved).reproduced


def test_reports_hold_no_token_or_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets: list[str] = []

    def recording(fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = fn(*args, **kwargs)
            secrets.append(token)
            return token
        return wrapper

    original = AuthConfig.generate

    def generate(*args: Any, **kwargs: Any) -> AuthConfig:
        config = original(*args, **kwargs)
        secrets.extend(config.secrets())
        return config

    monkeypatch.setattr(execution, "mint_token", recording(execution.mint_token))
    monkeypatch.setattr(execution, "forge_token", recording(execution.forge_token))
    monkeypatch.setattr(session.AuthConfig, "generate", staticmethod(generate))
    code = main([
        "run", "--target", "zoo:unverified_token", "--max-examples", "200", "--seed", "2",
        "--quiet", "--report-dir", str(tmp_path / "reports"), "--corpus", str(tmp_path / "c"),
    ])
    assert code == 1
    captured = capsys.readouterr()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"summary.json", "junit.xml", "report.html", "scenario.json"}
    assert len(secrets) > 3  # the signing key, minted and forged tokens were all seen
    texts = [p.read_text() for p in files] + [captured.out, captured.err]
    for secret in secrets:
        assert all(secret not in text for text in texts)


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
