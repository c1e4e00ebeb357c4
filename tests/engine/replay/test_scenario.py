"""Scenario files: what is saved loads back the same; anything else is refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isolation_fuzz.engine.replay.scenario import (
    FORMAT,
    Scenario,
    ScenarioError,
    load_scenario,
    save_scenario,
)
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.model import ToolCall, Violation
from isolation_fuzz.target import TargetSpec

SCENARIO = Scenario(
    target=TargetSpec("zoo:delimiter_injection"),
    identities={"A": "a", "B": "a:b"},
    moves=(
        Move(1, "start_run", "B", "r1", "t1", (ToolCall("remember", "redis", "k", "v"),),
             outcome="paused at redis.load_thread"),
        Move(2, "finish", "B", "r1", outcome="finished", extra={"final": True}),
    ),
    violations=(Violation("no_foreign_data", "ForeignDataObserved", 2, ("A", "B"), "A saw B's"),),
    seed=7,
)


def test_round_trip(tmp_path: Path) -> None:
    path = save_scenario(tmp_path / "s.json", SCENARIO)
    loaded = load_scenario(path)
    assert loaded == SCENARIO
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT == 2
    assert data["tool_version"]
    assert "token" not in path.read_text().lower()  # tokens are re-minted, never stored


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ('{"kind": "something else"}', "not an isolation-fuzz scenario"),
        ('[1, 2]', "not an isolation-fuzz scenario"),
        ('{"kind": "isolation-fuzz scenario", "format": 99}', "format 99"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path)
    assert info.value.exit_code == 2


def test_a_move_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    data = SCENARIO.to_json()
    data["moves"][0]["kind"] = "__import__('os').system('true')"
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match=r"moves\[0\]\.kind: is "):
        load_scenario(path)


def test_a_move_naming_an_unknown_identity_is_refused(tmp_path: Path) -> None:
    data = SCENARIO.to_json()
    data["moves"][0]["identity"] = "Z"
    path = tmp_path / "z.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match="identity 'Z'"):
        load_scenario(path)
