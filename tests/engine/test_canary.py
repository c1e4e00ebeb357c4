"""Canaries: their shape, finding them anywhere, and attributing them to owners."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isolation_fuzz.engine import canary as canary_module
from isolation_fuzz.engine.canary import CANARY_PATTERN, CanaryRegistry, find_canaries, make_canary

numbers = st.integers(min_value=-(2**80), max_value=2**80)


def test_public_names_are_exactly_all() -> None:
    public = {n for n in vars(canary_module) if n[0] not in "_@"}
    imported = {"annotations", "re", "Any", "Final", "Iterator", "Mapping"}
    assert set(canary_module.__all__) == public - imported


@given(numbers)
def test_canary_has_a_fixed_shape_and_is_deterministic(n: int) -> None:
    c = make_canary(n)
    assert CANARY_PATTERN.fullmatch(c)
    assert len(c) == len("cnry-") + 16
    assert make_canary(n) == c
    assert make_canary(n + 2**64) == c  # taken modulo 2**64, as documented


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_distinct_numbers_below_2_64_give_distinct_canaries(a: int, b: int) -> None:
    assert (make_canary(a) == make_canary(b)) == (a == b)


def test_known_values() -> None:
    assert make_canary(0) == "cnry-0000000000000000"
    assert make_canary(255) == "cnry-00000000000000ff"
    assert make_canary(-1) == "cnry-ffffffffffffffff"


def test_found_in_keys_values_lists_and_tuples_inside_text() -> None:
    a, b, c, d = (make_canary(i) for i in (1, 2, 3, 4))
    nested = {
        f"key {a}": [1, 2.5, None, True, (f"x{b}y", {"deep": [f"{c}{d}"]})],
        "plain": "no marker here",
    }
    assert find_canaries(nested) == {a, b, c, d}


def test_numbers_and_empty_structures_hold_no_canary() -> None:
    assert find_canaries([1, 2.0, None, True, {}, [], ()]) == set()
    assert find_canaries(0xDEADBEEF) == set()
    # Near misses: wrong prefix, too few digits, upper-case hex.
    assert find_canaries(["cnry-123", "cnrx-0000000000000001", "cnry-ABCDEF0123456789"]) == set()


def test_a_canary_next_to_more_hex_is_still_found_once() -> None:
    c = make_canary(7)
    assert find_canaries(c + "ff") == {c}
    assert find_canaries([c, c, {c: c}]) == {c}


@given(st.lists(st.integers(0, 2**64 - 1), max_size=5), st.sampled_from(["list", "dict", "str"]))
def test_every_embedded_canary_is_found_after_a_json_round_trip(ns: list[int], how: str) -> None:
    marks = [make_canary(n) for n in ns]
    obj: Any
    if how == "list":
        obj = [{"v": f"{m} value"} for m in marks]
    elif how == "dict":
        obj = {m: i for i, m in enumerate(marks)}
    else:
        obj = " ".join(marks)
    assert find_canaries(json.loads(json.dumps(obj))) == set(marks)


def test_registry_knows_owners() -> None:
    reg = CanaryRegistry()
    a, b = make_canary(1), make_canary(2)
    reg.register(a, "A")
    reg.register(b, "B")
    reg.register(a, "A")  # registering again to the same owner is harmless
    assert reg.owner_of(a) == "A"
    assert reg.owner_of(b) == "B"
    assert reg.owner_of(make_canary(3)) is None
    assert len(reg) == 2
    assert reg.items() == [(a, "A"), (b, "B")]


def test_registry_refuses_a_second_owner_and_non_canaries() -> None:
    reg = CanaryRegistry()
    a = make_canary(1)
    reg.register(a, "A")
    with pytest.raises(ValueError, match="already belongs to A"):
        reg.register(a, "B")
    with pytest.raises(ValueError, match="not a canary"):
        reg.register("hello", "A")
    with pytest.raises(ValueError, match="not a canary"):
        reg.register(f"x{a}", "A")


def test_foreign_reports_only_other_owners_canaries_sorted() -> None:
    reg = CanaryRegistry()
    a, b, c = make_canary(1), make_canary(2), make_canary(3)
    reg.register(a, "A")
    reg.register(b, "B")
    reg.register(c, "C")
    seen = {"values": [c, a, f"{b} v"]}
    assert reg.foreign(seen, "A") == [(b, "B"), (c, "C")]
    assert reg.foreign(seen, "B") == [(a, "A"), (c, "C")]
    assert reg.foreign([a], "A") == []
    assert reg.foreign(make_canary(9), "A") == []  # unregistered: nobody's, so not foreign
