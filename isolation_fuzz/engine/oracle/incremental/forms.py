"""Incremental forms of the per-record invariants, and the interface every form follows.

Design note.  A *form* keeps one invariant's state over a growing history.  The oracle
hands it each new record once (:meth:`Form.consume`, which only notes what the
record touches), then asks it to re-judge what was touched against the history as
it now stands (:meth:`Form.settle`), then for its violations (:meth:`Form.violations`:
the whole current list, in the order the batch function returns them).  Consuming
first and judging after means a verdict never sees a half-appended batch: a run
started later in the same batch counts, as it does for the batch oracle.

Five invariants judge each record on its own: ``no_foreign_data`` (tool results,
events, forged attempts), ``events_reach_only_owner`` (deliveries),
``rejects_bad_tokens``, ``no_residue`` and ``runs_make_progress``.  :class:`PerRecord`
keeps their violations per record position and judges a record by running the batch
function over a :class:`~isolation_fuzz.engine.oracle.incremental.view.HistoryView` of that
record alone, so both paths word a violation with the same code.  A cheap test
(:meth:`PerRecord.suspect`) skips the view for the common clean record.

Two verdicts can change after the record arrived, and are kept pending, locally:

* an observation holding a marker nobody registered yet is foreign once another
  identity registers it (a canary written by a later run; a leftover of an earlier
  example): :class:`ForeignData` keeps such observations under their markers;
* a delivery of a run not started yet is foreign until that run starts, by its owner:
  :class:`EventRouting` keeps such deliveries under their run.
"""

from __future__ import annotations

from typing import Any

from isolation_fuzz.engine.canary import find_canaries
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle.incremental.view import HistoryView
from isolation_fuzz.engine.oracle.registry import CheckFunction
from isolation_fuzz.model import (
    EventDelivered,
    ForgedAttempt,
    Record,
    ResidueProbed,
    RunBlocked,
    RunStarted,
    ToolResult,
    Violation,
)

__all__ = ["EventRouting", "ForeignData", "Form", "PerRecord"]


class Form:
    """One invariant's incremental state over one history (see the module's note).

    Attributes:
        seen: how many of the history's records this form has consumed.
    """

    def __init__(self, history: History, check: CheckFunction) -> None:
        self.history = history
        self.check = check
        self.seen = 0

    def advance(self) -> list[Violation]:
        """Consume the records added since the last call, re-judge, return the violations."""
        entries = self.history.entries
        for position in range(self.seen, len(entries)):
            self.consume(position, entries[position])
        self.seen = len(entries)
        self.settle()
        return self.violations()

    def consume(self, position: int, record: Record) -> None:
        """Note what ``record`` (at ``position``) touches; judging waits for `settle`."""

    def settle(self) -> None:
        """Re-judge everything touched since the last call, against the history as it is."""

    def violations(self) -> list[Violation]:
        """Every current violation, in the batch function's order."""
        return []


class PerRecord(Form):
    """An invariant judged record by record: the batch function over a one-record view.

    Args:
        history: the growing history.
        check: the batch function.
        kinds: the record types it judges (others never yield a violation).
    """

    def __init__(self, history: History, check: CheckFunction,
                 kinds: tuple[type[Any], ...]) -> None:
        super().__init__(history, check)
        self.kinds = kinds
        self.found: dict[int, list[Violation]] = {}
        self.dirty: list[int] = []
        self._ordered: list[Violation] | None = []

    def consume(self, position: int, record: Record) -> None:
        """Mark a record of the judged kinds for `settle`."""
        if isinstance(record, self.kinds):
            self.dirty.append(position)

    def settle(self) -> None:
        """Judge the marked records."""
        dirty, self.dirty = self.dirty, []
        for position in dirty:
            record = self.history.entries[position]
            if self.suspect(position, record):
                self.judge(position, record)
            elif self.found.pop(position, None) is not None:
                self._ordered = None

    def judge(self, position: int, record: Record) -> None:
        """Run the batch function over ``record`` alone and keep what it finds."""
        found = list(self.check(HistoryView(self.history, [record])))
        if found:
            self.found[position] = found
            self._ordered = None
        elif self.found.pop(position, None) is not None:
            self._ordered = None

    def suspect(self, position: int, record: Record) -> bool:
        """Whether ``record`` may violate the invariant (False: certainly clean)."""
        return True

    def violations(self) -> list[Violation]:
        """Every kept violation, in record order."""
        if self._ordered is None:
            self._ordered = [v for p in sorted(self.found) for v in self.found[p]]
        return self._ordered


def _observed(record: Record) -> Any:
    """What an identity could see in ``record`` (as ``oracle._observations`` reads it)."""
    if isinstance(record, ToolResult):
        return record.result
    if isinstance(record, EventDelivered):
        return record.event.payload
    if isinstance(record, ForgedAttempt):
        return record.observed
    return None


class ForeignData(PerRecord):
    """``no_foreign_data``: observations, with unregistered markers kept pending."""

    def __init__(self, history: History, check: CheckFunction) -> None:
        super().__init__(history, check, (ToolResult, EventDelivered, ForgedAttempt))
        self.pending: dict[str, set[int]] = {}
        self._registered = len(history.canaries)

    def settle(self) -> None:
        """Re-judge observations whose markers were registered since, then the new ones."""
        if len(self.history.canaries) != self._registered and self.pending:
            for marker in [m for m in self.pending
                           if self.history.canaries.owner_of(m) is not None]:
                self.dirty += self.pending.pop(marker)
        self._registered = len(self.history.canaries)
        super().settle()

    def suspect(self, position: int, record: Record) -> bool:
        """Holds a marker of someone other than the observer (unregistered: pending)."""
        observer = getattr(record, "identity", None)
        foreign = False
        for marker in find_canaries(_observed(record)):
            owner = self.history.canaries.owner_of(marker)
            if owner is None:
                self.pending.setdefault(marker, set()).add(position)
            elif owner != observer:
                foreign = True
        return foreign


class EventRouting(PerRecord):
    """``events_reach_only_owner``: deliveries, those of unknown runs kept pending."""

    def __init__(self, history: History, check: CheckFunction) -> None:
        super().__init__(history, check, (EventDelivered, RunStarted))
        self.pending: dict[str, list[int]] = {}

    def consume(self, position: int, record: Record) -> None:
        """Mark deliveries; a run's start re-marks its deliveries that came before it."""
        if isinstance(record, RunStarted):
            self.dirty += self.pending.pop(record.run_id, [])
        elif isinstance(record, EventDelivered):
            self.dirty.append(position)

    def suspect(self, position: int, record: Record) -> bool:
        """Not an event of the receiver's own run addressed to the receiver's user id."""
        assert isinstance(record, EventDelivered)
        event = record.event
        owner = self.history.owner_of_run(event.run_id)
        if owner is None:
            self.pending.setdefault(event.run_id, []).append(position)
            return True
        return not (owner == record.identity
                    and event.user_id == self.history.user_id(record.identity))


def plain(kind: type[Any]) -> type[PerRecord]:
    """A per-record form judging records of ``kind`` (rare ones: no cheap pre-test)."""

    class Plain(PerRecord):
        def __init__(self, history: History, check: CheckFunction) -> None:
            super().__init__(history, check, (kind,))

    Plain.__name__ = Plain.__qualname__ = f"Plain{kind.__name__}"
    return Plain


#: The forms of the invariants over forged attempts, residue probes and blocked runs.
PLAIN_FORMS: dict[str, type[PerRecord]] = {
    "rejects_bad_tokens": plain(ForgedAttempt),
    "no_residue": plain(ResidueProbed),
    "runs_make_progress": plain(RunBlocked),
}
