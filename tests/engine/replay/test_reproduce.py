"""The morning after: findings replay exactly and export as tests that fail on the bug.

The finding is the ``finding_file`` fixture of tests/conftest.py.  The commands that
replay it, gate releases on it and survive kills are tested in tests/cli/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from isolation_fuzz.engine.replay.reproduce import export_test, replay_scenario
from isolation_fuzz.engine.replay.scenario import load_scenario
from isolation_fuzz.errors import UsageError


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
