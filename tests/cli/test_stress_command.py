"""``isolation-fuzz stress`` end to end: clean on the reference platform, a seeded bug found
and replayed, the machine's Redis and Postgres by URL.  A few seconds each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isolation_fuzz.cli import main

REDIS = "redis://127.0.0.1:6379/13"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return ["stress", "--identities", "20", "--rate", "25", "--duration", "2s", "--seed", "1",
            "--report-dir", str(tmp_path / "reports"), "--corpus", str(tmp_path / "corpus"),
            *extra]


def _report(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "reports").iterdir()
    return found


def test_stress_on_the_reference_platform_is_clean_with_progress_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert "stress: 20/20 connected" in err
    assert "runs/s" in err
    assert "p99 delivery" in err
    assert "verdict: clean" in out
    assert "(20 connected, websocket)" in out
    report = _report(tmp_path)
    summary = json.loads((report / "summary.json").read_text())
    assert summary["verdict"] == "clean"
    assert summary["profile"] == "stress"
    assert summary["stress"]["runs"] > 10
    assert summary["stress"]["latency_p99_ms"] is not None
    assert (report / "junit.xml").exists()
    assert (report / "stress.json").exists()


def test_a_broadcast_found_under_stress_becomes_a_scenario_that_replay_reproduces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_args(tmp_path, "--target", "zoo:broadcast_events", "--transport", "local",
                      "--confirm", "2"))
    out, _ = capsys.readouterr()
    assert code == 1, out
    assert "replays step by step" in out
    assert "verdict: VIOLATION" in out
    report = _report(tmp_path)
    assert {"scenario.json", "report.html", "junit.xml", "stress-evidence.json"} <= {
        p.name for p in report.iterdir()}
    assert len(list((tmp_path / "corpus").glob("*.json"))) == 1
    assert main(["replay", str(report / "scenario.json")]) == 1
    replayed, _ = capsys.readouterr()
    assert "REPRODUCED" in replayed
    assert "events_reach_only_owner" in replayed


def test_stress_runs_on_external_redis_and_postgres_by_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_args(tmp_path, "--transport", "local", "--redis-url", REDIS,
                      "--postgres-url", POSTGRES, "--quiet"))
    out, _ = capsys.readouterr()
    assert code == 0, out
    summary = json.loads((_report(tmp_path) / "summary.json").read_text())
    assert summary["services"]["redis"].startswith("redis://127.0.0.1:6379")
    assert summary["services"]["postgres"].startswith("postgresql://")
    assert summary["services"]["namespace"].startswith("isofuzz_")
