"""``[tool.isolation-fuzz]``: a bare ``isolation-fuzz run`` fuzzes the repository's system."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from isolation_fuzz.cli import _parser
from isolation_fuzz.cli._pyproject import apply_pyproject, find_pyproject, read_table
from isolation_fuzz.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
SNIPPET = REPO / "examples" / "chatdesk" / "pyproject-snippet.toml"


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n{table}\n")
    return tmp_path


def _args(argv: list[str], start: Path) -> object:
    args = _parser().parse_args(argv)
    apply_pyproject(args, argv, _parser, start=start)
    return args


def test_the_nearest_pyproject_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    _project(tmp_path, "")
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    assert find_pyproject(deep) == tmp_path / "pyproject.toml"


def test_the_table_fills_what_the_flags_left_unset(tmp_path: Path) -> None:
    root = _project(tmp_path, '[tool.isolation-fuzz]\ntarget = "reference"\nbudget = "2m"\n'
                    'max-examples = 7\nseed = 4\nprofile = "nightly"\nfresh-target = true')
    args = _args(["run"], root)
    assert (args.target, args.budget, args.max_examples, args.seed, args.profile,  # type: ignore[attr-defined]
            args.fresh_target) == ("reference", 120.0, 7, 4, "nightly", True)  # type: ignore[attr-defined]


def test_a_flag_wins_over_the_table_however_it_is_spelt(tmp_path: Path) -> None:
    root = _project(tmp_path, '[tool.isolation-fuzz]\nbudget = "2m"\nseed = 4\nprofile = "nightly"')
    args = _args(["run", "--budget=30s", "--see", "9", "--profile", "quick"], root)
    assert (args.budget, args.seed, args.profile) == (30.0, 9, "quick")  # type: ignore[attr-defined]


def test_the_environment_wins_over_the_table_for_service_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, '[tool.isolation-fuzz]\nredis-url = "redis://table:6379/1"\n'
                    'postgres-url = "postgresql://table/db"')
    monkeypatch.setenv("ISOLATION_FUZZ_REDIS_URL", "redis://env:6379/2")
    monkeypatch.delenv("ISOLATION_FUZZ_POSTGRES_URL", raising=False)
    args = _args(["run"], root)
    assert args.redis_url is None  # type: ignore[attr-defined]  # left to the environment
    assert args.postgres_url == "postgresql://table/db"  # type: ignore[attr-defined]


def test_keys_a_command_has_no_flag_for_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ISOLATION_FUZZ_REDIS_URL", raising=False)  # CI sets it; it would win
    root = _project(tmp_path, '[tool.isolation-fuzz]\nbudget = "2m"\nredis-url = "redis://h/1"')
    args = _args(["replay", "x.json"], root)
    assert not hasattr(args, "budget")
    assert args.redis_url == "redis://h/1"  # type: ignore[attr-defined]


def test_a_pyproject_without_the_table_changes_nothing(tmp_path: Path) -> None:
    args = _args(["run"], _project(tmp_path, "[tool.other]\nx = 1"))
    assert (args.target, args.budget) == ("reference", None)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('budget = "soon"', "budget = 'soon'"),
        ("budget = -3", "budget = -3"),
        ("max-examples = 0", "max-examples = 0"),
        ('max-examples = "ten"', "max-examples = 'ten'"),
        ("seed = true", "seed = True"),
        ('profile = "weekly"', "profile = 'weekly'"),
        ('stores = "redis"', "stores = 'redis'"),
        ('stores = ["redis", "mongo"]', "'mongo' is not a store"),
        ("stores = []", "stores = []"),
        ('target = ""', "target = ''"),
        ('fresh-target = "yes"', "fresh-target = 'yes'"),
        ('transport = "carrier-pigeon"', "transport = 'carrier-pigeon'"),
        ('redis-url = "http://x"', "redis-url = 'http://x'"),
        ("colour = 1", "unknown key 'colour'"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_key(
    tmp_path: Path, table: str, named: str
) -> None:
    path = _project(tmp_path, f"[tool.isolation-fuzz]\n{table}") / "pyproject.toml"
    with pytest.raises(UsageError) as caught:
        read_table(path)
    message = str(caught.value)
    assert named in message
    assert str(path) in message
    assert "\n" not in message


def test_a_url_password_in_the_table_is_never_shown(tmp_path: Path) -> None:
    path = _project(tmp_path, '[tool.isolation-fuzz]\nredis-url = "http://u:hunter2@h/1"')
    with pytest.raises(UsageError) as caught:
        read_table(path / "pyproject.toml")
    assert "hunter2" not in str(caught.value)


def test_broken_toml_is_a_usage_error(tmp_path: Path) -> None:
    path = _project(tmp_path, "[tool.isolation-fuzz\n") / "pyproject.toml"
    with pytest.raises(UsageError, match="cannot be read as TOML"):
        read_table(path)


def _cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for var in ("ISOLATION_FUZZ_REDIS_URL", "ISOLATION_FUZZ_POSTGRES_URL",
                "ISOLATION_FUZZ_CLICKHOUSE_URL"):
        env.pop(var, None)
    return subprocess.run(
        [str(Path(sys.executable).parent / "isolation-fuzz"), *argv], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300,
    )


def test_a_bare_run_in_the_repository_fuzzes_the_tables_target_on_its_stores(
    tmp_path: Path,
) -> None:
    # The example and its snippet as a project of their own; run from a subdirectory.
    shutil.copytree(REPO / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pyproject.toml").write_text(SNIPPET.read_text().replace("40", "8"))
    sub = tmp_path / "docs"
    sub.mkdir()
    done = _cli(sub, "run", "--quiet", "--seed", "1", "--report-dir", str(tmp_path / "r"),
                "--corpus", "none")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "target examples.chatdesk.adapter:open_target" in done.stdout
    assert "services: redis=embedded, namespace=" in done.stdout  # only Redis started
    examples = int(re.search(r"(\d+) examples", done.stdout).group(1))  # type: ignore[union-attr]
    assert 8 <= examples < 40  # the table's max-examples (Hypothesis may run one or two more)


def test_a_bad_table_is_exit_2_in_one_line(tmp_path: Path) -> None:
    _project(tmp_path, '[tool.isolation-fuzz]\nbudget = "tomorrow"')
    done = _cli(tmp_path, "run")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "[tool.isolation-fuzz] budget = 'tomorrow'" in lines[0]


def test_stores_declare_the_tables_own_target_and_no_other(tmp_path: Path) -> None:
    from isolation_fuzz.capabilities import capabilities_of
    from isolation_fuzz.target import TargetSpec, register_target, resolve_target

    def undeclared(spec: object, services: object, auth: object) -> object:
        raise AssertionError("never opened here")

    register_target("test-pyproject:undeclared", undeclared)  # type: ignore[arg-type]
    root = _project(tmp_path, '[tool.isolation-fuzz]\ntarget = "test-pyproject:undeclared"\n'
                    'stores = ["clickhouse", "redis"]')
    _args(["run", "--target", "reference"], root)
    assert resolve_target(TargetSpec("test-pyproject:undeclared")) is undeclared
    _args(["run"], root)
    declared = capabilities_of(resolve_target(TargetSpec("test-pyproject:undeclared")))
    assert declared.stores == ("redis", "clickhouse")
