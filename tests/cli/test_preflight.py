"""Preflight: what it lets through, and that checking a path leaves nothing behind."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from isolation_fuzz.cli._preflight import DEFAULT_CORPUS, check_dir, check_file, preflight
from isolation_fuzz.errors import UsageError


def test_a_new_directory_is_accepted_and_not_made(tmp_path: Path) -> None:
    assert check_dir("--report-dir", str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []  # the probe file is gone, no folder was made


def test_a_new_file_and_an_existing_one_with_overwrite_are_accepted(tmp_path: Path) -> None:
    check_file("--junit", str(tmp_path / "new" / "junit.xml"))
    (tmp_path / "old.py").write_text("# mine\n")
    check_file("--export-test", str(tmp_path / "old.py"), overwrite=True)
    with pytest.raises(UsageError, match="--force"):
        check_file("--export-test", str(tmp_path / "old.py"), overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.py"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_directory_without_write_permission_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(UsageError, match="not writable"):
        check_dir("--report-dir", str(locked / "reports"))


def test_checks_default_corpus_may_be_missing_but_a_named_one_may_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("REDIS", "POSTGRES", "CLICKHOUSE"):
        monkeypatch.delenv(f"ISOLATION_FUZZ_{name}_URL", raising=False)
    args = argparse.Namespace(
        command="check", corpus=DEFAULT_CORPUS, report_dir="reports", junit=None,
        target=None, transport="local", max_examples=None,
        redis_url=None, postgres_url=None, clickhouse_url=None,
    )
    preflight(args)  # a project with no finding yet has no corpus
    args.corpus = "reports/corpsu"
    with pytest.raises(UsageError, match="does not exist"):
        preflight(args)
