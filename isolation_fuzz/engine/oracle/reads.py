"""The read model: what an identity's own writes say each of its reads must return.

Design note (issue 13).  ``read_your_writes`` used to check ``recall`` alone and
exempted any recall raced by the same identity.  Now the oracle keeps, per identity
and store, a model built from that identity's own writes (``remember`` sets a key,
``forget`` clears it) and checks every read against it: ``recall`` (one key),
``list`` (which keys are live), ``aggregate`` (which values are live) and
``scratch`` (the values the run itself kept in its request-scoped scratch).

Concurrency is allowed for as Jepsen's register checkers do, with each operation's
invoke and complete steps: a run's operations happen somewhere between the step that
started it (``RunStarted``) and the step that recorded its results (``RunFinished``),
and in plan order among themselves, unless the run started tasks (issue 19: a
fire-and-forget write lands when its task runs, and the run's end is recorded when
its last task ends): then its own later calls may miss its earlier writes.  For a
read ``r`` and one key:

* a write ``w`` *may* be seen by ``r`` if it may have happened before ``r``
  completed: an earlier call of ``r``'s own run, or any call of a run that started
  no later than ``r``'s run finished;
* ``w`` *precedes* ``r`` for certain if it is an earlier call of the same run, or its
  run finished before ``r``'s run started;
* a write is *definite* if it happened for certain: its run finished ok (a failed
  run may have stopped before any of its calls), or it is an earlier call of the
  reading run itself;
* a write ``w`` is *superseded* if a definite write ``w2`` has ``w`` precede ``w2``
  and ``w2`` precede ``r``: then ``r`` cannot see ``w``.

The legitimate values are those of every write that may be seen and is not
superseded, and "absent" if no definite write precedes ``r``.  A read outside them
names its anomaly: ``StaleRead`` (a value or key the identity had overwritten or
forgotten), ``LostWrite`` (a live value missing, or a value nobody of this identity
wrote there), ``DataDestroyedByAnotherIdentity`` / ``DataDestroyedByAnotherRun``
(missing while another identity's, or another run's, operation that could remove it
ran: a forget on that store, or for scratch, a cleanup, which every run does at its
end) and ``ForeignKeyName`` (a key name marked by another identity).  No canary in
the value is needed: stale caches, lost writes and cross-user deletion all show.

The verdict on a read never changes as the history grows (later runs can neither
precede it nor be seen by it), so checking after every step reports a read once,
at the step its run finished.

Results are judged only in the shapes the contract gives them (``list``: a list of
key names; ``aggregate``: ``{"values": [...]}`` or a list of values; ``scratch``:
a list of values); a target's result of another shape is not judged here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from isolation_fuzz.engine.canary import find_canaries, is_key_mark
from isolation_fuzz.engine.history import History
from isolation_fuzz.model import RunStarted, ToolCall, ToolResult

__all__ = ["ReadFinding", "Write", "read_findings"]

_NEVER = sys.maxsize  # the finishing step of a run that has not finished


@dataclass(frozen=True)
class Write:
    """One write (``remember``, or ``forget`` as ``value=None``) or kept scratch value."""

    run_id: str
    index: int
    start: int
    end: int
    definite: bool
    key: str | None
    value: str | None
    #: False when its run started tasks (issue 19): a background write may land after
    #: the run's later calls, so plan order says nothing of when it happened.
    ordered: bool = True


@dataclass(frozen=True)
class ReadFinding:
    """One read the model does not explain, as data (the oracle words it).

    Attributes:
        anomaly: what went wrong (see the module's note).
        result: the read.
        identity: who read.
        key: the key (or, for scratch, the kept value) in question.
        expected: the value due, or ``"present"`` / ``"absent"`` for a key.
        acceptable: every legitimate outcome for it.
        got: what the read returned for it (the whole result for a missing item).
        culprits: the runs that may have destroyed it, or the owner of a foreign key.
    """

    anomaly: str
    result: ToolResult
    identity: str
    key: str | None
    expected: Any
    acceptable: list[Any]
    got: Any
    culprits: tuple[str, ...] = ()


class _Model:
    """The writes of every identity, indexed per (identity, space) and key.

    A space is where a target keeps an identity's data (issue 20): a store, for data
    kept per user (the default); a store and a thread, for data kept per thread (a
    conversation's memory); a store and a run, for data kept per run.  A read agrees
    with the identity's own writes in its own space, and with nothing else.
    """

    def __init__(self, history: History) -> None:
        self.history = history
        self.scope = history.capabilities.data_scope
        self.memory: dict[tuple[str, str], dict[str | None, list[Write]]] = {}
        self.kept: dict[str, str] = {}  # kept scratch value -> the run that kept it
        self.forgetters: dict[str, list[RunStarted]] = {}  # store -> runs that forget there
        # (store, key name) -> runs that remember or forget that name there
        self.namers: dict[tuple[str, str | None], list[RunStarted]] = {}
        for run in history.runs.values():
            end = history.finished.get(run.run_id)
            finish, ok = (_NEVER, False) if end is None else (end.step, end.ok)
            for index, call in enumerate(run.plan):
                if call.tool == "scratch" and call.value is not None:
                    self.kept.setdefault(call.value, run.run_id)
                if call.tool not in ("remember", "forget"):
                    continue
                value = call.value if call.tool == "remember" else None
                write = Write(run.run_id, index, run.step, finish, ok, call.key, value,
                              run.run_id not in history.tasked)
                keys = self.memory.setdefault((run.identity, self.space(run, call.store)), {})
                keys.setdefault(call.key, []).append(write)
                self.suspect(run, call)

    def suspect(self, run: RunStarted, call: ToolCall) -> None:
        """Note ``run`` as one that may remove data: it forgets, or writes a key name.

        A write of a key name can remove another identity's key of the same name only
        where a system forgets the owner (an upsert deleting by name): such names are
        the shared ones (``isolation_fuzz.strategies.plans.SHARED_KEYS``), as the marked differ.
        """
        space = self.space(run, call.store)
        if call.tool == "forget":
            mine = self.forgetters.setdefault(space, [])
            if not mine or mine[-1] is not run:
                mine.append(run)
        named = self.namers.setdefault((space, call.key), [])
        if not named or named[-1] is not run:
            named.append(run)

    def space(self, run: RunStarted, store: str) -> str:
        """Where ``run``'s data on ``store`` lives, for the declared scope."""
        if self.scope == "thread":
            return f"{store}\0thread {run.thread_id}"
        if self.scope == "run":
            return f"{store}\0run {run.run_id}"
        return store

    def span(self, run_id: str) -> tuple[int, int]:
        start = self.history.runs[run_id].step
        end = self.history.finished.get(run_id)
        return start, _NEVER if end is None else end.step

    def legitimate(
        self, writes: list[Write], run_id: str, index: int
    ) -> tuple[str | None, list[str | None], Write | None]:
        """What call ``index`` of ``run_id`` may read of one key: (expected, acceptable, due).

        ``due`` is the write whose value is expected (None when absence is).
        """
        start, end = self.span(run_id)

        def precedes(w: Write, other_run: str, other_index: int, other_start: int) -> bool:
            if w.run_id == other_run:
                return w.ordered and w.index < other_index
            return w.end < other_start

        seen = [w for w in writes
                if (w.index < index if w.run_id == run_id else w.start <= end)]
        before = [w for w in seen if (w.definite or (w.run_id == run_id and w.ordered))
                  and precedes(w, run_id, index, start)]
        live = [w for w in seen
                if not any(precedes(w, w2.run_id, w2.index, w2.start) for w2 in before)]
        due = max(
            (w for w in live if w in before),
            key=lambda w: (w.run_id == run_id, w.end, w.start, w.index),
            default=None,
        )
        expected = None if due is None else due.value
        acceptable: list[str | None] = [expected]
        for value in [w.value for w in live] + ([None] if not before else []):
            if value not in acceptable:
                acceptable.append(value)
        return expected, acceptable, due

    def destroyers(
        self, identity: str, store: str, since: int, until: int, key: str | None = None
    ) -> list[RunStarted]:
        """Runs that may have removed ``identity``'s ``key`` on ``store`` in ``[since, until]``:
        those that forget there, and other identities' that wrote or forgot that name."""
        runs = list(self.forgetters.get(store, []))
        if key is not None:
            runs += [r for r in self.namers.get((store, key), [])
                     if r.identity != identity and r not in runs]
        return [run for run in runs
                if run.step <= until and self.span(run.run_id)[1] >= since]

    def cleaners(self, run_id: str, since: int, until: int) -> list[RunStarted]:
        """Runs other than ``run_id`` that ended (and so cleaned up) in ``[since, until]``."""
        return [
            self.history.runs[other] for other, end in self.history.finished.items()
            if other != run_id and other in self.history.runs and since <= end.step <= until
        ]


def _missing(identity: str, runs: list[RunStarted], own: str) -> tuple[str, tuple[str, ...]]:
    """The anomaly for data gone missing while ``runs`` could have removed it."""
    culprits = tuple(r.run_id for r in runs)
    if any(r.identity != identity for r in runs):
        return "DataDestroyedByAnotherIdentity", culprits
    if any(r.run_id != own for r in runs):
        return "DataDestroyedByAnotherRun", culprits
    return "LostWrite", ()


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _values(result: Any) -> list[str] | None:
    if isinstance(result, Mapping):
        return _strings(result.get("values"))
    return _strings(result)


def read_findings(history: History) -> list[ReadFinding]:
    """Every read of a run that finished ok which the identity's model does not explain."""
    model = _Model(history)
    out: list[ReadFinding] = []
    for result in history.of_type(ToolResult):
        run = history.runs.get(result.run_id)
        end = history.finished.get(result.run_id)
        if run is None or end is None or not end.ok:
            continue
        tool = result.call.tool
        if tool == "recall":
            out += _recall(model, run, result)
        elif tool == "list":
            out += _list(model, run, result)
        elif tool == "aggregate":
            out += _aggregate(model, run, result)
        elif tool == "scratch":
            out += _scratch(model, run, result)
    return out


def _gone(model: _Model, run: RunStarted, result: ToolResult, due: Write | None,
          key: str | None) -> tuple[str, tuple[str, ...]]:
    since = due.start if due is not None else run.step
    suspects = model.destroyers(run.identity, model.space(run, result.call.store), since,
                                result.step, key)
    return _missing(run.identity, [r for r in suspects if r.identity != run.identity],
                    run.run_id)


def _recall(model: _Model, run: RunStarted, result: ToolResult) -> list[ReadFinding]:
    call = result.call
    writes = model.memory.get((run.identity, model.space(run, call.store)), {}).get(call.key, [])
    expected, acceptable, due = model.legitimate(writes, run.run_id, result.index)
    got = result.result
    if any(got == value for value in acceptable):
        return []
    culprits: tuple[str, ...] = ()
    if got is not None and any(w.value == got for w in writes):
        anomaly = "StaleRead"
    elif got is None:
        anomaly, culprits = _gone(model, run, result, due, call.key)
    else:
        anomaly = "LostWrite"
    return [ReadFinding(anomaly, result, run.identity, call.key, expected, acceptable, got,
                        culprits)]


def _list(model: _Model, run: RunStarted, result: ToolResult) -> list[ReadFinding]:
    listed = _strings(result.result)
    if listed is None:
        return []
    store = model.space(run, result.call.store)
    mine = model.memory.get((run.identity, store), {})
    out = []
    for key in listed:
        if key in mine:
            _, acceptable, _ = model.legitimate(mine[key], run.run_id, result.index)
            if all(value is None for value in acceptable):
                out.append(ReadFinding("StaleRead", result, run.identity, key, "absent",
                                       ["absent"], key))
            continue
        owner = _key_owner(model, run.identity, store, key)
        if owner is not None:
            out.append(ReadFinding("ForeignKeyName", result, run.identity, key, "absent",
                                   ["absent"], key, (owner,)))
    for name, writes in mine.items():
        if name is None or name in listed:
            continue
        _, acceptable, due = model.legitimate(writes, run.run_id, result.index)
        if None not in acceptable:
            anomaly, culprits = _gone(model, run, result, due, name)
            out.append(ReadFinding(anomaly, result, run.identity, name, "present",
                                   ["present"], listed, culprits))
    return out


def _key_owner(model: _Model, identity: str, store: str, key: str) -> str | None:
    """Another identity a key name belongs to: by its mark, else by who wrote it."""
    for mark in sorted(find_canaries(key)):
        owner = model.history.canaries.owner_of(mark)
        if is_key_mark(mark) and owner is not None:
            return owner if owner != identity else None
    for (who, where), keys in model.memory.items():
        if who != identity and where == store and key in keys:
            return who
    return None


def _aggregate(model: _Model, run: RunStarted, result: ToolResult) -> list[ReadFinding]:
    values = _values(result.result)
    if values is None:
        return []
    mine = model.memory.get((run.identity, model.space(run, result.call.store)), {})
    written = {w.value: key for key, writes in mine.items() for w in writes if w.value}
    out = []
    for key, writes in mine.items():
        expected, acceptable, due = model.legitimate(writes, run.run_id, result.index)
        stale = [v for v in values if written.get(v, object()) == key and v not in acceptable]
        for value in stale:
            out.append(ReadFinding("StaleRead", result, run.identity, key, expected,
                                   acceptable, value))
        # A stale value in place of the live one is one anomaly, reported once.
        if not stale and None not in acceptable and not any(v in values for v in acceptable):
            anomaly, culprits = _gone(model, run, result, due, key)
            out.append(ReadFinding(anomaly, result, run.identity, key, expected, acceptable,
                                   values, culprits))
    return out


def _scratch(model: _Model, run: RunStarted, result: ToolResult) -> list[ReadFinding]:
    got = _strings(result.result)
    if got is None:
        return []
    store = result.call.store
    kept = [c.value for c in run.plan[: result.index + 1]
            if c.tool == "scratch" and c.store == store]
    out = []
    for value in kept:
        if value not in got:
            cleaners = model.cleaners(run.run_id, run.step, result.step)
            anomaly, culprits = _missing(run.identity, cleaners, run.run_id)
            out.append(ReadFinding(anomaly, result, run.identity, value, "present", kept,
                                   got, culprits))
    for value in got:
        other = model.kept.get(value)
        if value not in kept and other is not None and other != run.run_id \
                and model.history.owner_of_run(other) == run.identity:
            out.append(ReadFinding("StaleRead", result, run.identity, value, "absent", kept,
                                   value, (other,)))
    return out
