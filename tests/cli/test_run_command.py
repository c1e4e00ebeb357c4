"""``isolation-fuzz run`` end to end: exit codes a CI job can trust, one-line refusals,
reports that hold no secret, and a kill mid-shrink that leaves a replayable scenario."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from isolation_fuzz.cli import main
from isolation_fuzz.engine.example import execution, session
from isolation_fuzz.engine.replay.reproduce import replay_scenario
from isolation_fuzz.engine.replay.scenario import load_scenario
from isolation_fuzz.target import register_target
from isolation_fuzz.tokens import AuthConfig
from tests.engine.campaign.notes import notes_app

BIN = Path(sys.executable).parent


def test_cli_reports_an_unreachable_database_with_exit_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--database", "redis://127.0.0.1:1/0", "--max-examples", "1"]) == 3
    assert "example database" in capsys.readouterr().err


@pytest.mark.usefixtures("only_redis_starts")
@pytest.mark.parametrize(("declared", "says"), [
    ({"stores": ["redis", "mongo"]}, "unknown store 'mongo'"),
    ({"stores": []}, "stores is empty"),
    ({"stores": ["redis"], "user_ids": "alice"}, "user_ids must be a predicate"),
    ({"begin_kinds": ["start"]}, "begin_kinds names 'start'"),
    ({"event_kinds": ["a", "b"], "begin_kinds": ["a"], "end_kinds": ["c"]},
     "end_kinds names 'c'"),
    ({"store": ["redis"]}, "unknown field 'store'"),
    (42, "capabilities is a int"),
])
def test_a_bad_declaration_is_one_line_and_exit_2(
    declared: Any, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    register_target("test:notes-bad", notes_app(declared))
    assert main(["run", "--quiet", "--target", "test:notes-bad"]) == 2
    _, err = capsys.readouterr()
    assert says in err
    assert err.count("\n") == 1, err


def test_a_budget_too_small_for_one_example_is_exit_2_never_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([
        "run", "--quiet", "--budget", "0.0001s", "--seed", "1",
        "--report-dir", str(tmp_path), "--corpus", "none",
    ])
    out, _ = capsys.readouterr()
    assert code == 2, out
    verdict = [line for line in out.splitlines() if line.startswith("verdict:")]
    assert verdict == [
        "verdict: no examples: not one example completed in the budget of 0.0001s; "
        "give a larger --budget"
    ]
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stop_reason"] == "budget"
    assert summary["verdict"] == "no examples (budget too small)"
    assert "failures=\"1\"" in (run_dir / "junit.xml").read_text()


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
