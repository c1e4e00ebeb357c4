"""Checking a history that keeps growing: the one interface a stress loop checks through.

Design note (issue 14).  A stress window appends records by the thousand while its
runs go on, and wants to know of a violation soon after it happens, not at the end.
It hands the records it has gathered to a :class:`Checker` every so many records or
milliseconds (:class:`CheckCadence`) and gets back the violations not reported before.

Two implementations.  :class:`IncrementalChecker`, the one stress uses, keeps the
records in a :class:`~isolation_fuzz.engine.history.History` watched by the
incremental oracle (:mod:`isolation_fuzz.engine.oracle.incremental`), so a check costs in
proportion to the records added since the last one.  :class:`BatchChecker` runs the
batch oracle (:func:`isolation_fuzz.engine.oracle.invariants.check`) over the whole history at
each call: the reference, whose cost grows with the history.  Both report the same
violations (the incremental oracle returns the batch oracle's list).  The cadence
still backs off when checks get slow (never more often than every two check
durations), so checking never takes more than about a third of the time.

Canaries are registered from the records themselves: every canary and key mark in
a started run's plan belongs to the run's identity, as it does for a replayed
scenario, so a checker needs nothing but the identities and the records.

Verdicts on reads, events and residue never change as the history grows (see the
oracle's notes), so a violation is reported once, when first seen; violations are
told apart by invariant, anomaly, step and message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from isolation_fuzz.capabilities import Capabilities
from isolation_fuzz.engine.canary import find_canaries
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.oracle.incremental.core import IncrementalOracle
from isolation_fuzz.model import Record, RunStarted, Violation

__all__ = ["BatchChecker", "CheckCadence", "Checker", "IncrementalChecker"]


class Checker(Protocol):
    """Checks a history given a batch of records at a time."""

    history: History

    def add(self, records: Iterable[Record]) -> list[Violation]:
        """Append ``records`` (steps never decrease) and return violations not seen before."""
        ...


class BatchChecker:
    """The batch oracle over the whole history at every ``add``: the reference checker.

    Args:
        identities: each identity's name and user id.
        capabilities: what the target declared (the lifecycle's event kinds).
    """

    def __init__(self, identities: Mapping[str, str], capabilities: Capabilities) -> None:
        self.history = History(capabilities)
        for name, user_id in identities.items():
            self.history.add_identity(name, user_id)
        self._seen: set[tuple[str, str, int, str]] = set()

    def add(self, records: Iterable[Record]) -> list[Violation]:
        """Append ``records`` and check every invariant; return the new violations."""
        for record in records:
            if isinstance(record, RunStarted):
                for call in record.plan:
                    for canary in find_canaries([call.key, call.value]):
                        self.history.canaries.register(canary, record.identity)
            self.history.append(record)
        return self._fresh(self._check())

    def _check(self) -> list[Violation]:
        return oracle.check(self.history)

    def _fresh(self, violations: list[Violation]) -> list[Violation]:
        """The violations not reported before (told apart by invariant, anomaly, step, text)."""
        fresh = []
        for violation in violations:
            key = (violation.invariant, violation.anomaly, violation.step, violation.message)
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(violation)
        return fresh


class IncrementalChecker(BatchChecker):
    """The incremental oracle: each ``add`` costs in proportion to the records added.

    Reports exactly what :class:`BatchChecker` reports, each violation once.

    Args:
        identities: each identity's name and user id.
        capabilities: what the target declared (the lifecycle's event kinds).
    """

    def __init__(self, identities: Mapping[str, str], capabilities: Capabilities) -> None:
        super().__init__(identities, capabilities)
        self.oracle = IncrementalOracle(self.history)

    def _check(self) -> list[Violation]:
        return self.oracle.check()


@dataclass
class CheckCadence:
    """When to hand the gathered records to the checker: every ``records`` or ``seconds``.

    A check that took ``d`` seconds holds the next one off for ``2 * d``: a batch
    checker over a long history must not eat the window it checks.
    """

    records: int = 2000
    seconds: float = 0.25
    _last: float = field(default_factory=time.monotonic)
    _hold: float = 0.0

    def due(self, pending: int) -> bool:
        """Whether ``pending`` gathered records should be checked now."""
        if pending == 0:
            return False
        waited = time.monotonic() - self._last
        if waited < self._hold:
            return False
        return pending >= self.records or waited >= self.seconds

    def checked(self, took: float) -> None:
        """Note that a check just ended after ``took`` seconds."""
        self._last = time.monotonic()
        self._hold = 2 * took
