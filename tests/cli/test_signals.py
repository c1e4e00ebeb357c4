"""SIGTERM in every phase, on real subprocesses: exit 143, one verdict line, a summary that says so.

Issue 10 measured a SIGTERM during start-up that exited 0 with "clean" and seven
passing JUnit cases: a killed CI job looked green.  Each test starts the real
console script, waits for the phase it wants (the progress bar's first lines tell
start-up from fuzzing), sends SIGTERM by PID, and reads what is left.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.report.files import RunReport
from isolation_fuzz.target import TargetSpec

BIN = Path(sys.executable).parent / "isolation-fuzz"


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(proc: subprocess.Popen[str], wanted: str, seconds: float = 120) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if wanted in line:
            return
    proc.kill()
    pytest.fail(f"never saw {wanted!r} on stderr")


def _verdicts(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("verdict:")]


def _summary(reports: Path) -> dict[str, object]:
    (run_dir,) = reports.iterdir()
    summary: dict[str, object] = json.loads((run_dir / "summary.json").read_text())
    return summary


def _run_args(reports: Path) -> list[str]:
    return ["run", "--budget", "120s", "--seed", "5", "--report-dir", str(reports),
            "--corpus", "none"]


def test_sigterm_during_engine_start_up_exits_143_interrupted(tmp_path: Path) -> None:
    proc = _start(_run_args(tmp_path))
    _wait_for(proc, "starting services")  # the engines are starting now
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, out + err
    assert _verdicts(out) == [
        "verdict: interrupted by SIGTERM after 0 example(s); no verdict on isolation"
    ]
    assert "Traceback" not in err
    summary = _summary(tmp_path)
    assert summary["state"] == "interrupted"
    assert summary["stop_reason"] == "interrupted"
    (run_dir,) = tmp_path.iterdir()
    assert 'failures="1"' in (run_dir / "junit.xml").read_text()  # never seven green cases


def test_sigterm_while_fuzzing_exits_143_interrupted(tmp_path: Path) -> None:
    proc = _start(_run_args(tmp_path))
    _wait_for(proc, "examples")  # the progress bar's first line: fuzzing has begun
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, out + err
    (verdict,) = _verdicts(out)
    assert verdict.startswith("verdict: interrupted by SIGTERM after ")
    assert "stopped: interrupted" in out
    summary = _summary(tmp_path)
    assert summary["state"] == "interrupted"
    assert summary["verdict"] == "interrupted (SIGTERM)"
    assert summary["seed"] == 5


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("found")
    report = RunReport(root, "run")
    config = CampaignConfig(target=TargetSpec("zoo:broadcast_events"), max_examples=50, seed=0)
    assert run_campaign(config, handlers=[report]).verdict == "violation"
    return report.scenario_path


def test_sigterm_during_replay_exits_143_interrupted(scenario_file: Path) -> None:
    proc = _start(["replay", str(scenario_file), "--repeat", "100000"])
    time.sleep(6)  # start-up or replaying: both must end the same way
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, out + err
    assert _verdicts(out) == ["verdict: interrupted by SIGTERM"]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--corpus", "{empty}", "--max-examples", "100000", "--report-dir", "{reports}"],
        ["zoo", "--bugs", "lost_event", "global_current_user", "--budget-per-bug", "120s"],
    ],
    ids=["check", "zoo"],
)
def test_sigterm_during_check_and_zoo_exits_143_never_0(tmp_path: Path, args: list[str]) -> None:
    empty = tmp_path / "corpus"
    empty.mkdir()
    reports = tmp_path / "reports"
    argv = [a.format(empty=empty, reports=reports) for a in args]
    proc = _start(argv)
    time.sleep(8)  # engines up, a campaign under way
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, out + err
    (verdict,) = _verdicts(out)
    assert verdict.startswith("verdict: interrupted by SIGTERM")
    assert "Traceback" not in err
    assert "internal error" not in err
