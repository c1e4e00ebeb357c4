"""Scenario files from outside: every bad field is named, and nothing bad gets through."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from isolation_fuzz.engine.replay.shape import (
    LIMITS,
    ShapeError,
    check_limits,
    check_scenario,
)


def good() -> dict[str, Any]:
    return {
        "format": 1,
        "kind": "isolation-fuzz scenario",
        "tool_version": "0.1.0",
        "target": {"name": "reference", "transport": "local"},
        "seed": 3,
        "shrunk": True,
        "claims": {"alg": "HS256"},
        "identities": {"A": "u1", "B": "u10"},
        "moves": [
            {"step": 1, "kind": "start_run", "identity": "A", "run_id": "r1", "thread_id": "t1",
             "plan": [{"tool": "remember", "store": "redis", "key": "k", "value": "v"}],
             "outcome": "paused at emit"},
            {"step": 2, "kind": "step", "identity": "A", "run_id": "r1"},
            {"step": 3, "kind": "forge", "identity": "B", "forgery": "alg_none",
             "action": "run", "extra": {"victim": "A"}},
        ],
        "violations": [{"invariant": "no_foreign_data", "anomaly": "ForeignDataObserved",
                        "step": 2, "identities": ["A", "B"], "message": "m", "evidence": {}}],
    }


def test_a_good_file_passes() -> None:
    check_limits(good())
    check_scenario(good())


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        here = data
        for part in path[:-1]:
            here = here[part]
        here[path[-1]] = value
    return change


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        here = data
        for part in path[:-1]:
            here = here[part]
        del here[path[-1]]
    return change


BAD: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("target not an object", _set(("target",), "reference"), "target"),
    ("target without name", _drop(("target", "name")), "target.name"),
    ("target name a number", _set(("target", "name"), 7), "target.name"),
    ("unknown transport", _set(("target", "transport"), "carrier-pigeon"), "target.transport"),
    ("seed a string", _set(("seed",), "3"), "seed"),
    ("seed a boolean", _set(("seed",), True), "seed"),
    ("shrunk a string", _set(("shrunk",), "yes"), "shrunk"),
    ("claims a list", _set(("claims",), ["HS256"]), "claims"),
    ("claim value a number", _set(("claims", "alg"), 256), "claims.alg"),
    ("identities a list", _set(("identities",), ["u1"]), "identities"),
    ("no identities", _set(("identities",), {}), "identities"),
    ("too many identities", _set(("identities",), {c: c for c in "ABCDEFGHI"}), "identities"),
    ("identity names skip one", _set(("identities",), {"A": "u1", "C": "u3"}), "identities"),
    ("lower-case identity name", _set(("identities",), {"a": "u1"}), "identities"),
    ("null user id", _set(("identities", "A"), None), "identities.A"),
    ("numeric user id", _set(("identities", "A"), 1), "identities.A"),
    ("blank user id", _set(("identities", "A"), "  "), "identities.A"),
    ("control character in user id", _set(("identities", "A"), "u\x00"), "identities.A"),
    ("surrogate in user id", _set(("identities", "A"), "u\ud800"), "identities.A"),
    ("huge user id", _set(("identities", "A"), "u" * 300), "identities.A"),
    ("moves an object", _set(("moves",), {}), "moves"),
    ("move a string", _set(("moves", 0), "start"), "moves[0]"),
    ("move without step", _drop(("moves", 0, "step")), "moves[0].step"),
    ("negative step", _set(("moves", 0, "step"), -1), "moves[0].step"),
    ("float step", _set(("moves", 0, "step"), 1.5), "moves[0].step"),
    ("unknown move kind", _set(("moves", 0, "kind"), "teleport"), "moves[0].kind"),
    ("disconnect without its connection", _set(("moves", 0, "kind"), "disconnect"),
     "moves[0].connection_id"),
    ("unknown identity in move", _set(("moves", 0, "identity"), "Z"), "moves[0].identity"),
    ("identity a list", _set(("moves", 0, "identity"), ["A"]), "moves[0].identity"),
    ("start without run id", _drop(("moves", 0, "run_id")), "moves[0].run_id"),
    ("run id a number", _set(("moves", 0, "run_id"), 1), "moves[0].run_id"),
    ("thread id a number", _set(("moves", 0, "thread_id"), 1), "moves[0].thread_id"),
    ("outcome a list", _set(("moves", 0, "outcome"), []), "moves[0].outcome"),
    ("plan an object", _set(("moves", 0, "plan"), {}), "moves[0].plan"),
    ("call a string", _set(("moves", 0, "plan", 0), "remember"), "moves[0].plan[0]"),
    ("unknown tool", _set(("moves", 0, "plan", 0, "tool"), "rm -rf"), "moves[0].plan[0].tool"),
    ("unknown store", _set(("moves", 0, "plan", 0, "store"), "mongo"), "moves[0].plan[0].store"),
    ("remember without key", _drop(("moves", 0, "plan", 0, "key")), "moves[0].plan[0].key"),
    ("remember without value", _drop(("moves", 0, "plan", 0, "value")),
     "moves[0].plan[0].value"),
    ("key a number", _set(("moves", 0, "plan", 0, "key"), 5), "moves[0].plan[0].key"),
    ("too long a plan", _set(("moves", 0, "plan"), [{"tool": "list", "store": "redis"}] * 65),
     "moves[0].plan"),
    ("step without run id", _drop(("moves", 1, "run_id")), "moves[1].run_id"),
    ("unknown forgery", _set(("moves", 2, "forgery"), "bribery"), "moves[2].forgery"),
    ("forge without forgery", _drop(("moves", 2, "forgery")), "moves[2].forgery"),
    ("unknown forge action", _set(("moves", 2, "action"), "delete"), "moves[2].action"),
    ("unknown victim", _set(("moves", 2, "extra", "victim"), "Q"), "moves[2].extra.victim"),
    ("extra a list", _set(("moves", 2, "extra"), []), "moves[2].extra"),
    ("violations an object", _set(("violations",), {}), "violations"),
    ("violation a string", _set(("violations", 0), "bad"), "violations[0]"),
    ("violation without invariant", _drop(("violations", 0, "invariant")),
     "violations[0].invariant"),
    ("violation step a string", _set(("violations", 0, "step"), "2"), "violations[0].step"),
    ("violation identities a string", _set(("violations", 0, "identities"), "AB"),
     "violations[0].identities"),
    ("violation identity a number", _set(("violations", 0, "identities", 0), 1),
     "violations[0].identities[0]"),
    ("evidence a list", _set(("violations", 0, "evidence"), []), "violations[0].evidence"),
]


@pytest.mark.parametrize(("why", "change", "path"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_field_is_named_by_its_path(
    why: str, change: Callable[[dict[str, Any]], None], path: str
) -> None:
    data = copy.deepcopy(good())
    change(data)
    check_limits(data)  # every case is a field, not a cap
    with pytest.raises(ShapeError) as caught:
        check_scenario(data)
    assert caught.value.path == path
    assert "\n" not in str(caught.value)


def _nest(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (_nest(LIMITS["depth"] + 5), "nested deeper"),
        (2**64, r"larger than 2\*\*53"),
        (-(2**80), r"larger than 2\*\*53"),
        (float("nan"), "not finite"),
        ("x" * (LIMITS["string"] + 1), "over the cap"),
        (list(range(LIMITS["list"] + 1)), "over the cap"),
    ],
    ids=["deep", "big", "big negative", "nan", "long string", "long list"],
)
def test_the_caps_hold_anywhere_in_the_file(value: Any, problem: str) -> None:
    data = good()
    data["moves"][0]["extra"] = {"note": value}
    with pytest.raises(ShapeError, match=problem) as caught:
        check_limits(data)
    assert caught.value.path.startswith("moves[0].extra.note")
