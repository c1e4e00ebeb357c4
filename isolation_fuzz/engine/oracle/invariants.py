"""The oracle: the invariants of isolation, as plain functions over a history.

Each invariant is named for the property that must hold and returns the
violations it finds, each naming the anomaly (what went wrong), the identities
involved, the step and structured evidence.  They read only the history, never
the target, so they can be checked after every step of a live example and again
over a replayed scenario.  ``check`` runs after every step on histories of about a
hundred records, so each invariant is one pass over the records plus work per run.

Messages are one sentence each, naming the invariant, the identities with their
user ids, the step and what leaked where.  Records never hold tokens, so neither
can a message built from them.  Evidence is typed (`isolation_fuzz.evidence`).

Each invariant is registered with `isolation_fuzz.engine.oracle.registry.invariant`, in
report order; ``holds_when`` is the line the README's table shows.  ``check`` runs
every registered invariant, the user's included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from isolation_fuzz.display import show_id
from isolation_fuzz.engine.canary import is_key_mark
from isolation_fuzz.engine.history import History
from isolation_fuzz.engine.oracle import lifecycle, reads
from isolation_fuzz.engine.oracle.lifecycle import expected_kinds
from isolation_fuzz.engine.oracle.registry import (
    CheckFunction,
    check_all,
    invariant,
    registered_invariants,
)
from isolation_fuzz.errors import InvariantCrashed
from isolation_fuzz.evidence import (
    BlockedRunEvidence,
    ForeignDataEvidence,
    ForeignEventEvidence,
    ForgedTokenEvidence,
    LifecycleEvidence,
    LostWriteEvidence,
    ReadAnomalyEvidence,
    ResidueEvidence,
)
from isolation_fuzz.model import (
    EventDelivered,
    ForgedAttempt,
    ResidueProbed,
    RunBlocked,
    RunFinished,
    RunStarted,
    ToolResult,
    Violation,
)

__all__ = [
    "INVARIANTS",
    "check",
    "complete_lifecycle",
    "events_reach_only_owner",
    "expected_kinds",
    "no_foreign_data",
    "no_residue",
    "read_your_writes",
    "rejects_bad_tokens",
    "runs_make_progress",
]


def _who(history: History, name: str) -> str:
    # Identities are short names; messages add the user id, since adversarial ids
    # (``u1`` next to ``u10``) are usually the point of the story.
    # Escaped when not plain ASCII: NFC and NFD twins must not print alike (issue 13).
    return f"{name} ({show_id(history.identities.get(name, '?'))})"


def _observations(history: History) -> Iterator[tuple[int, str, str, Any]]:
    """(step, observer, where, what) for everything an identity could see."""
    for record in history.entries:
        if isinstance(record, ToolResult):
            where = (
                f"tool result of run {record.run_id} call {record.index} "
                f"{record.call.describe()}"
            )
            yield record.step, record.identity, where, record.result
        elif isinstance(record, EventDelivered):
            event = record.event
            where = f"event {event.kind} of run {event.run_id} on connection {record.connection_id}"
            yield record.step, record.identity, where, event.payload
        elif isinstance(record, ForgedAttempt):
            # Scanned even when rejected: a rejection that still hands back data leaks.
            where = f"what a forged {record.kind} token returned on {record.action}"
            yield record.step, record.identity, where, record.observed


@invariant(holds_when="nothing an identity observes carries another identity's canary "
           "(in a value, or a key name's mark)")
def no_foreign_data(history: History) -> list[Violation]:
    """Nothing an identity observes carries a canary owned by another identity."""
    out = []
    for step, observer, where, what in _observations(history):
        for canary, owner in history.canaries.foreign(what, observer):
            # A key mark is on a key name (issue 13): a name leaked, not necessarily a value.
            seen = f"key name marked {canary}" if is_key_mark(canary) else f"data {canary}"
            out.append(Violation(
                "no_foreign_data", "ForeignDataObserved", step, (observer, owner),
                f"no_foreign_data violated at step {step}: {_who(history, observer)} saw "
                f"{_who(history, owner)}'s {seen} in the {where}",
                ForeignDataEvidence(observer, owner, canary, where, step),
            ))
    return out


@invariant(holds_when="every event on a connection belongs to one of its identity's runs")
def events_reach_only_owner(history: History) -> list[Violation]:
    """Every event on an identity's connection belongs to one of its own runs.

    Checked per delivery, so it also means none of a run's events reach anyone else.
    An event of the receiver's own run that names another user id is foreign too: it
    says the platform routed it by something other than the user.
    """
    by_user = {user_id: name for name, user_id in history.identities.items()}
    out = []
    for record in history.of_type(EventDelivered):
        event = record.event
        owner = history.owner_of_run(event.run_id)
        if owner == record.identity and event.user_id == history.user_id(record.identity):
            continue
        # Name everyone whose event it may be: the run's owner and the user id's holder.
        involved = tuple(dict.fromkeys(
            n for n in (record.identity, owner, by_user.get(event.user_id)) if n is not None
        ))
        whose = "no known run" if owner is None else f"a run of {_who(history, owner)}"
        out.append(Violation(
            "events_reach_only_owner", "ForeignEventDelivered", record.step, involved,
            f"events_reach_only_owner violated at step {record.step}: "
            f"{_who(history, record.identity)} received event {event.kind} of run "
            f"{event.run_id} ({whose}, addressed to user {show_id(event.user_id)}) on connection "
            f"{record.connection_id}",
            ForeignEventEvidence(
                record.identity, owner, event.to_json(), record.connection_id, record.step
            ),
        ))
    return out


@invariant(holds_when="a finished run's events reach its owner once, in order")
def complete_lifecycle(history: History) -> list[Violation]:
    """Each finished run's events reach each of its owner's connections once, in order.

    Only runs that finished ok are checked.  A connection of the owner is open for
    the run's whole life when it opened at an earlier step than the run started and
    did not close by the step the run finished (a reconnect is a close and an open in
    one step); each such connection must receive the whole lifecycle, exactly once, in
    order.  Any other connection of the owner that was open at some step of the run
    (opened mid-run, or closed, by a disconnect or reconnect, before or in the
    finishing step, since events are collected after each step) legitimately misses
    some events, so it is only held to receiving none twice (issue 13).  Events
    arriving after the finish still count, so a late duplicate is caught at the step
    it arrives.

    Only the event kinds the target declared are judged, by the rules of
    :mod:`isolation_fuzz.engine.oracle.lifecycle` (exact for the reference platform's five
    kinds; begin first and end last for a target's own kinds); events of other kinds
    are left to ``events_reach_only_owner`` and ``no_foreign_data``.

    A target that routes per connection (``event_routing = "connection"``, a run's
    events going only to the tab that started it) owes the whole lifecycle to one
    connection only: the owner's newest connection open when the run started, the
    one the target runs through.  The owner's other connections are held to no
    repeat, like a connection open for part of the run.
    """
    opened, closed, received = lifecycle.connection_log(history.entries)
    per_connection = history.capabilities.event_routing == "connection"
    out = []
    for run_id, end in history.finished.items():
        start = history.runs.get(run_id)
        if not end.ok or start is None:
            continue
        origin = lifecycle.origin(start, opened, closed) if per_connection else None
        for connection_id, conn in opened.items():
            shut = closed.get(connection_id, end.step + 1)
            if conn.identity != start.identity or conn.step > end.step or shut < start.step:
                continue
            whole_life = conn.step < start.step and shut > end.step
            if per_connection and connection_id != origin:
                whole_life = False
            violation = _lifecycle_violation(history, run_id, start, end, connection_id,
                                             whole_life, received.get((connection_id, run_id), []))
            if violation is not None:
                out.append(violation)
    return sorted(out, key=lambda v: v.step)


def _lifecycle_violation(
    history: History, run_id: str, start: RunStarted, end: RunFinished, connection_id: str,
    whole_life: bool, deliveries: list[tuple[str, int, int]],
) -> Violation | None:
    """Judge one owner's connection on one finished run: whole lifecycle, or no repeat."""
    pairs = [(k, s) for k, s, _ in deliveries]
    if whole_life:
        fault = lifecycle.judge(history.capabilities, len(start.plan), pairs)
    else:
        fault = lifecycle.judge_partial(history.capabilities, pairs)
    if fault is None:
        return None
    step = max([end.step, *(s for _, _, s in deliveries)])
    shown = ", ".join(f"{k}#{s}" for k, s in fault.received) or "nothing"
    return Violation(
        "complete_lifecycle", fault.anomaly, step, (start.identity,),
        f"complete_lifecycle violated at step {step}: run {run_id} of "
        f"{_who(history, start.identity)} finished at step {end.step} with "
        f"{fault.due}, but connection {connection_id} received {shown} "
        f"({fault.detail})",
        LifecycleEvidence(run_id, connection_id, end.step, fault.expected, fault.received),
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@invariant(holds_when="every read (recall, list, aggregate, a run's own scratch) agrees with "
           "the identity's own writes")
def read_your_writes(history: History) -> list[Violation]:
    """Every read agrees with the reading identity's model of its own writes.

    The model (:mod:`isolation_fuzz.engine.oracle.reads`) is kept per identity and store from
    the identity's own remembers and forgets, and the values each run keeps in its own
    scratch; a read may reflect any of the identity's writes that overlapped it.  A
    read it does not explain is a violation naming its anomaly: ``StaleRead``,
    ``LostWrite``, ``DataDestroyedByAnotherIdentity`` (or ``...AnotherRun``) or
    ``ForeignKeyName``.  Only reads of runs that finished ok are checked.
    """
    return [_read_violation(history, f) for f in reads.read_findings(history)]


def _what_culprits_did(history: History, f: reads.ReadFinding) -> str:
    """``forgot on S`` or ``wrote 'k' on S``: what the suspects did (not "forgot" of a writer)."""
    store = f.result.call.store
    did = []
    for run_id in f.culprits:
        run = history.runs.get(run_id)
        calls = run.plan if run is not None else ()
        if any(c.tool == "forget" and c.store == store for c in calls):
            did.append(f"forgot on {store}")
        else:
            did.append(f"wrote {f.key!r} on {store}")
    return " or ".join(dict.fromkeys(did))


def _read_violation(history: History, f: reads.ReadFinding) -> Violation:
    r, call = f.result, f.result.call
    who = _who(history, f.identity)
    head = f"read_your_writes violated at step {r.step}: {who}"
    where = f"in run {r.run_id} call {r.index}"
    wrote = _short(f.expected) if len(f.acceptable) == 1 else (
        "one of " + ", ".join(_short(v) for v in f.acceptable)
    )
    blame = ""
    if f.culprits and f.anomaly.startswith("DataDestroyed"):
        owners = ", ".join(dict.fromkeys(
            _who(history, history.owner_of_run(c) or "?") for c in f.culprits
        ))
        verb = "cleaned up" if call.tool == "scratch" else _what_culprits_did(history, f)
        blame = f"; meanwhile run(s) {', '.join(f.culprits)} of {owners} {verb}"
    if call.tool == "recall":
        text = (f"recalled {f.key!r} from {call.store} {where} and got {_short(f.got)}, but "
                f"had last written {wrote}")
        if f.anomaly == "StaleRead":
            text += ": a value it had already overwritten or forgotten"
    elif call.tool == "scratch":
        if f.anomaly == "StaleRead":
            text = (f"read back its scratch on {call.store} {where} and got {_short(f.key)}, "
                    f"kept by its earlier run {f.culprits[0]}, not this one")
        else:
            text = (f"read back its scratch on {call.store} {where} and {_short(f.key)}, kept "
                    f"earlier in the run, was missing (got {_short(f.got)})")
    elif f.anomaly == "ForeignKeyName":
        text = (f"{'listed' if call.tool == 'list' else 'read'} {call.store} {where} and got "
                f"the key name {f.key!r} of {_who(history, f.culprits[0])}")
    elif f.anomaly == "StaleRead":
        got = f"the key {f.key!r}" if call.tool == "list" else _short(f.got)
        text = (f"{_PAST[call.tool]} {call.store} {where} and got {got}, which it had "
                f"overwritten or forgotten (expected {wrote} under {f.key!r})")
    else:
        what = f"the key {f.key!r}" if call.tool == "list" else f"{wrote} (under {f.key!r})"
        text = (f"{_PAST[call.tool]} {call.store} {where} and {what} was missing, though it had "
                f"written it (got {_short(f.got)})")
    if f.anomaly == "LostWrite" and call.tool in ("recall", "aggregate", "list"):
        evidence: Any = LostWriteEvidence(r.run_id, r.index, call.store, f.key, f.expected,
                                          f.acceptable, f.got, r.step)
    else:
        evidence = ReadAnomalyEvidence(r.run_id, r.index, call.tool, call.store, f.key,
                                       f.expected, f.acceptable, f.got, list(f.culprits),
                                       r.step)
    return Violation("read_your_writes", f.anomaly, r.step, _involved(history, f),
                     head + " " + text + blame, evidence)


_PAST = {"list": "listed", "aggregate": "aggregated"}


def _involved(history: History, f: reads.ReadFinding) -> tuple[str, ...]:
    others = [c if f.anomaly == "ForeignKeyName" else history.owner_of_run(c)
              for c in f.culprits]
    return tuple(dict.fromkeys([f.identity, *(o for o in others if o is not None)]))


@invariant(
    holds_when="forged, tampered, expired, wrong-audience or `alg: none` tokens open nothing"
)
def rejects_bad_tokens(history: History) -> list[Violation]:
    """A forged token opens nothing, runs nothing, sees nothing."""
    return [
        Violation(
            "rejects_bad_tokens", "ForgedTokenAccepted", r.step, (r.identity,),
            f"rejects_bad_tokens violated at step {r.step}: a forged token ({r.kind}) "
            f"presented by {_who(history, r.identity)} was accepted to {r.action}",
            ForgedTokenEvidence(r.kind, r.action, r.observed, r.step),
        )
        for r in history.of_type(ForgedAttempt)
        if r.accepted
    ]


@invariant(holds_when="after cleanup, a run's request-scoped data is gone")
def no_residue(history: History) -> list[Violation]:
    """After cleanup, a run's request-scoped data is gone."""
    return [
        Violation(
            "no_residue", "ResidueLeft", r.step, (r.identity,),
            f"no_residue violated at step {r.step}: run {r.run_id} of "
            f"{_who(history, r.identity)} left {len(r.leftovers)} request-scoped "
            f"entr{'y' if len(r.leftovers) == 1 else 'ies'} in {r.store} after cleanup",
            ResidueEvidence(r.run_id, r.store, list(r.leftovers), r.step),
        )
        for r in history.of_type(ResidueProbed)
        if r.leftovers
    ]


@invariant(holds_when="every run reaches its next checkpoint or its end within the block timeout")
def runs_make_progress(history: History) -> list[Violation]:
    """Every run reaches its next checkpoint or its end within the block timeout.

    A run that does not is recorded as `RunBlocked` (typically waiting on a lock a
    paused run holds) and reported here, at the step it blocked.
    """
    return [
        Violation(
            "runs_make_progress", "RunBlocked", r.step, (r.identity,),
            f"run {r.run_id} of {r.identity} reached no checkpoint within {r.timeout}s at "
            f"step {r.step}: it is blocked, probably on a lock held by a paused run",
            BlockedRunEvidence(r.run_id),
        )
        for r in history.of_type(RunBlocked)
    ]


#: The bundled invariants, in report order (registered above; a user's come after).
INVARIANTS: tuple[CheckFunction, ...] = tuple(
    entry.check for entry in registered_invariants()
    if getattr(entry.check, "__module__", None) == __name__
)


def check(history: History) -> list[Violation]:
    """Every violation of every registered invariant, ordered by step (ties in report order).

    Crash-safe: an invariant that raises never yields a violation.  Violations the
    others found are still returned (each is real); with none, the crash raises
    `InvariantCrashed`, since "every invariant held" would then be a false verdict.

    Raises:
        InvariantCrashed: an invariant crashed and no other found a violation.
    """
    checked = check_all(history)
    if checked.valid is None:
        raise InvariantCrashed([(u.invariant, u.step, u.error) for u in checked.unknown])
    return list(checked.violations)
