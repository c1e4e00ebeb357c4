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

It is also the face a *campaign author* sees: running a campaign or a stress run
from Python (``run_campaign``, ``CampaignConfig``, ``CampaignResult``, ``Limits``,
``run_stress``, ``StressConfig``) and replaying a saved finding (``Scenario``,
``replay_scenario``, ``export_test``...).  Those names pull in the engine, so they
are resolved lazily, on first use.  Nothing under ``isolation_fuzz.engine`` is
public: its paths may move between releases; these names will not.  The adapter
kit is :mod:`isolation_fuzz.kit`, the command :mod:`isolation_fuzz.cli`.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.checkpoint import checkpoint
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle.registry import (
    invariant,
    register_invariant,
    unregister_invariant,
)
from isolation_fuzz.errors import (
    AuthError,
    InfrastructureError,
    IsolationFuzzError,
    MissingDependency,
    Refused,
    ServiceUnavailable,
    UsageError,
)
from isolation_fuzz.model import Event, Plan, ToolCall, Violation
from isolation_fuzz.target import EventStream, Target, TargetSpec, register_target

if TYPE_CHECKING:  # the lazy names below, typed for a user's checker
    from isolation_fuzz.engine.campaign.result import CampaignResult
    from isolation_fuzz.engine.campaign.runner import CampaignConfig, run_campaign
    from isolation_fuzz.engine.example.harness import Limits
    from isolation_fuzz.engine.replay.reproduce import ReplayReport, export_test, replay_scenario
    from isolation_fuzz.engine.replay.scenario import (
        Scenario,
        ScenarioError,
        load_scenario,
        save_scenario,
    )
    from isolation_fuzz.engine.stress.runner import StressConfig, StressResult, run_stress

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "CampaignConfig",
    "CampaignResult",
    "Capabilities",
    "Event",
    "EventStream",
    "History",
    "InfrastructureError",
    "IsolationFuzzError",
    "Limits",
    "MissingDependency",
    "Plan",
    "Refused",
    "ReplayReport",
    "Scenario",
    "ScenarioError",
    "ServiceUnavailable",
    "StressConfig",
    "StressResult",
    "Target",
    "TargetSpec",
    "ToolCall",
    "UsageError",
    "Violation",
    "__version__",
    "checkpoint",
    "export_test",
    "invariant",
    "load_scenario",
    "register_invariant",
    "register_target",
    "replay_scenario",
    "run_campaign",
    "run_stress",
    "save_scenario",
    "unregister_invariant",
]

# Names that pull in the engine (anyio, hypothesis, jwt, the drivers): resolved on
# first use so that ``import isolation_fuzz`` stays cheap for a system under test.
_LAZY: dict[str, str] = {
    "CampaignConfig": "isolation_fuzz.engine.campaign.runner",
    "CampaignResult": "isolation_fuzz.engine.campaign.result",
    "Limits": "isolation_fuzz.engine.example.harness",
    "ReplayReport": "isolation_fuzz.engine.replay.reproduce",
    "Scenario": "isolation_fuzz.engine.replay.scenario",
    "ScenarioError": "isolation_fuzz.engine.replay.scenario",
    "StressConfig": "isolation_fuzz.engine.stress.runner",
    "StressResult": "isolation_fuzz.engine.stress.runner",
    "export_test": "isolation_fuzz.engine.replay.reproduce",
    "load_scenario": "isolation_fuzz.engine.replay.scenario",
    "replay_scenario": "isolation_fuzz.engine.replay.reproduce",
    "run_campaign": "isolation_fuzz.engine.campaign.runner",
    "run_stress": "isolation_fuzz.engine.stress.runner",
    "save_scenario": "isolation_fuzz.engine.replay.scenario",
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
    and n not in {"annotations", "Any", "ModuleType", "TYPE_CHECKING", "import_module"}
}
assert set(__all__) == _public | set(_LAZY) | {"__version__"}, sorted(
    set(__all__) ^ (_public | set(_LAZY) | {"__version__"})
)
del _public
