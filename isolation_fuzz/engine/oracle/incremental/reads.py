"""The incremental form of ``read_your_writes``: the read model kept as runs come and go.

Design note.  The batch invariant builds its model of every identity's writes from
all runs (:class:`isolation_fuzz.engine.oracle.reads._Model`), then judges every read of a
run that finished ok.  Here the same model is kept up to date instead
(:class:`_LiveModel`: a run's writes are added when it starts and marked definite,
with their finishing step, when it finishes), and the batch module's own judges
(``_recall``, ``_list``, ``_aggregate``, ``_scratch``) are called on it, so a read
is judged by the very code the batch oracle runs and worded by the oracle's
``_read_violation``.

A read is (re-)judged when something it depends on may have changed:

* its run finishes (ok), or the read arrives after its run finished;
* a run starts or finishes *at the step* the read's run finished (or the read was
  recorded): only then can a new run be seen by it, remove its data or clean up
  during it (reads.py: later runs can neither precede a read nor be seen by it);
* a run starts that writes a key or value the read returned *for the first time*
  (a key new to the identity and store, a value new under its key, a scratch value
  nobody kept before): whether a returned value is stale, or a listed key is this
  identity's or another's, depends on whether it was ever written, even later.  Later
  writes of a known key or value change nothing the judges read.  Reads are indexed
  by (store, returned string) for this, so the re-check stays with the reads concerned;
* a key mark a listed key carries is registered (a key's owner by its mark).

Only a hand-made history records a run's finish before its start; that changes what
precedes what for every read, so then every read is judged again.

Cost.  A read costs in proportion to its identity's writes to the keys it reads (and
for ``aggregate``, to all its keys in that store), as in the batch judge: local to the
identity and store, never the whole history.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from isolation_fuzz.engine.canary import find_canaries
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import invariants as oracle
from isolation_fuzz.engine.oracle import reads as batch
from isolation_fuzz.engine.oracle.incremental.forms import Form
from isolation_fuzz.engine.oracle.incremental.pruned import PrunedModel
from isolation_fuzz.engine.oracle.registry import CheckFunction
from isolation_fuzz.model import Record, RunFinished, RunStarted, ToolResult, Violation

__all__ = ["ReadYourWrites"]

_READS = ("recall", "list", "aggregate", "scratch")


class _LiveModel(batch._Model):
    """The batch read model, kept up to date run by run instead of built at once."""

    def __init__(self, history: History) -> None:
        # Not the batch __init__, which builds the model from every run at once.
        self.history = history
        self.memory: dict[tuple[str, str], dict[str | None, list[batch.Write]]] = {}
        self.kept: dict[str, str] = {}
        self.forgetters: dict[str, list[RunStarted]] = {}
        self.namers: dict[tuple[str, str | None], list[RunStarted]] = {}
        self._placed: dict[str, list[tuple[list[batch.Write], int]]] = {}
        self._finish_steps: list[int] = []  # finishes in order: steps never decrease
        self._finish_ids: list[str] = []
        self.pruned = PrunedModel(self)
        self._values: dict[tuple[str, str, str | None], set[str]] = {}

    def add_run(self, run: RunStarted) -> list[tuple[str | None, str]]:
        """Add ``run``'s writes, as the batch model does for each run in start order.

        Returns what an old read may have returned and now has a first write: a key
        new to its identity and store, a value new under its key, a scratch value
        nobody kept before (``(None, value)``).  Only these change an old verdict.
        """
        end = self.history.finished.get(run.run_id)
        finish, ok = (batch._NEVER, False) if end is None else (end.step, end.ok)
        placed = self._placed.setdefault(run.run_id, [])
        news: list[tuple[str | None, str]] = []
        for index, call in enumerate(run.plan):
            if call.tool == "scratch" and call.value is not None:
                if call.value not in self.kept:
                    news.append((None, call.value))
                self.kept.setdefault(call.value, run.run_id)
            if call.tool not in ("remember", "forget"):
                continue
            value = call.value if call.tool == "remember" else None
            write = batch.Write(run.run_id, index, run.step, finish, ok, call.key, value)
            keys = self.memory.setdefault((run.identity, call.store), {})
            if call.key not in keys and call.key is not None:
                news.append((call.store, call.key))
            writes = keys.setdefault(call.key, [])
            seen = self._values.setdefault((run.identity, call.store, call.key), set())
            if value is not None and value not in seen:
                seen.add(value)
                news.append((call.store, value))
            placed.append((writes, len(writes)))
            writes.append(write)
            self.pruned.add(run.identity, call.store, write)
            self.suspect(run, call)
        return news

    def finish_run(self, end: RunFinished) -> None:
        """Give a finished run's writes their finishing step and definiteness."""
        self._finish_steps.append(end.step)
        self._finish_ids.append(end.run_id)
        for writes, at in self._placed.get(end.run_id, []):
            w = writes[at]
            writes[at] = batch.Write(w.run_id, w.index, w.start, end.step, end.ok, w.key,
                                     w.value, end.run_id not in self.history.tasked)
            run = self.history.runs[end.run_id]
            self.pruned.replace(run.identity, run.plan[w.index].store, w, writes[at])

    def cleaners(self, run_id: str, since: int, until: int) -> list[RunStarted]:
        """As the batch model's, from the finishes between ``since`` and ``until`` only."""
        lo = bisect_left(self._finish_steps, since)
        hi = bisect_right(self._finish_steps, until)
        runs = self.history.runs
        return [runs[other] for other in self._finish_ids[lo:hi]
                if other != run_id and other in runs]


def _returned(result: ToolResult) -> list[tuple[str | None, str]]:
    """The (store, string) pairs a read returned that a later write could explain."""
    tool, store, got = result.call.tool, result.call.store, result.result
    if tool == "recall":
        return [(store, got)] if isinstance(got, str) else []
    if tool == "list":
        return [(store, key) for key in batch._strings(got) or []]
    if tool == "aggregate":
        return [(store, value) for value in batch._values(got) or []]
    return [(None, value) for value in batch._strings(got) or []]  # scratch: any store


class ReadYourWrites(Form):
    """``read_your_writes``, with each read re-judged only when what it reads changed."""

    def __init__(self, history: History, check: CheckFunction) -> None:
        super().__init__(history, check)
        self.model = _LiveModel(history)
        self.reads: dict[int, ToolResult] = {}
        self.by_run: dict[str, list[int]] = {}
        self.returned: dict[tuple[str | None, str], list[int]] = {}
        self.marks: dict[str, set[int]] = {}  # unregistered key mark -> list reads
        self.last_step = -1  # the latest step, and the reads judged that depend on it
        self.at_last: set[int] = set()
        self.dirty: set[int] = set()
        self.everything = False
        self.found: dict[int, list[Violation]] = {}
        self._ordered: list[Violation] | None = []
        self._registered = len(history.canaries)
        self._finished: set[str] = set()
        self.unfinished: dict[str, dict[str, int]] = {}  # identity -> its runs going on
        self.floor: dict[str, int] = {}  # identity -> the step its lists may be pruned to

    def consume(self, position: int, record: Record) -> None:
        """Update the model and mark the reads ``record`` may change."""
        if isinstance(record, ToolResult):
            if record.call.tool in _READS:
                self.reads[position] = record
                self.by_run.setdefault(record.run_id, []).append(position)
                for key in _returned(record):
                    self.returned.setdefault(key, []).append(position)
                self.dirty.add(position)
        elif isinstance(record, RunStarted):
            if record.run_id in self._finished:
                self.everything = True  # a finish before its start: see the note
            for touched in self.model.add_run(record):
                self.dirty.update(self.returned.get(touched, []))
            if record.run_id not in self._finished:
                self.unfinished.setdefault(record.identity, {})[record.run_id] = record.step
            self.dirty.update(self.by_run.get(record.run_id, []))
            self._same_step(record.step)
        elif isinstance(record, RunFinished):
            self._finished.add(record.run_id)
            owner = self.history.owner_of_run(record.run_id)
            self.unfinished.get(owner or "", {}).pop(record.run_id, None)
            self.model.finish_run(record)
            self.dirty.update(self.by_run.get(record.run_id, []))
            self._same_step(record.step)

    def _same_step(self, step: int) -> None:
        if step == self.last_step:
            self.dirty.update(self.at_last)

    def settle(self) -> None:
        """Re-judge the marked reads against the model as it now stands."""
        canaries = self.history.canaries
        if len(canaries) != self._registered and self.marks:
            for mark in [m for m in self.marks if canaries.owner_of(m) is not None]:
                self.dirty.update(self.marks.pop(mark))
        self._registered = len(canaries)
        if self.everything:
            self.everything = False
            self.dirty.update(self.reads)
        last = self.history.last_step
        if last != self.last_step:
            self.last_step, self.at_last = last, set()
        dirty, self.dirty = self.dirty, set()
        self._floors(dirty)
        for position in dirty:
            found = self._judge(position)
            if found:
                self.found[position] = found
                self._ordered = None
            elif self.found.pop(position, None) is not None:
                self._ordered = None

    def _floors(self, dirty: set[int]) -> None:
        """Per identity, the earliest start of a run going on or about to be judged."""
        self.floor = {who: next(iter(runs.values()))
                      for who, runs in self.unfinished.items() if runs}
        for position in dirty:
            run = self.history.runs.get(self.reads[position].run_id)
            if run is not None:
                floor = self.floor.get(run.identity, self.last_step)
                self.floor[run.identity] = min(floor, run.step)

    def _judge(self, position: int) -> list[Violation]:
        result = self.reads[position]
        run = self.history.runs.get(result.run_id)
        end = self.history.finished.get(result.run_id)
        if run is None or end is None or not end.ok:
            return []
        if result.step == self.last_step or end.step == self.last_step:
            self.at_last.add(position)
        tool = result.call.tool
        findings: list[batch.ReadFinding] | None = None
        if tool != "scratch":
            floor = self.floor.get(run.identity, self.last_step)
            findings = self.model.pruned.judge(run, result, floor)
        if findings is not None:
            if tool == "list":
                self._watch_marks(position, result.result)
        elif tool == "recall":
            findings = batch._recall(self.model, run, result)
        elif tool == "list":
            self._watch_marks(position, result.result)
            findings = batch._list(self.model, run, result)
        elif tool == "aggregate":
            findings = batch._aggregate(self.model, run, result)
        else:
            findings = batch._scratch(self.model, run, result)
        return [oracle._read_violation(self.history, f) for f in findings]

    def _watch_marks(self, position: int, listed: Any) -> None:
        for mark in find_canaries(batch._strings(listed) or []):
            if self.history.canaries.owner_of(mark) is None:
                self.marks.setdefault(mark, set()).add(position)

    def violations(self) -> list[Violation]:
        """Every current violation, in the order of the reads."""
        if self._ordered is None:
            self._ordered = [v for p in sorted(self.found) for v in self.found[p]]
        return self._ordered
