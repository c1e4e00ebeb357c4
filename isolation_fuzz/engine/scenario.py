"""Scenario files: a failing case as versioned JSON that replays without Hypothesis.

Hypothesis's own replay keys hash the test's source and its blobs depend on its
version, so they break when code changes.  A scenario holds the case itself: the
target, the identities (user ids and the shape of their claims; tokens are minted
afresh on replay and never stored), the moves in order with each plan, forged
attempts and outcome, and the violations it showed.  Loading is data only (JSON,
validated field by field; no pickle, no eval).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from isolation_fuzz._atomic import write_atomic
from isolation_fuzz.engine.trace import Move, MoveKind
from isolation_fuzz.errors import UsageError
from isolation_fuzz.model import Violation
from isolation_fuzz.target import TargetSpec

__all__ = ["FORMAT", "Scenario", "ScenarioError", "load_scenario", "save_scenario"]

FORMAT = 1
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
        if data.get("format") != FORMAT:
            raise bad(f"format {data.get('format')!r} is not supported (this tool reads {FORMAT})")
        target = data.get("target")
        if not isinstance(target, dict) or not isinstance(target.get("name"), str):
            raise bad(f"'target' must be an object with a name, got {target!r}")
        identities = data.get("identities")
        if (
            not isinstance(identities, dict)
            or len(identities) < 1
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in identities.items())
        ):
            raise bad("'identities' must map identity names to user ids")
        moves = data.get("moves")
        if not isinstance(moves, list) or not all(isinstance(m, dict) for m in moves):
            raise bad("'moves' must be a list of objects")
        kinds = set(get_args(MoveKind))
        for index, move in enumerate(moves):
            if move.get("kind") not in kinds or not isinstance(move.get("step"), int):
                raise bad(
                    f"move {index} has kind {move.get('kind')!r} (or no step); "
                    f"expected one of {sorted(kinds)}"
                )
            named = move.get("identity")
            if named is not None and named not in identities:
                raise bad(f"move {index} names identity {named!r}, which is not in 'identities'")
        violations = data.get("violations", [])
        if not isinstance(violations, list):
            raise bad("'violations' must be a list")
        try:
            return cls(
                target=TargetSpec(target["name"], str(target.get("transport", "local"))),
                identities=dict(identities),
                moves=tuple(Move.from_json(m) for m in moves),
                violations=tuple(Violation.from_json(v) for v in violations),
                shrunk=bool(data.get("shrunk", True)),
                seed=data.get("seed") if isinstance(data.get("seed"), int) else None,
                claims={str(k): str(v) for k, v in dict(data.get("claims") or {}).items()},
                tool_version=str(data.get("tool_version", "unknown")),
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
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{source}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{source}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return Scenario.from_json(data, str(source))
