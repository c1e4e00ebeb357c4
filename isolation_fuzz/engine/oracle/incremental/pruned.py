"""The read model without the writes no read to come can see: what keeps reads cheap.

Design note (issue 14).  A read is judged against every write its identity made to
the key (``reads._Model.legitimate``), so with all writes kept an identity's reads
get slower the longer it lives.  Most of those writes can never matter again.  Say
``w`` is *dead* from step ``h`` on when some write ``w2`` of the same identity and
key finished ok before ``h`` and ``w`` precedes ``w2`` (``w``'s run ended before
``w2``'s started, or ``w`` is an earlier call of ``w2``'s run).  Then for every read
``r`` of a run starting at or after ``h``, ``w2`` definitely precedes ``r``, so ``w``
is superseded: ``legitimate`` returns the same expected value, acceptable values and
due write with ``w`` or without it (precedence is transitive, so whatever ``w`` itself
would have superseded, ``w2`` does too, and ``w2`` is never dropped before a write
superseding it is there).  Dropping ``w`` keeps the key, since ``w2`` stays.

:class:`PrunedModel` keeps such a copy of the model's lists, each with the *horizon*
it was pruned to: it may judge a read only if the read's run started at or after the
horizon of every list the read looks at.  The incremental read form prunes a list,
just before judging, to the earliest start among its identity's unfinished runs and
the runs whose reads it is about to judge; every other read (a re-judge of an old
read) uses the whole model.

Three judges look at writes beyond what ``legitimate`` returns, and only when a read
is already wrong, to name its anomaly: ``recall`` (was the value ever written there:
then the read is stale) and ``aggregate`` (which key each returned value was written
under).  A recall the pruned model finds wrong, and an aggregate that returned a value
of a dropped write, are judged again on the whole model.  ``list`` and ``scratch``
read nothing else, so the pruned verdict is the verdict.
"""

from __future__ import annotations

from isolation_fuzz.engine.oracle import reads as batch
from isolation_fuzz.model import RunStarted, ToolResult

__all__ = ["PrunedModel"]

_Key = tuple[str, str, str | None]  # identity, store, key


def _precedes(w: batch.Write, w2: batch.Write) -> bool:
    # w2 is a finished write, so its run's ordering is known.
    return (w2.ordered and w.index < w2.index) if w.run_id == w2.run_id else w.end < w2.start


class PrunedModel(batch._Model):
    """A copy of the live model's write lists, pruned of dead writes per list.

    Args:
        full: the live model whose runs, scratch values, forgetters and namers it shares.
    """

    def __init__(self, full: batch._Model) -> None:
        # Not the batch __init__: the lists are filled as the live model's are.
        self.full = full
        self.history = full.history
        self.kept = full.kept
        self.forgetters = full.forgetters
        self.namers = full.namers
        self.memory: dict[tuple[str, str], dict[str | None, list[batch.Write]]] = {}
        self.horizon: dict[_Key, int] = {}
        self.dead: dict[tuple[str, str], set[str]] = {}

    def add(self, identity: str, store: str, write: batch.Write) -> None:
        """Add a new write (in the same order as the live model)."""
        self.memory.setdefault((identity, store), {}).setdefault(write.key, []).append(write)

    def replace(self, identity: str, store: str, old: batch.Write, new: batch.Write) -> None:
        """Swap in a finished run's write (an unfinished run's write is never dropped)."""
        writes = self.memory[(identity, store)][old.key]
        for at, w in enumerate(writes):
            if w is old:
                writes[at] = new
                return

    def cleaners(self, run_id: str, since: int, until: int) -> list[RunStarted]:
        """As the live model's (no writes involved)."""
        return self.full.cleaners(run_id, since, until)

    def prune(self, identity: str, store: str, key: str | None, h: int) -> None:
        """Drop the writes of one list that are dead from step ``h`` on."""
        writes = self.memory[(identity, store)][key]
        if h <= self.horizon.get((identity, store, key), -1):
            return
        cover = [w for w in writes if w.definite and w.end < h]
        if not cover:
            return
        keep = [w for w in writes if not any(_precedes(w, w2) for w2 in cover)]
        if len(keep) < len(writes):
            dead = self.dead.setdefault((identity, store), set())
            dead.update(w.value for w in writes if w not in keep and w.value is not None)
            writes[:] = keep
            self.horizon[(identity, store, key)] = h

    def judge(self, run: RunStarted, result: ToolResult, h: int | None
              ) -> list[batch.ReadFinding] | None:
        """The findings on ``result`` from the pruned lists, or None: use the whole model."""
        call, identity = result.call, run.identity
        mine = self.memory.get((identity, call.store), {})
        keys = [call.key] if call.tool == "recall" else list(mine)
        for key in keys:
            if key not in mine:
                continue
            if h is not None:
                self.prune(identity, call.store, key, h)
            if self.horizon.get((identity, call.store, key), -1) > run.step:
                return None
        if call.tool == "recall":
            found = batch._recall(self, run, result)
            return None if found else found
        if call.tool == "list":
            return batch._list(self, run, result)
        values = batch._values(result.result) or []
        if self.dead.get((identity, call.store), set()).intersection(values):
            return None
        return batch._aggregate(self, run, result)
