"""isolation-fuzz: find cross-user isolation bugs in multi-user agent backends.

Hypothesis state machines generate interleaved multi-user agent executions over
real Redis, Postgres and ClickHouse contexts, with a distinct JWT identity per
user; every event each user receives is recorded, and named invariants assert
that no user's data or events ever reach another.
"""

from __future__ import annotations

__version__ = "0.1.0"

from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.engine.reproduce import ReplayReport, export_test, replay_scenario
from isolation_fuzz.engine.scenario import Scenario, ScenarioError, load_scenario, save_scenario
from isolation_fuzz.errors import (
    AuthError,
    InfrastructureError,
    IsolationFuzzError,
    ServiceUnavailable,
    UsageError,
)
from isolation_fuzz.model import Event, Plan, ToolCall, Violation

__all__ = [
    "AuthError",
    "Event",
    "InfrastructureError",
    "IsolationFuzzError",
    "Plan",
    "ReplayReport",
    "Scenario",
    "ScenarioError",
    "ServiceUnavailable",
    "ToolCall",
    "UsageError",
    "Violation",
    "__version__",
    "checkpoint",
    "export_test",
    "load_scenario",
    "replay_scenario",
    "save_scenario",
]
