"""The pytest plugin: campaigns as tests, under real pytest and real pytest-xdist workers."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from isolation_fuzz.pytest_plugin import worker_seed

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_TEST = "examples/chatdesk/test_chatdesk.py"


def _pytest(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def test_workers_seeds_are_derived_apart_and_the_base_is_kept_outside_xdist() -> None:
    assert worker_seed(7, None) == 7
    assert worker_seed(None, "gw1") is None
    assert worker_seed(7, "gw0") != worker_seed(7, "gw1")
    assert worker_seed(7, "gw0") == worker_seed(7, "gw0")
    assert 0 <= (worker_seed(7, "gw0") or 0) < 2**32


def _properties(junit: Path) -> dict[str, dict[str, str]]:
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        out[case.get("name", "")] = props
    return out


def test_the_examples_test_runs_on_two_xdist_workers_sharing_one_database(
    tmp_path: Path,
) -> None:
    junit = tmp_path / "junit.xml"
    done = _pytest(
        REPO, "-p", "xdist", "-n", "2", EXAMPLE_TEST, "--isolation-fuzz-seed", "7",
        f"--junitxml={junit}", f"--isolation-fuzz-report-dir={tmp_path / 'reports'}",
        f"--isolation-fuzz-database={tmp_path / 'db'}",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
    props = _properties(junit)
    assert len(props) == 2
    workers = {p["isolation_fuzz_worker"] for p in props.values()}
    assert workers == {"gw0", "gw1"}  # xdist hands one test to each worker
    for p in props.values():
        assert p["isolation_fuzz_seed"] == str(worker_seed(7, p["isolation_fuzz_worker"]))
        assert p["isolation_fuzz_database"] == str(tmp_path / "db")
    assert len({p["isolation_fuzz_seed"] for p in props.values()}) == 2
    assert any((tmp_path / "db").rglob("*"))  # the beta's finding is kept for both workers


USER_TEST = '''
import pytest

def test_beta_is_isolated(isolation_fuzz):
    isolation_fuzz.check("examples.chatdesk.adapter:open_beta_target", max_examples=5)

@pytest.mark.isolation_fuzz(target="examples.chatdesk.adapter:open_target", max_examples=5,
                            seed=1)
def test_the_command_line_wins(isolation_fuzz):
    config = isolation_fuzz.config()
    assert (config.budget_seconds, config.max_examples, config.seed) == (20.0, None, 11)
    assert config.target.name == "examples.chatdesk.adapter:open_target"
'''


def test_a_finding_fails_the_test_with_the_verdict_and_the_scenario_path(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TEST)
    done = _pytest(
        tmp_path, "test_user.py", "--isolation-fuzz-budget", "20s", "--isolation-fuzz-seed", "11",
        "--isolation-fuzz-report-dir", str(tmp_path / "reports"),
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert "1 failed, 1 passed" in done.stdout
    assert "verdict: VIOLATION" in done.stdout
    assert "ForeignDataObserved" in done.stdout
    line = next(x for x in done.stdout.splitlines() if x.strip().startswith("scenario: "))
    scenario = Path(line.split("scenario: ", 1)[1].strip())
    assert scenario.is_file()
    assert scenario.is_relative_to(tmp_path / "reports")
    assert f"isolation-fuzz replay {scenario}" in done.stdout
    assert (tmp_path / ".hypothesis" / "isolation-fuzz").is_dir()  # the default database
