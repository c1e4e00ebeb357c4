"""Typed evidence: what each anomaly saw, as data apart from its explanation.

Design note.  A violation keeps its evidence as data and its sentence apart, as
Elle keeps ``->data`` apart from ``->text``: an invariant returns a frozen record
of the facts (who, which run, what was seen, what was expected), and the one line
a person reads is rendered from the violation by `isolation_fuzz.model.violation_text`.

Each evidence record is also a read-only ``Mapping`` of its fields, in field order.
That keeps the scenario file exactly as it was (``Violation.to_json`` writes
``dict(evidence)``, the same keys in the same order as the dicts these records
replaced), lets reporters and old code read ``evidence["owner"]``, and makes a
record equal to the plain dict of the same items, so a violation read back from a
file equals the one that was written.

Each class names the anomalies it explains (`Evidence.anomalies`); defining the
class registers it, so `evidence_from_json` can rebuild typed evidence from a
scenario file.  Evidence it does not know (a user's own anomaly, or a file whose
keys differ) is kept as a plain dict: loading never fails on evidence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

__all__ = [
    "BlockedRunEvidence",
    "Evidence",
    "ForeignDataEvidence",
    "ForeignEventEvidence",
    "ForgedTokenEvidence",
    "LifecycleEvidence",
    "LostWriteEvidence",
    "ReadAnomalyEvidence",
    "ResidueEvidence",
    "evidence_from_json",
]

_BY_ANOMALY: dict[str, type[Evidence]] = {}


@dataclass(frozen=True, eq=False)
class Evidence(Mapping[str, Any]):
    """Base of typed evidence: a frozen record that reads as a mapping of its fields.

    Subclass it as a frozen dataclass (``@dataclass(frozen=True, eq=False)``, so
    equality stays the mapping's) and list the anomaly names it explains in
    ``anomalies``; field order is the order of the JSON keys.
    """

    #: The anomalies (``Violation.anomaly``) whose evidence has this shape.
    anomalies: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for anomaly in cls.anomalies:
            _BY_ANOMALY[anomaly] = cls

    def __getitem__(self, key: str) -> Any:
        if key in self._names():
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self))


def evidence_from_json(anomaly: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Typed evidence for ``anomaly`` rebuilt from its JSON form, or a plain dict.

    A plain dict comes back for an anomaly with no registered evidence type, or for
    keys that do not match the type's fields (a file written by another version).
    """
    cls = _BY_ANOMALY.get(anomaly)
    if cls is None or set(data) != {f.name for f in fields(cls)}:
        return dict(data)
    return cls(**data)


@dataclass(frozen=True, eq=False)
class ForeignDataEvidence(Evidence):
    """``observer`` saw ``owner``'s ``canary`` in ``where`` at ``step``."""

    anomalies: ClassVar[tuple[str, ...]] = ("ForeignDataObserved",)

    observer: str
    owner: str
    canary: str
    where: str
    step: int


@dataclass(frozen=True, eq=False)
class ForeignEventEvidence(Evidence):
    """``receiver`` got ``event`` (its JSON form) of a run owned by ``owner`` (or nobody)."""

    anomalies: ClassVar[tuple[str, ...]] = ("ForeignEventDelivered",)

    receiver: str
    owner: str | None
    event: Mapping[str, Any]
    connection_id: str
    step: int


@dataclass(frozen=True, eq=False)
class LifecycleEvidence(Evidence):
    """What connection ``connection_id`` received of run ``run_id``, against what was due.

    ``expected`` and ``received`` are ``[kind, seq]`` pairs.
    """

    anomalies: ClassVar[tuple[str, ...]] = ("DuplicateEvent", "LostEvent", "EventsOutOfOrder")

    run_id: str
    connection_id: str
    finished_step: int
    expected: list[list[Any]]
    received: list[list[Any]]


@dataclass(frozen=True, eq=False)
class LostWriteEvidence(Evidence):
    """A recall (call ``index`` of ``run_id``) got ``got``; any of ``acceptable`` was due."""

    anomalies: ClassVar[tuple[str, ...]] = ("LostWrite",)

    run_id: str
    index: int
    store: str
    key: str | None
    expected: str | None
    acceptable: list[str | None]
    got: Any
    step: int


@dataclass(frozen=True, eq=False)
class ReadAnomalyEvidence(Evidence):
    """A read (call ``index`` of ``run_id``) that the identity's model does not explain.

    ``key`` is the key (or scratch value) in question; ``expected`` what the model
    says it should be (a value, or ``"present"`` / ``"absent"``), ``acceptable`` every
    legitimate outcome given concurrent writes, ``got`` what the read returned, and
    ``culprits`` the runs (or, for a foreign key name, the identity) to blame.
    """

    anomalies: ClassVar[tuple[str, ...]] = (
        "StaleRead",
        "DataDestroyedByAnotherIdentity",
        "DataDestroyedByAnotherRun",
        "ForeignKeyName",
    )

    run_id: str
    index: int
    tool: str
    store: str
    key: str | None
    expected: Any
    acceptable: list[Any]
    got: Any
    culprits: list[str]
    step: int


@dataclass(frozen=True, eq=False)
class ForgedTokenEvidence(Evidence):
    """A forged token of ``kind`` was accepted to ``action``; what it ``observed``."""

    anomalies: ClassVar[tuple[str, ...]] = ("ForgedTokenAccepted",)

    kind: str
    action: str
    observed: Any
    step: int


@dataclass(frozen=True, eq=False)
class ResidueEvidence(Evidence):
    """Run ``run_id`` left ``leftovers`` (request-scoped keys) in ``store`` after cleanup."""

    anomalies: ClassVar[tuple[str, ...]] = ("ResidueLeft",)

    run_id: str
    store: str
    leftovers: list[str]
    step: int


@dataclass(frozen=True, eq=False)
class BlockedRunEvidence(Evidence):
    """Run ``run_id`` reached no checkpoint within the block timeout."""

    anomalies: ClassVar[tuple[str, ...]] = ("RunBlocked",)

    run_id: str
