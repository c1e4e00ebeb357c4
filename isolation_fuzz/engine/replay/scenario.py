"""Scenario files: a failing case as versioned JSON that replays without Hypothesis.

Hypothesis's own replay keys hash the test's source and its blobs depend on its
version, so they break when code changes.  A scenario holds the case itself: the
target, the identities (user ids and the shape of their claims; tokens are minted
afresh on replay and never stored), the moves in order with each plan, forged
attempts and outcome, and the violations it showed, and which interleaving points
it ran with (``points``; a file without one predates automatic points and replays
with ``explicit``).  Loading is data only (JSON, validated field by field; no pickle,
no eval).

Formats: 2 (issue 13) adds the connection moves (``connect``, ``disconnect``,
``reconnect``) with the connection ids they opened and closed.  Format 1 files,
which hold none, still load and replay as they always did: every identity then
holds its log-in connection throughout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isolation_fuzz._atomic import write_atomic
from isolation_fuzz.engine.replay.shape import LIMITS, ShapeError, check_limits, check_scenario
from isolation_fuzz.engine.schedule.points import Points
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import Violation
from isolation_fuzz.target import TargetSpec

__all__ = ["FORMAT", "READABLE_FORMATS", "Scenario", "ScenarioError", "load_scenario",
           "save_scenario"]

#: The format this tool writes.
FORMAT = 2
#: The formats it reads: every earlier one is a subset of the latest (see the note).
READABLE_FORMATS = (1, 2)
_KIND = "isolation-fuzz scenario"


class ScenarioError(UsageError):
    """A scenario file that is missing, not JSON, foreign, or of an unknown format."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("isolation-fuzz")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


@dataclass(frozen=True)
class Scenario:
    """Everything needed to perform a failing case again, and what it showed."""

    target: TargetSpec
    identities: Mapping[str, str]
    moves: tuple[Move, ...]
    violations: tuple[Violation, ...]
    #: Whether the search finished shrinking it (``False``: a case saved mid-shrink).
    shrunk: bool = True
    seed: int | None = None
    #: The claims each identity's token carries besides ``sub`` (values re-minted).
    claims: Mapping[str, str] = field(
        default_factory=lambda: {"alg": "HS256", "iss": "isolation-fuzz", "aud": "agent-platform"}
    )
    tool_version: str = field(default_factory=_version)
    #: The interleaving points it was recorded with; a replay uses the same.
    points: Points = "explicit"

    @property
    def invariants(self) -> frozenset[str]:
        return frozenset(v.invariant for v in self.violations)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": _KIND,
            "tool_version": self.tool_version,
            "target": self.target.to_json(),
            "seed": self.seed,
            "shrunk": self.shrunk,
            "points": self.points,
            "claims": dict(self.claims),
            "identities": dict(self.identities),
            "moves": [move.to_json() for move in self.moves],
            "violations": [v.to_json() for v in self.violations],
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "scenario") -> Scenario:
        """Validate ``data`` and build the scenario; anything off raises :class:`ScenarioError`."""

        def bad(what: str) -> ScenarioError:
            return ScenarioError(f"{source}: {what}; is this a file isolation-fuzz wrote?")

        if not isinstance(data, dict) or data.get("kind") != _KIND:
            raise bad(f"not an isolation-fuzz scenario (kind is {_get(data, 'kind')!r})")
        if data.get("format") not in READABLE_FORMATS or isinstance(data.get("format"), bool):
            readable = " and ".join(map(str, READABLE_FORMATS))
            raise bad(f"format {data.get('format')!r} is not supported (this tool reads "
                      f"{readable})")
        try:
            check_limits(data)
            check_scenario(data)
        except ShapeError as exc:
            raise bad(str(exc)) from None
        target, identities, moves = data["target"], data["identities"], data["moves"]
        violations = data.get("violations") or []
        try:
            return cls(
                target=TargetSpec(target["name"], target.get("transport") or "local"),
                identities=dict(identities),
                moves=tuple(Move.from_json(m) for m in moves),
                violations=tuple(Violation.from_json(v) for v in violations),
                shrunk=bool(data.get("shrunk", True)),
                seed=data.get("seed"),
                claims={str(k): str(v) for k, v in dict(data.get("claims") or {}).items()},
                tool_version=str(data.get("tool_version", "unknown")),
                points=data.get("points", "explicit"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"a field has the wrong shape ({exc})") from None


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else type(data).__name__


def save_scenario(path: str | Path, scenario: Scenario) -> Path:
    """Write ``scenario`` to ``path`` atomically: a reader never sees half a file."""
    target = Path(path)
    text = json.dumps(scenario.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"
    write_atomic(target, text)
    return target


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    source = Path(path)
    try:
        size = source.stat().st_size
        if size > LIMITS["bytes"]:
            raise ScenarioError(
                f"{source}: {size} bytes is over the cap of {LIMITS['bytes']} for a scenario file"
            )
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{source}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{source}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except (RecursionError, ValueError) as exc:  # absurd nesting, a 5,000-digit number
        raise ScenarioError(f"{source}: not a scenario ({type(exc).__name__}: "
                            f"{str(exc)[:80]})") from None
    return Scenario.from_json(data, str(source))
