"""Bad input, across every command: exit 2 (or 3), one line, no traceback, no secret.

A table of command lines a new user might type, each with the files it needs (a
corrupt corpus, a scenario of the wrong shape, a file where a directory belongs).
Every row must be refused while its flags are read, before an engine starts, which
is also what keeps this test fast; ``main`` is called in process, and a few rows
again in a fresh interpreter, to see what really reaches the terminal.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from isolation_fuzz.cli import COMMANDS, main
from tests.engine.replay.test_scenario_shape import good  # one valid scenario for both tables

#: A password put into URLs below; it must never be shown.
SECRET = "hunter2-s3cret"

#: In a row's files: make this path a directory.
DIR = object()


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(good())
    edit(data)
    return data


def nested(depth: int) -> str:
    """JSON text nested ``depth`` lists deep (too deep for json.dumps to write)."""
    return "[" * depth + '"x"' + "]" * depth


@dataclass(frozen=True)
class Row:
    """One bad command line: ``argv`` (``{tmp}`` is the test's folder) and what must happen."""

    argv: tuple[str, ...]
    code: int = 2
    shown: str | None = None
    files: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def row(*argv: str, code: int = 2, shown: str | None = None, files: dict[str, Any] | None = None,
        env: dict[str, str] | None = None) -> Row:
    return Row(tuple(argv), code, shown, files or {}, env or {})


GOOD = {"good.json": good()}
A_FILE = {"afile": "a file where a directory belongs\n"}


def scenario(name: str, data: Any, shown: str) -> tuple[str, Row]:
    """``replay`` of a bad scenario file, whose error names the field at fault."""
    return f"scenario: {name}", row("replay", "bad.json", files={"bad.json": data}, shown=shown)


ROWS: dict[str, Row] = {
    # The parser: commands, flags and arguments that do not exist or are missing.
    "no command": row(shown="required"),
    "unknown command": row("fly", shown="invalid choice"),
    "command in capitals": row("RUN", shown="invalid choice"),
    "unknown global flag": row("--bogus"),
    "unknown run flag": row("run", "--bogus", shown="unrecognized arguments"),
    "unknown check flag": row("check", "--bogus"),
    "unknown zoo flag": row("zoo", "--bogus"),
    "unknown replay flag": row("replay", "good.json", "--bogus", files=GOOD),
    "underscore flag": row("run", "--max_examples", "5"),
    "stray positional": row("run", "extra"),
    "replay without a file": row("replay", shown="required"),
    "replay with two files": row("replay", "good.json", "good.json", files=GOOD),
    "flag without its value": row("run", "--max-examples"),
    "target without its value": row("run", "--target"),
    "zoo --bugs with no bug": row("zoo", "--bugs"),
    "check --junit without a file": row("check", "--junit"),
    # Numbers.
    "max-examples 0": row("run", "--max-examples", "0", shown="--max-examples"),
    "max-examples -1": row("run", "--max-examples", "-1"),
    "max-examples abc": row("run", "--max-examples", "abc", shown="invalid int"),
    "max-examples 1e99": row("run", "--max-examples", "1e99"),
    "max-examples 1.5": row("run", "--max-examples", "1.5"),
    "max-examples empty": row("run", "--max-examples", ""),
    "max-examples absurd": row("run", "--max-examples", "10" * 20, shown="1,000,000,000"),
    "seed abc": row("run", "--seed", "abc"),
    "seed 1.5": row("run", "--seed", "1.5"),
    "check max-examples 0": row("check", "--max-examples", "0"),
    "check max-examples x": row("check", "--max-examples", "x"),
    "replay repeat 0": row("replay", "good.json", "--repeat", "0", files=GOOD, shown="--repeat"),
    "replay repeat -3": row("replay", "good.json", "--repeat", "-3", files=GOOD),
    "replay repeat many": row("replay", "good.json", "--repeat", "many", files=GOOD),
    "zoo seed abc": row("zoo", "--seed", "abc"),
    # Durations.
    "budget a word": row("run", "--budget", "soon", shown="'soon' is not a duration"),
    "budget 0": row("run", "--budget", "0", shown="must be positive"),
    "budget negative": row("run", "--budget", "-5s"),
    "budget negative with =": row("run", "--budget=-5s", shown="'-5s' is not a duration"),
    "budget 0s": row("run", "--budget", "0s", shown="must be positive"),
    "budget in words": row("run", "--budget", "10 minutes"),
    "budget in days": row("run", "--budget", "1d"),
    "budget in ms": row("run", "--budget", "5ms"),
    "budget empty": row("run", "--budget", ""),
    "budget inf": row("run", "--budget", "inf"),
    "budget nan": row("run", "--budget", "nan"),
    "budget exponent": row("run", "--budget", "1e3s"),
    "zoo budget 0": row("zoo", "--budget-per-bug", "0"),
    "zoo budget abc": row("zoo", "--budget-per-bug", "abc"),
    "zoo budget negative": row("zoo", "--budget-per-bug", "-1m"),
    "zoo budget negative with =": row("zoo", "--budget-per-bug=-1m"),
    # Names: profiles, transports, targets, bugs.
    "unknown profile": row("run", "--profile", "weekly", shown="unknown profile 'weekly'"),
    "empty profile": row("run", "--profile", ""),
    "profile in capitals": row("run", "--profile", "QUICK"),
    "unknown transport": row("run", "--transport", "carrier-pigeon", shown="invalid choice"),
    "check unknown transport": row("check", "--transport", "smoke"),
    "zoo:runner target": row("run", "--target", "zoo:runner", shown="unknown target 'zoo:runner'"),
    "unknown target": row("run", "--target", "nonexistent"),
    "empty target": row("run", "--target", ""),
    "bare zoo: target": row("run", "--target", "zoo:"),
    "target family pattern": row("run", "--target", "zoo:*"),
    "check unknown target": row("check", "--target", "bogus", "--corpus", "corpus",
                                files={"corpus": DIR}),
    "replay unknown target": row("replay", "good.json", "--target", "bogus", files=GOOD),
    "zoo unknown bug": row("zoo", "--bugs", "nope", shown="unknown bug"),
    "zoo one unknown bug": row("zoo", "--bugs", "missing_user_filter", "nope"),
    # Service URLs, with a password in some: it must never be shown.
    "redis:// alone": row("run", "--redis-url", "redis://", shown="names no host"),
    "redis bad port": row("run", "--redis-url", f"redis://:{SECRET}@h:abc/0", shown="port 'abc'"),
    "redis port too big": row("run", "--redis-url", "redis://h:70000"),
    "redis http scheme": row("run", "--redis-url", "http://h:6379"),
    "redis bad ipv6": row("run", "--redis-url", f"redis://:{SECRET}@[::1"),
    "redis db a word": row("run", "--redis-url", "redis://h/zero", shown="database 'zero'"),
    "redis no scheme": row("run", "--redis-url", "localhost:6379"),
    "redis unix without path": row("run", "--redis-url", "unix://"),
    "redis empty": row("run", "--redis-url", "", shown="is empty"),
    "redis query password": row("run", "--redis-url", f"redis://h:x/0?password={SECRET}"),
    "redis with =": row("run", f"--redis-url=redis://:{SECRET}@h:bad"),
    "postgres no host": row("run", "--postgres-url", "postgresql:///db", shown="names no host"),
    "postgres mysql": row("run", "--postgres-url", f"mysql://u:{SECRET}@h/db"),
    "postgres bad port": row("run", "--postgres-url", f"postgresql://u:{SECRET}@h:x/db"),
    "postgres garbage": row("run", "--postgres-url", "garbage"),
    "postgres query password": row("run", "--postgres-url", f"postgres:///db?password={SECRET}"),
    "postgres empty host in list": row("run", "--postgres-url", "postgresql://h1,,h2/db"),
    "clickhouse garbage": row("run", "--clickhouse-url", "garbage", shown="no scheme"),
    "clickhouse no host": row("run", "--clickhouse-url", "http://"),
    "clickhouse ftp": row("run", "--clickhouse-url", "ftp://h"),
    "clickhouse bad port": row("run", "--clickhouse-url", f"https://u:{SECRET}@h:99999"),
    "clickhouse space": row("run", "--clickhouse-url", "http://click house:8123"),
    "check bad redis": row("check", "--redis-url", f"redis://:{SECRET}@"),
    "check bad postgres": row("check", "--postgres-url", "pg://h/db"),
    "replay bad clickhouse": row("replay", "good.json", "--clickhouse-url", "nope", files=GOOD),
    "replay bad redis": row("replay", "good.json", "--redis-url", "redis://h:0", files=GOOD),
    "env garbage clickhouse": row("run", env={"ISOLATION_FUZZ_CLICKHOUSE_URL": "garbage"},
                                  shown="clickhouse URL"),
    "env bad redis, zoo": row("zoo", env={"ISOLATION_FUZZ_REDIS_URL": f"redis://:{SECRET}@h:x"}),
    "env bad postgres, check": row("check", env={"ISOLATION_FUZZ_POSTGRES_URL": "postgresql://"}),
    "password in a stray argument": row("run", f"redis://:{SECRET}@h/0"),
    # clean: it needs the external servers, and well-formed URLs for them.
    **({
        "clean without servers": row("clean", shown="clean needs the servers"),
        "clean bad redis URL": row("clean", "--redis-url", f"redis://:{SECRET}@h:x"),
        "clean bad postgres URL": row("clean", "--postgres-url", "postgresql:///db"),
        "clean env garbage": row("clean", env={"ISOLATION_FUZZ_REDIS_URL": "redis://"}),
        "clean clickhouse flag": row("clean", "--clickhouse-url", "http://h"),
        "clean unknown flag": row("clean", "--all"),
    } if "clean" in COMMANDS else {}),
    # stress: identities, rate and duration are checked as they are read.
    **({
        "stress identities 1": row("stress", "--identities", "1", shown="at least two users"),
        "stress identities 0": row("stress", "--identities", "0"),
        "stress identities abc": row("stress", "--identities", "many"),
        "stress identities absurd": row("stress", "--identities", "1000000", shown="10,000"),
        "stress rate 0": row("stress", "--rate", "0", shown="runs per second"),
        "stress rate negative": row("stress", "--rate=-5"),
        "stress rate nan": row("stress", "--rate", "nan"),
        "stress rate a word": row("stress", "--rate", "fast"),
        "stress duration 0": row("stress", "--duration", "0", shown="must be positive"),
        "stress duration a word": row("stress", "--duration", "forever"),
        "stress unknown target": row("stress", "--target", "nonexistent"),
        "stress bad redis": row("stress", "--redis-url", "redis://"),
    } if "stress" in COMMANDS else {}),
    # Output paths, found before the campaign rather than after it.
    "report-dir is a file": row("run", "--report-dir", "afile", files=A_FILE,
                                shown="is not a directory"),
    "report-dir in /proc": row("run", "--report-dir", "/proc/isolation-fuzz", shown="/proc"),
    "report-dir under a file": row("run", "--report-dir", "afile/sub", files=A_FILE),
    "report-dir empty": row("run", "--report-dir", ""),
    "report-dir /dev/null": row("run", "--report-dir", "/dev/null"),
    "corpus is a file": row("run", "--corpus", "afile", files=A_FILE),
    "corpus in /proc": row("run", "--corpus", "/proc/corpus"),
    "corpus under a file": row("run", "--corpus", "afile/x", files=A_FILE),
    "database in /proc": row("run", "--database", "/proc/nope", shown="--database"),
    "database is a file": row("run", "--database", "afile", files=A_FILE),
    "database http URL": row("run", "--database", "http://x/db"),
    "database redis:// alone": row("run", "--database", "redis://"),
    "database bad redis port": row("run", "--database", f"redis://:{SECRET}@h:x"),
    "check corpus missing": row("check", "--corpus", "no/such/corpus", shown="does not exist"),
    "check corpus a file": row("check", "--corpus", "afile", files=A_FILE),
    "check corpus empty": row("check", "--corpus", ""),
    "check junit a directory": row("check", "--junit", "{tmp}", shown="is a directory"),
    "check junit /dev/null": row("check", "--junit", "/dev/null", shown="regular file"),
    "check junit in /proc": row("check", "--junit", "/proc/junit.xml"),
    "check junit under a file": row("check", "--junit", "afile/junit.xml", files=A_FILE),
    "check junit trailing slash": row("check", "--junit", "out/"),
    "check report-dir a file": row("check", "--report-dir", "afile", files=A_FILE),
    "zoo json in /proc": row("zoo", "--json", "/proc/zoo.json"),
    "zoo json a directory": row("zoo", "--json", "{tmp}"),
    "zoo json under a file": row("zoo", "--json", "afile/zoo.json", files=A_FILE),
    "zoo json empty": row("zoo", "--json", ""),
    "export-test not .py": row("replay", "good.json", "--export-test", "out.txt", files=GOOD,
                               shown=".py"),
    "export-test exists": row("replay", "good.json", "--export-test", "test_x.py",
                              files={**GOOD, "test_x.py": "# mine\n"}, shown="--force"),
    "export-test in /proc": row("replay", "good.json", "--export-test", "/proc/test_x.py",
                                files=GOOD),
    "export-test a directory": row("replay", "good.json", "--export-test", "d.py",
                                   files={**GOOD, "d.py": DIR}),
    "export-test under a file": row("replay", "good.json", "--export-test", "afile/test_x.py",
                                    files={**GOOD, **A_FILE}),
    # Scenario files: replay's FILE, and the corpus check replays.
    "scenario missing": row("replay", "nope.json", shown="no such scenario file"),
    "scenario a directory": row("replay", "d.json", files={"d.json": DIR}),
    "corpus with a corrupt file": row("check", "--corpus", "c", shown="broken.json",
                                      files={"c": DIR, "c/ok.json": good(), "c/broken.json": "{"}),
    "corpus with a wrong-shaped file": row(
        "check", "--corpus", "c", shown="odd.json",
        files={"c": DIR, "c/odd.json": changed(lambda d: d.update(seed="3"))},
    ),
    "corpus with two bad files": row(
        "check", "--corpus", "c", shown="2 corpus file(s)",
        files={"c": DIR, "c/a.json": "[]", "c/b.json": b"\xff", "c/ok.json": good()},
    ),
    "corpus with a deep file": row("check", "--corpus", "c", shown="deep.json",
                                   files={"c": DIR, "c/deep.json": nested(5000)}),
    **dict([
        scenario("empty file", "", "not JSON"),
        scenario("not JSON", "{moves: []", "not JSON"),
        scenario("JSON list", [], "scenario"),
        scenario("JSON null", None, "scenario"),
        scenario("invalid UTF-8", b"\xff\xfe{}", "bad.json"),
        scenario("deep nesting", nested(5000), "bad.json"),
        scenario("huge integer", json.dumps(good()).replace('"seed": 3', '"seed": 1' + "0" * 5000),
                 "bad.json"),
        scenario("foreign kind", changed(lambda d: d.update(kind="pytest")), "bad.json"),
        scenario("future format", changed(lambda d: d.update(format=99)), "format 99"),
        scenario("target a string", changed(lambda d: d.update(target="reference")), "target"),
        scenario("unknown transport", changed(lambda d: d["target"].update(transport="x")),
                 "target.transport"),
        scenario("seed a string", changed(lambda d: d.update(seed="3")), "seed"),
        scenario("no identities", changed(lambda d: d.update(identities={})), "identities"),
        scenario("too many identities",
                 changed(lambda d: d.update(identities={c: c for c in "ABCDEFGHI"})),
                 "identities"),
        scenario("null identity", changed(lambda d: d["identities"].update(A=None)),
                 "identities.A"),
        scenario("unknown identity name",
                 changed(lambda d: d["moves"][0].update(identity="Z")), "moves[0].identity"),
        scenario("negative step", changed(lambda d: d["moves"][0].update(step=-1)),
                 "moves[0].step"),
        scenario("unknown move kind", changed(lambda d: d["moves"][0].update(kind="teleport")),
                 "moves[0].kind"),
        scenario("unknown tool",
                 changed(lambda d: d["moves"][0]["plan"][0].update(tool="rm -rf")),
                 "moves[0].plan[0].tool"),
        scenario("unknown forgery", changed(lambda d: d["moves"][2].update(forgery="bribery")),
                 "moves[2].forgery"),
        scenario("violation step a string",
                 changed(lambda d: d["violations"][0].update(step="2")), "violations[0].step"),
        scenario("huge user id", changed(lambda d: d["identities"].update(A="u" * 300)),
                 "identities.A"),
        scenario("moves an object", changed(lambda d: d.update(moves={})), "moves"),
    ]),
}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, and no service URL from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("REDIS", "POSTGRES", "CLICKHOUSE"):
        monkeypatch.delenv(f"ISOLATION_FUZZ_{name}_URL", raising=False)
    return tmp_path


def make(folder: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        path = folder / name
        if content is DIR:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(json.dumps(content))


def argv_of(r: Row, folder: Path) -> list[str]:
    return [a.replace("{tmp}", str(folder)) for a in r.argv]


def assert_refused(code: int, out: str, err: str, r: Row) -> None:
    assert code == r.code, out + err
    assert err.startswith("isolation-fuzz: error:"), err
    assert err.count("\n") == 1, err
    assert err.endswith("\n"), err
    assert "Traceback" not in out + err
    assert "internal error" not in err
    assert SECRET not in out + err
    if r.shown is not None:
        assert r.shown in err


def test_the_table_is_large() -> None:
    assert len(ROWS) >= 100


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_input_is_refused_in_one_line(
    name: str, folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    r = ROWS[name]
    make(folder, r.files)
    for key, value in r.env.items():
        monkeypatch.setenv(key, value)
    code = main(argv_of(r, folder))
    out, err = capsys.readouterr()
    assert_refused(code, out, err, r)
    assert not (folder / "reports").exists()  # refused before anything was written


SUBPROCESS_ROWS = [
    "redis:// alone", "clickhouse garbage", "report-dir in /proc", "zoo:runner target",
    "corpus with a corrupt file", "password in a stray argument",
]


#: What the ``isolation-fuzz`` console script runs.
CONSOLE_SCRIPT = "import sys; from isolation_fuzz.cli import main; sys.exit(main())"


@pytest.mark.parametrize("name", SUBPROCESS_ROWS)
def test_what_reaches_a_real_terminal(name: str, folder: Path) -> None:
    r = ROWS[name]
    make(folder, r.files)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOLATION_FUZZ_")}
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE_SCRIPT, *argv_of(r, folder)],
        capture_output=True, text=True, env={**env, **r.env}, cwd=folder, timeout=60,
    )
    assert_refused(done.returncode, done.stdout, done.stderr, r)


def test_library_log_records_stay_off_the_terminal(folder: Path) -> None:
    code = (
        "import logging, sys\n"
        "from isolation_fuzz.cli import main\n"
        "main(['run', '--bogus'])\n"
        "logging.getLogger('clickhouse_connect').error('Unexpected Http Driver Exception')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=folder, timeout=60)
    assert "Unexpected Http Driver Exception" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_export_test_overwrites_only_with_force(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from isolation_fuzz.cli._preflight import check_file

    make(folder, {"test_x.py": "# mine\n"})
    check_file("--export-test", "test_x.py", overwrite=True)
    assert main(["replay", "nope.json", "--export-test", "test_x.py"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (folder / "test_x.py").read_text() == "# mine\n"
