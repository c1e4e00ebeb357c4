"""ChatDesk's isolation tests: isolation-fuzz campaigns as two ordinary pytest tests.

    pytest examples/chatdesk/test_chatdesk.py
    pytest -p xdist -n 2 examples/chatdesk/test_chatdesk.py --isolation-fuzz-seed 7

The ``isolation_fuzz`` fixture comes from isolation-fuzz's pytest plugin (installed
with it); ``--isolation-fuzz-budget 10m`` turns the same tests into a nightly run.
"""

from __future__ import annotations

import pytest

from isolation_fuzz.pytest_plugin import IsolationFuzz


@pytest.mark.isolation_fuzz(target="examples.chatdesk.adapter:open_target", max_examples=25)
def test_chatdesk_keeps_every_users_notes_and_events_apart(isolation_fuzz: IsolationFuzz) -> None:
    isolation_fuzz.check()


def test_the_fuzzer_catches_the_beta_digest_cache_leak(isolation_fuzz: IsolationFuzz) -> None:
    result = isolation_fuzz.run("examples.chatdesk.adapter:open_beta_target", max_examples=200)
    assert result.verdict == "violation"
    assert result.finding is not None
    # Another user's digest: seen as foreign data, or as a read the model cannot explain.
    found = {v.invariant for v in result.finding.violations}
    assert found <= {"no_foreign_data", "read_your_writes"}, found
    assert found
