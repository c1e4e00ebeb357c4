"""Forging: presenting a forged token to the target, and whether it got in.

Design note.  A forged token (wrongly signed, ``alg: none``, expired, for the wrong
audience...: see :func:`~isolation_fuzz.tokens.forge_token`) is tried
through one of the two doors a user has into the system:

* ``connect``: open an event stream with it.  Accepted means the stream opened;
  what it saw (synced once) is kept as evidence, then it is closed.
* ``run``: start a one-call run with it (a ``list`` on redis, which shows the data
  of whoever the target believes the caller is) and step it to its end.

Rejected means the target raised :class:`~isolation_fuzz.errors.AuthError`; anything
else counts as accepted, and the oracle decides whether accepting was a violation.
The attempt is not part of the interleaving: it runs to its end within one move,
and the history records it as one forged attempt, not as a run.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from isolation_fuzz.engine.example.harness import Harness
from isolation_fuzz.errors import AuthError
from isolation_fuzz.model import ToolCall

__all__ = ["attempt"]

#: A forged request that is accepted is stepped at most this often before giving up.
_FORGED_RUN_STEPS = 200


def attempt(harness: Harness, action: str, token: str, step: int) -> tuple[bool, Any]:
    """Try ``token`` to ``action`` (``connect`` or ``run``) at ``step``.

    Returns:
        Whether the target accepted it, and what it observed when it did (the events
        a stream received, a run's result, or the run's status if it did not finish).
    """
    loop = harness.loop
    if action == "connect":
        try:
            stream = loop.call(harness.target.connect, token)
        except AuthError:
            return False, None
        loop.call(stream.sync)
        observed = [e.to_json() for e in stream.take()]
        loop.call(stream.aclose)
        return True, observed
    run_id = f"forged{step}"
    plan = (ToolCall("list", "redis"),)
    fn = partial(harness.target.run, token, "t1", plan, run_id)
    outcome = loop.call(harness.controller.start, run_id, fn)
    for _ in range(_FORGED_RUN_STEPS):
        if outcome.status != "paused":
            break
        outcome = loop.call(harness.controller.step, run_id)
    if outcome.status == "failed" and isinstance(outcome.error, AuthError):
        return False, None
    return True, outcome.result if outcome.status == "finished" else outcome.status
