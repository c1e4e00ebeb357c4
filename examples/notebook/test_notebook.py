"""Notebook's isolation tests: the shipped service is clean, the beta's lost edit is found.

    pytest examples/notebook/test_notebook.py
"""

from __future__ import annotations

import pytest

from isolation_fuzz.pytest_plugin import IsolationFuzz


@pytest.mark.isolation_fuzz(target="examples.notebook.adapter:open_target", max_examples=25)
def test_notebook_keeps_every_users_notes_apart(isolation_fuzz: IsolationFuzz) -> None:
    isolation_fuzz.check()


def test_the_fuzzer_finds_the_beta_edit_that_drops_a_note(isolation_fuzz: IsolationFuzz) -> None:
    result = isolation_fuzz.run("examples.notebook.adapter:open_beta_target", max_examples=200)
    assert result.verdict == "violation"
    assert result.finding is not None
    assert {v.invariant for v in result.finding.violations} == {"read_your_writes"}
