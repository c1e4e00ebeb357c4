"""``isolation-fuzz replay``: exit 1 while the bug is there, 0 once fixed, 2 for a bad file.

The finding replayed is the ``finding_file`` fixture of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from isolation_fuzz.cli import main


def test_replay_exits_1_while_the_bug_is_there_and_0_on_the_fixed_platform(
    finding_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(finding_file), "--repeat", "3"]) == 1
    out = capsys.readouterr().out
    assert "REPRODUCED: 3 of 3" in out
    assert "no_foreign_data" in out
    assert main(["replay", str(finding_file), "--target", "reference"]) == 0
    assert "NOT REPRODUCED" in capsys.readouterr().out


def test_replay_of_a_bad_file_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not JSON" in err
    assert "Traceback" not in err
    assert main(["replay", str(tmp_path / "missing.json")]) == 2
