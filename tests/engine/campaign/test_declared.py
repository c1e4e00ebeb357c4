"""Declared capabilities, end to end: whole campaigns against a small Redis-only notes app.

The app (notes.py beside this file) is written for these tests, not built from the
reference platform: it keeps each user's notes in one Redis hash
(``notes:<len>:<user id>``, so no user id can reach into another's), numbers its own
events (``run_begin``, ``tool_call``, ``usage``, ``tool_result``, ``run_end``) and
verifies the fuzzer's tokens through the kit.  It declares all that on its factory.
Variants misroute one kind of event to every connection, or refuse user ids its
declared predicate refuses.

What must hold: only Redis starts (the embedded Postgres and ClickHouse starters
are booby-trapped, by the ``only_redis_starts`` fixture of tests/conftest.py) and
only Redis calls are drawn; its own event kinds raise no lifecycle alarm; a
misrouted extra kind, declared or not, is caught; a declared user-id predicate is
honoured and the ids it dropped are reported.  That a bad declaration is one line
and exit 2 before anything starts is checked through the command line, in
tests/cli/test_run_command.py.
"""

from __future__ import annotations

import json

import pytest

from isolation_fuzz import CampaignConfig, CampaignResult, run_campaign
from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.report.files import summary_of
from isolation_fuzz.report.text import format_result
from isolation_fuzz.target import TargetSpec, register_target
from tests.engine.campaign.notes import CALLS, KINDS, NOTES, REFUSED, alnum_ids, notes_app

register_target("test:notes", notes_app(NOTES))
register_target("test:notes-misroutes-usage", notes_app(NOTES, misroute="usage"))
register_target("test:notes-misroutes-debug", notes_app(NOTES, misroute="run_end"))
register_target("test:notes-strict-ids", notes_app(
    Capabilities(stores=("redis",), event_kinds=KINDS, begin_kinds=("run_begin",),
                 end_kinds=("run_end",), user_ids=alnum_ids),
    refuse=alnum_ids,
))


def _campaign(target: str, examples: int = 25) -> CampaignResult:
    return run_campaign(
        CampaignConfig(target=TargetSpec(target), max_examples=examples, seed=11, confirm=1)
    )


@pytest.mark.usefixtures("only_redis_starts")
def test_a_target_declaring_only_redis_starts_only_redis_and_draws_only_redis_calls() -> None:
    result = _campaign("test:notes")
    assert result.verdict == "clean", format_result(result)
    assert set(result.services) == {"redis", "namespace"}
    assert CALLS
    assert {call.store for call in CALLS} == {"redis"}
    # Its own event kinds, numbered its own way, raise no lifecycle alarm.
    assert result.runs.finished > 0
    assert "declared: stores redis; 5 event kinds (begin run_begin, end run_end)" in (
        format_result(result)
    )


@pytest.mark.usefixtures("only_redis_starts")
@pytest.mark.parametrize("target", ["test:notes-misroutes-usage", "test:notes-misroutes-debug"])
def test_a_misrouted_extra_kind_is_caught(target: str) -> None:
    result = _campaign(target)
    assert result.verdict == "violation", format_result(result)
    assert result.finding is not None
    assert {v.invariant for v in result.finding.violations} == {"events_reach_only_owner"}


@pytest.mark.usefixtures("only_redis_starts")
def test_a_user_id_predicate_is_honoured_and_the_dropped_ids_are_reported() -> None:
    result = _campaign("test:notes-strict-ids")
    assert REFUSED == []
    assert result.verdict == "clean", format_result(result)
    declared = result.declared
    assert declared.ids_dropped > 0
    assert 0 < declared.ids_replaced <= declared.ids_dropped
    summary = summary_of(result, "run-1", None)["declared"]
    assert summary["user_ids"] == "alnum_ids"
    assert summary["user_ids_dropped"] == declared.ids_dropped
    json.dumps(summary)
    assert f"{declared.ids_dropped} generated user id(s) dropped by its user_ids predicate" in (
        format_result(result)
    )
