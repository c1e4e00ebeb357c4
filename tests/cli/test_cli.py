"""The command line: verdicts, exit codes, one-line errors, no secrets."""

from __future__ import annotations

import pytest

from isolation_fuzz.cli import main
from isolation_fuzz.cli._flags import parse_duration
from isolation_fuzz.errors import UsageError


def test_run_on_embedded_engines_gives_a_clean_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--max-examples", "5", "--seed", "11"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "verdict: clean" in out
    assert "examples" in err  # the progress bar went to stderr
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["run", "--budget", "soon"], "'soon' is not a duration"),
        (["run", "--max-examples", "0"], "at least 1"),
        (["run", "--profile", "weekly"], "unknown profile 'weekly'"),
        (["run", "--target", "nonexistent"], "unknown target 'nonexistent'"),
        (["run", "--transport", "carrier-pigeon"], "invalid choice"),
        (["fly"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    _, err = capsys.readouterr()
    assert shown in err
    assert err.count("\n") == 1
    assert err.startswith("isolation-fuzz: error:")


def test_unreachable_service_is_one_line_and_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["run", "--quiet", "--postgres-url", "postgresql://fuzz:hunter2@127.0.0.1:1/test"]
    )
    _, err = capsys.readouterr()
    assert code == 3
    assert err.count("\n") == 1
    assert "postgres" in err
    assert "127.0.0.1:1" in err
    assert "hunter2" not in err


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1.5h", 5400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10 minutes", "-5s", "0"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_python_dash_m_is_the_same_command() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "isolation_fuzz", "zoo", "--bugs", "nope"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "unknown bug(s) ['nope']" in done.stderr
    assert "Traceback" not in done.stderr
