"""The incremental form of ``complete_lifecycle``: one (run, connection) pair at a time.

Design note.  The batch invariant judges every run that finished ok against every
connection of its owner that was open during it (see
:func:`isolation_fuzz.engine.oracle.invariants.complete_lifecycle`).  A pair's verdict reads
only the run's start and finish, the connection's latest open and first close, and
the run's deliveries on that connection, so this form keeps exactly those, indexed,
and re-judges a pair when one of them changes:

* the run finishes (every connection its owner has opened), or starts after its
  finish was recorded (only a hand-made history does that);
* an event of a finished run arrives on the connection (a late duplicate);
* the connection opens, or first closes, at the step a run of its owner finished at
  (only such runs can change: every other run of the owner finished before it);
* a connection id is opened again (only a hand-made history does that): every
  finished run of the old and the new identity, on that connection;
* with per-connection routing, a pair also reads which of the owner's connections
  the run started through (see :func:`isolation_fuzz.engine.oracle.lifecycle.origin`);
  that is settled by records that precede the run's finish in a live history;
* once a run's start was recorded after its finish (only a hand-made history does
  that: the run then "ends" before it starts), a connection's open or close may
  concern any finished run of its identity, so every one is re-judged on it.

A pair is judged by running the batch function over a
:class:`~isolation_fuzz.engine.oracle.incremental.view.HistoryView` holding just that pair's
records, so the verdict, text and evidence come from the batch code.  Violations are
ordered as the batch function orders them: by step, then by the order runs finished,
then by the order connections first opened.
"""

from __future__ import annotations

from bisect import insort

from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import lifecycle
from isolation_fuzz.engine.oracle.incremental.forms import Form
from isolation_fuzz.engine.oracle.incremental.view import HistoryView
from isolation_fuzz.engine.oracle.registry import CheckFunction
from isolation_fuzz.model import (
    ConnectionClosed,
    ConnectionOpened,
    EventDelivered,
    Record,
    RunFinished,
    RunStarted,
    Violation,
)

__all__ = ["Lifecycle"]


class Lifecycle(Form):
    """``complete_lifecycle``, re-judged per (run, connection) pair as records arrive."""

    def __init__(self, history: History, check: CheckFunction) -> None:
        super().__init__(history, check)
        self.opened: dict[str, ConnectionOpened] = {}  # latest open; order: first open
        self.closed: dict[str, ConnectionClosed] = {}  # first close
        self.order: dict[str, int] = {}  # connection -> rank of its first open
        self.connections_of: dict[str, list[tuple[int, str]]] = {}  # identity -> (rank, id)
        self.received: dict[tuple[str, str], list[EventDelivered]] = {}
        self.finish_rank: dict[str, int] = {}  # run -> rank of its finish
        self.owner: dict[str, str] = {}  # started run -> identity
        self.finished_of: dict[str, list[str]] = {}  # identity -> its finished runs
        self.last_step = -1  # the step of the latest finish, and who finished then
        self.last_finishers: list[str] = []
        self.disordered = False  # a run started after its finish was recorded
        self.dirty: set[tuple[str, str]] = set()
        self.found: dict[tuple[str, str], Violation] = {}
        self._ordered: list[Violation] | None = []

    def consume(self, position: int, record: Record) -> None:
        """Index ``record`` and mark the pairs whose verdict it may change."""
        if isinstance(record, EventDelivered):
            key = (record.connection_id, record.event.run_id)
            self.received.setdefault(key, []).append(record)
            if record.event.run_id in self.finish_rank:
                self.dirty.add((record.event.run_id, record.connection_id))
        elif isinstance(record, RunStarted):
            self.owner[record.run_id] = record.identity
            if record.run_id in self.finish_rank:
                self.disordered = True
                self._finished(record.run_id)
        elif isinstance(record, RunFinished):
            self.finish_rank[record.run_id] = len(self.finish_rank)
            if record.step != self.last_step:
                self.last_step, self.last_finishers = record.step, []
            self.last_finishers.append(record.run_id)
            if record.run_id in self.owner:
                self._finished(record.run_id)
        elif isinstance(record, ConnectionOpened):
            self._opened(record)
        elif isinstance(record, ConnectionClosed):
            cid = record.connection_id
            if cid not in self.closed:
                self.closed[cid] = record
                conn = self.opened.get(cid)
                if conn is not None and (record.step == self.last_step or self.disordered):
                    self._touch_last(conn.identity, cid)

    def _finished(self, run_id: str) -> None:
        identity = self.owner[run_id]
        self.finished_of.setdefault(identity, []).append(run_id)
        for _, cid in self.connections_of.get(identity, []):
            self.dirty.add((run_id, cid))

    def _touch_last(self, identity: str, cid: str) -> None:
        if self.disordered:
            self.dirty.update((run_id, cid) for run_id in self.finished_of.get(identity, []))
            return
        for run_id in self.last_finishers:
            if self.owner.get(run_id) == identity:
                self.dirty.add((run_id, cid))

    def _opened(self, record: ConnectionOpened) -> None:
        cid = record.connection_id
        before = self.opened.get(cid)
        self.opened[cid] = record
        if before is None:
            self.order[cid] = len(self.order)
            self.connections_of.setdefault(record.identity, []).append((self.order[cid], cid))
            if record.step == self.last_step or self.disordered:
                self._touch_last(record.identity, cid)
            return
        # The same id opened again: its open step (and maybe its identity) changed.
        entry = (self.order[cid], cid)
        if before.identity != record.identity:
            self.connections_of[before.identity].remove(entry)
            insort(self.connections_of.setdefault(record.identity, []), entry)
        for identity in {before.identity, record.identity}:
            for run_id in self.finished_of.get(identity, []):
                self.dirty.add((run_id, cid))

    def settle(self) -> None:
        """Re-judge the marked pairs with the batch function over each pair's records."""
        dirty, self.dirty = self.dirty, set()
        for run_id, cid in dirty:
            found = self._judge(run_id, cid)
            if found is not None:
                self.found[(run_id, cid)] = found
                self._ordered = None
            elif self.found.pop((run_id, cid), None) is not None:
                self._ordered = None

    def _judge(self, run_id: str, cid: str) -> Violation | None:
        start = self.history.runs.get(run_id)
        end = self.history.finished.get(run_id)
        conn = self.opened.get(cid)
        if start is None or end is None or not end.ok or conn is None:
            return None
        records: list[Record] = [conn]
        if cid in self.closed:
            records.append(self.closed[cid])
        origin = self._origin(start) if self.history.capabilities.event_routing == \
            "connection" else None
        if origin is not None and origin != cid:
            # Per-connection routing: which connection started the run decides what
            # this one owes, so the view holds the origin too (its verdict is its own).
            # In the order they first opened: the batch function reads "newest" from it.
            records.insert(0 if self.order[origin] < self.order[cid] else 1,
                           self.opened[origin])
            if origin in self.closed:
                records.append(self.closed[origin])
        records += self.received.get((cid, run_id), [])
        view = HistoryView(self.history, records, runs={run_id: start},
                           finished={run_id: end})
        found = [v for v in self.check(view)
                 if getattr(v.evidence, "connection_id", cid) == cid]
        return found[0] if found else None

    def _origin(self, start: RunStarted) -> str | None:
        mine = {c: self.opened[c] for _, c in self.connections_of.get(start.identity, [])}
        return lifecycle.origin(start, mine, {c: r.step for c, r in self.closed.items()})

    def violations(self) -> list[Violation]:
        """Every current violation: by step, then finish order, then first-open order."""
        if self._ordered is None:
            ranked = sorted(
                self.found.items(),
                key=lambda kv: (kv[1].step, self.finish_rank[kv[0][0]], self.order[kv[0][1]]),
            )
            self._ordered = [v for _, v in ranked]
        return self._ordered
