"""The public face: what a target author imports, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import isolation_fuzz

HEAVY = ("anyio", "hypothesis", "jwt", "redis", "asyncpg", "clickhouse_connect", "websockets")


def test_importing_the_package_loads_no_engine_and_no_driver() -> None:
    # A fresh interpreter: this test process has long since imported everything.
    code = (
        "import sys, isolation_fuzz\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""


def test_the_check_would_see_a_heavy_import() -> None:
    code = (
        "import sys, isolation_fuzz, isolation_fuzz.engine.campaign.runner\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "hypothesis" in done.stdout


def test_all_lists_exactly_what_a_target_author_needs() -> None:
    assert set(isolation_fuzz.__all__) >= {
        "checkpoint", "Target", "EventStream", "register_target", "Event", "ToolCall", "Plan",
        "IsolationFuzzError", "UsageError", "InfrastructureError", "AuthError",
    }
    for name in isolation_fuzz.__all__:
        assert getattr(isolation_fuzz, name) is not None


def test_replay_names_are_reached_lazily() -> None:
    from isolation_fuzz.engine.replay import reproduce, scenario

    assert isolation_fuzz.replay_scenario is reproduce.replay_scenario
    assert isolation_fuzz.load_scenario is scenario.load_scenario


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = isolation_fuzz.no_such_name  # type: ignore[attr-defined]
