"""Typed evidence: a record per anomaly that reads, and writes, as the old dicts did."""

from __future__ import annotations

import json

import pytest

from isolation_fuzz import evidence
from isolation_fuzz.evidence import (
    BlockedRunEvidence,
    ForeignDataEvidence,
    LifecycleEvidence,
    evidence_from_json,
)
from isolation_fuzz.model import Violation, violation_text

LEAK = Violation(
    "no_foreign_data", "ForeignDataObserved", 4, ("A", "B"),
    "no_foreign_data violated at step 4: A ('u1') saw B ('u10')'s data X in the list",
    ForeignDataEvidence("A", "B", "X", "the list", 4),
)


def test_public_names_are_exactly_all() -> None:
    public = {n for n, v in vars(evidence).items() if not n.startswith("_")
              and getattr(v, "__module__", None) == evidence.__name__}
    assert public == set(evidence.__all__)


def test_evidence_writes_the_same_json_keys_in_the_same_order_as_the_old_dicts() -> None:
    old = {"observer": "A", "owner": "B", "canary": "X", "where": "the list", "step": 4}
    assert json.dumps(LEAK.to_json()["evidence"]) == json.dumps(old)
    assert LEAK.evidence == old
    assert LEAK.evidence["owner"] == "B"
    assert LEAK.evidence.get("nothing") is None
    with pytest.raises(KeyError):
        LEAK.evidence["nothing"]


def test_a_violation_read_back_has_typed_evidence_and_equals_the_written_one() -> None:
    again = Violation.from_json(json.loads(json.dumps(LEAK.to_json())))
    assert again == LEAK
    assert isinstance(again.evidence, ForeignDataEvidence)
    blocked = evidence_from_json("RunBlocked", {"run_id": "r1"})
    assert blocked == BlockedRunEvidence("r1")
    lost = evidence_from_json("LostEvent", {"run_id": "r1", "connection_id": "c1",
                                            "finished_step": 2, "expected": [], "received": []})
    assert isinstance(lost, LifecycleEvidence)


def test_evidence_it_does_not_know_stays_a_plain_dict() -> None:
    # A user's own anomaly, or a file whose keys differ: loading never fails on evidence.
    assert type(evidence_from_json("ThreadUsed", {"run_id": "r1"})) is dict
    odd = evidence_from_json("ForeignDataObserved", {"observer": "A"})
    assert odd == {"observer": "A"}
    assert type(odd) is dict


def test_one_function_renders_a_violation_as_text() -> None:
    assert violation_text(LEAK) == f"[no_foreign_data] ForeignDataObserved: {LEAK.message}"
