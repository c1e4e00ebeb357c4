"""Whole-file writes honour the umask, as a plain open() would."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from isolation_fuzz._atomic import write_atomic


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("umask")
def test_files_are_0644_under_the_usual_umask(tmp_path: Path) -> None:
    write_atomic(tmp_path / "sub" / "summary.json", "{}\n")
    assert stat.S_IMODE((tmp_path / "sub" / "summary.json").stat().st_mode) == 0o644
    assert (tmp_path / "sub" / "summary.json").read_text() == "{}\n"


@pytest.mark.usefixtures("umask")
def test_a_stricter_umask_is_obeyed(tmp_path: Path) -> None:
    os.umask(0o077)
    write_atomic(tmp_path / "junit.xml", "<x/>")
    assert stat.S_IMODE((tmp_path / "junit.xml").stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
