"""The shape of a scenario file, checked field by field before anything is built from it.

A scenario file comes from outside: a colleague's laptop, a CI artifact, a hand edit.
Whatever it holds, loading it must end in a scenario or in one line that names the
field at fault (``moves[3].plan[0].store``) and what was expected; never in a
traceback, and never in a replay that quietly does something else (a wrongly typed
field that replays as "NOT REPRODUCED (fixed?)" would pass a release gate).

Two passes, both pure:

1. :func:`check_limits` walks the raw JSON once and enforces the stated caps
   (nesting depth, number size, string length, list length), so that the second
   pass, and everything after it, works on data of a bounded size.
2. :func:`check_scenario` checks each field the loader reads: type, allowed values,
   and cross-references (a move's identity must be one of the file's identities).

Errors are :class:`ShapeError` with the field path; the loader turns them into its
own one-line :class:`~isolation_fuzz.engine.replay.scenario.ScenarioError`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from typing import Any, Final

from isolation_fuzz.engine.schedule.points import POINTS_MODES
from isolation_fuzz.model import STORES, TOOLS, VALUED_TOOLS

__all__ = ["LIMITS", "ShapeError", "check_limits", "check_scenario", "check_user_id"]

#: The caps a scenario file must respect; a real one is far inside every one of them.
LIMITS: Final = {
    "bytes": 16 * 1024 * 1024,
    "depth": 24,
    "integer": 2**53,
    "string": 100_000,
    "list": 10_000,
    "identities": 8,
    "moves": 10_000,
    "plan": 64,
    "user_id": 256,
}

#: Identity names in the order the engine logs identities in (``A`` first).
IDENTITY_NAMES: Final = "ABCDEFGH"
MOVE_KINDS: Final = (
    "start_run", "step", "finish", "look", "forge", "connect", "disconnect", "reconnect",
)
#: The connection moves, which scenario format 2 brought (issue 13).
CONNECTION_KINDS: Final = ("connect", "disconnect", "reconnect")
TRANSPORTS: Final = ("local", "websocket")
FORGE_ACTIONS: Final = ("run", "connect")


class ShapeError(ValueError):
    """One field of a scenario file is not what the loader can use."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path or 'the file'}: {problem}")


def check_limits(data: Any, path: str = "", depth: int = 0) -> None:
    """Raise :class:`ShapeError` where ``data`` passes a cap of :data:`LIMITS`."""
    if depth > LIMITS["depth"]:
        raise ShapeError(path, f"nested deeper than {LIMITS['depth']} levels")
    if isinstance(data, bool) or data is None:
        return
    if isinstance(data, int):
        if abs(data) > LIMITS["integer"]:
            raise ShapeError(path, f"a number of {data.bit_length()} bits is larger than 2**53")
    elif isinstance(data, float):
        if data != data or abs(data) == float("inf"):
            raise ShapeError(path, f"number {data!r} is not finite")
    elif isinstance(data, str):
        if len(data) > LIMITS["string"]:
            raise ShapeError(path, f"a string of {len(data)} characters is over the cap "
                                   f"of {LIMITS['string']}")
    elif isinstance(data, list):
        if len(data) > LIMITS["list"]:
            raise ShapeError(path, f"a list of {len(data)} items is over the cap of "
                                   f"{LIMITS['list']}")
        for index, item in enumerate(data):
            check_limits(item, f"{path}[{index}]", depth + 1)
    elif isinstance(data, dict):
        if len(data) > LIMITS["list"]:
            raise ShapeError(path, f"an object of {len(data)} fields is over the cap")
        for key, value in data.items():
            check_limits(value, f"{path}.{key}" if path else str(key), depth + 1)


def check_user_id(user_id: Any, path: str) -> None:
    """A user id the engine can mint a token for: a non-blank string of printable text."""
    if not isinstance(user_id, str):
        raise ShapeError(path, f"a user id must be a string, got {_short(user_id)}")
    if not user_id.strip():
        raise ShapeError(path, f"user id {user_id!r} is blank")
    if len(user_id) > LIMITS["user_id"]:
        raise ShapeError(path, f"user id of {len(user_id)} characters is over the cap of "
                               f"{LIMITS['user_id']}")
    bad = [c for c in user_id if unicodedata.category(c) in ("Cc", "Cs")]
    if bad:
        raise ShapeError(path, f"user id {user_id!r} holds a control or surrogate character")


def check_scenario(data: Any) -> None:
    """Raise :class:`ShapeError` for the first field of ``data`` the loader cannot use."""
    _expect(data, dict, "")
    _field(data, "tool_version", str, optional=True)
    target = _field(data, "target", dict)
    _field(target, "name", str, path="target")
    _choice(target, "transport", TRANSPORTS, path="target", optional=True)
    seed = _field(data, "seed", int, optional=True)
    if seed is not None and isinstance(seed, bool):
        raise ShapeError("seed", "must be an integer or null, got a boolean")
    _field(data, "shrunk", bool, optional=True)
    _choice(data, "points", POINTS_MODES, path="", optional=True)
    claims = _field(data, "claims", dict, optional=True) or {}
    for key, value in claims.items():
        _expect(value, str, f"claims.{key}")

    identities = _field(data, "identities", dict)
    names = list(identities)
    if not 1 <= len(names) <= LIMITS["identities"]:
        raise ShapeError("identities", f"holds {len(names)} identities; a scenario has 1 "
                                       f"to {LIMITS['identities']}")
    expected = list(IDENTITY_NAMES[: len(names)])
    if sorted(names) != expected:
        raise ShapeError("identities", f"names {sorted(names)} must be {expected} (identities "
                                       "are named A, B, ... in the order they log in)")
    for name, user_id in identities.items():
        check_user_id(user_id, f"identities.{name}")

    moves = _field(data, "moves", list)
    if len(moves) > LIMITS["moves"]:
        raise ShapeError("moves", f"{len(moves)} moves is over the cap of {LIMITS['moves']}")
    for index, move in enumerate(moves):
        _check_move(move, f"moves[{index}]", names)
        if data.get("format") == 1 and move.get("kind") in CONNECTION_KINDS:
            raise ShapeError(f"moves[{index}].kind", f"is {move['kind']!r}, a connection "
                                                     "move, which format 1 files cannot hold")

    violations = _field(data, "violations", list, optional=True) or []
    for index, violation in enumerate(violations):
        here = f"violations[{index}]"
        _expect(violation, dict, here)
        for name in ("invariant", "anomaly", "message"):
            _field(violation, name, str, path=here)
        _field(violation, "step", int, path=here)
        for position, who in enumerate(_field(violation, "identities", list, path=here)):
            _expect(who, str, f"{here}.identities[{position}]")
        _field(violation, "evidence", dict, path=here, optional=True)


def _check_move(move: Any, here: str, names: Collection[str]) -> None:
    _expect(move, dict, here)
    step = _field(move, "step", int, path=here)
    if isinstance(step, bool) or step < 0:
        raise ShapeError(f"{here}.step", f"must be a step number (0 or more), got {step!r}")
    kind = _choice(move, "kind", MOVE_KINDS, path=here)
    identity = _field(move, "identity", str, path=here, optional=kind == "step" or
                      kind == "finish")
    if identity is not None and identity not in names:
        raise ShapeError(f"{here}.identity", f"names identity {identity!r}, which is not one "
                                             f"of the file's identities {sorted(names)}")
    for name in ("run_id", "thread_id", "connection_id", "outcome"):
        _field(move, name, str, path=here, optional=True)
    if kind in ("step", "finish", "start_run"):
        _field(move, "run_id", str, path=here)
    extra = _field(move, "extra", dict, path=here, optional=True) or {}
    if kind in CONNECTION_KINDS:
        _field(move, "connection_id", str, path=here)
    if kind == "reconnect":
        _field(extra, "opened", str, path=f"{here}.extra")
    victim = extra.get("victim")
    if victim is not None and victim not in names:
        raise ShapeError(f"{here}.extra.victim", f"names identity {victim!r}, which is not "
                                                 f"one of the file's identities")
    if kind == "forge":
        from isolation_fuzz.tokens import FORGERY_KINDS

        _choice(move, "forgery", FORGERY_KINDS, path=here)
        _choice(move, "action", FORGE_ACTIONS, path=here, optional=True)
    plan = _field(move, "plan", list, path=here, optional=True) or []
    if len(plan) > LIMITS["plan"]:
        raise ShapeError(f"{here}.plan", f"{len(plan)} tool calls is over the cap of "
                                         f"{LIMITS['plan']}")
    for position, call in enumerate(plan):
        where = f"{here}.plan[{position}]"
        _expect(call, dict, where)
        tool = _choice(call, "tool", TOOLS, path=where)
        _choice(call, "store", STORES, path=where)
        _field(call, "key", str, path=where, optional=tool not in ("remember", "recall",
                                                                   "forget"))
        _field(call, "value", str, path=where, optional=tool not in VALUED_TOOLS)


def _field(
    data: dict[str, Any], name: str, kind: type, *, path: str = "", optional: bool = False
) -> Any:
    here = f"{path}.{name}" if path else name
    if name not in data or data[name] is None:
        if optional:
            return None
        raise ShapeError(here, f"is missing; expected {_kind_name(kind)}")
    value = data[name]
    _expect(value, kind, here)
    return value


def _choice(
    data: dict[str, Any], name: str, allowed: Collection[str], *, path: str = "",
    optional: bool = False,
) -> Any:
    value = _field(data, name, str, path=path, optional=optional)
    if value is not None and value not in allowed:
        here = f"{path}.{name}" if path else name
        raise ShapeError(here, f"is {value!r}; expected one of {sorted(allowed)}")
    return value


def _expect(value: Any, kind: type, here: str) -> None:
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ShapeError(here, f"expected {_kind_name(kind)}, got {_short(value)}")


_KIND_NAMES: dict[type, str] = {
    dict: "an object", list: "a list", str: "a string", int: "an integer", bool: "true or false",
}


def _kind_name(kind: type) -> str:
    return _KIND_NAMES.get(kind, kind.__name__)


def _short(value: Any) -> str:
    text = f"of {value.bit_length()} bits" if isinstance(value, int) else repr(value)
    name = type(value).__name__ if value is not None else "null"
    return f"{name} {text[:40]}{'...' if len(text) > 40 else ''}"
