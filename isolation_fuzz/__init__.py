"""isolation-fuzz: find cross-user isolation bugs in multi-user agent backends.

Hypothesis state machines generate interleaved multi-user agent executions over
real Redis, Postgres and ClickHouse contexts, with a distinct JWT identity per
user; every event each user receives is recorded, and named invariants assert
that no user's data or events ever reach another.

This module is the face a *target author* sees: what a system under test needs to
be fuzzed (``checkpoint``, the ``Target`` and ``EventStream`` protocols,
``register_target``, the ``Capabilities`` it may declare, the records it consumes
and emits, and the errors), and what an invariant of one's own needs
(``invariant``, ``History``, ``Violation``).  It is cheap on purpose: importing it
loads none of anyio, hypothesis, jwt or the drivers, so a production module may
import ``checkpoint`` at no cost (``tests/test_public_api.py`` holds it to that).

Everything else has a floor of its own, imported when needed:

* ``isolation_fuzz.engine.campaign``: ``run_campaign`` and its configuration;
* ``isolation_fuzz.engine.reproduce``: ``replay_scenario``, ``export_test``;
* ``isolation_fuzz.engine.scenario``: ``Scenario``, ``load_scenario``, ``save_scenario``;
* ``isolation_fuzz.cli``: the ``isolation-fuzz`` command.

The replay names above are also reachable from here, lazily, for scripts written
against the first version.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.invariants import invariant, register_invariant
from isolation_fuzz.errors import (
    AuthError,
    InfrastructureError,
    IsolationFuzzError,
    MissingDependency,
    ServiceUnavailable,
    UsageError,
)
from isolation_fuzz.model import Event, Plan, ToolCall, Violation
from isolation_fuzz.target import EventStream, Target, TargetSpec, register_target

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "Capabilities",
    "Event",
    "EventStream",
    "History",
    "InfrastructureError",
    "IsolationFuzzError",
    "MissingDependency",
    "Plan",
    "ServiceUnavailable",
    "Target",
    "TargetSpec",
    "ToolCall",
    "UsageError",
    "Violation",
    "__version__",
    "checkpoint",
    "invariant",
    "register_invariant",
    "register_target",
]

# Names that pull in the engine (anyio, hypothesis, jwt, the drivers): resolved on
# first use so that ``import isolation_fuzz`` stays cheap for a system under test.
_LAZY: dict[str, str] = {
    "ReplayReport": "isolation_fuzz.engine.reproduce",
    "export_test": "isolation_fuzz.engine.reproduce",
    "replay_scenario": "isolation_fuzz.engine.reproduce",
    "Scenario": "isolation_fuzz.engine.scenario",
    "ScenarioError": "isolation_fuzz.engine.scenario",
    "load_scenario": "isolation_fuzz.engine.scenario",
    "save_scenario": "isolation_fuzz.engine.scenario",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'isolation_fuzz' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


# The public surface checks itself, as Hypothesis's ``strategies/__init__.py`` does:
# every name imported above is listed, and nothing else is.  (Submodules bind
# themselves as attributes when imported; they are floors, not names.)
_public = {
    n for n, v in globals().items()
    if n[0] not in "_@" and not isinstance(v, ModuleType)  # "@": pytest's rewriting
    and n not in {"annotations", "Any", "ModuleType", "import_module"}
}
assert set(__all__) == _public | {"__version__"}, sorted(set(__all__) ^ _public)
del _public
