"""Slow is not blocked: telling a stalled service apart from a run that waits on a run.

Design note.  The run controller moves one run at a time and waits ``block_timeout``
for it to reach its next checkpoint.  A run that does not may be waiting for one of
two things, and only one of them is a finding:

* another run that is paused at a checkpoint while holding what this one needs (a
  lock, a queue slot, a row): the interleaving has deadlocked the system, and
  ``runs_make_progress`` reports it;
* its own I/O: a service that is slow, stalled or gone.  Issue 10 measured it: a
  Redis stopped for 7 s with SIGSTOP made a run miss the 5 s block timeout, the
  campaign reported a violation against the correct platform (exit 1) and saved the
  false scenario in the corpus.

Chosen rule (:meth:`StallPolicy.judge_silence`): when a run has been silent for one
block timeout, probe every service the session opened (Redis ``PING``, Postgres
``SELECT 1``, ClickHouse ``SELECT 1``, each under the service timeout, see
:mod:`isolation_fuzz.services._probe`).  A probe that fails or does not answer in
time ends the campaign with :class:`~isolation_fuzz.errors.ServiceUnavailable`
naming the service: exit 3, never a violation.  When every service answers, the run
gets one more block timeout to catch up (a service that was stalled for a while and
just came back lets its run go on at once), and the services are probed again.  Only
then, with every service answering at both ends of a whole block timeout of silence
and another run paused, is the run *blocked*.  With no other run paused it cannot be
waiting on one: it is slow on its own, so it gets up to the service timeout in all,
and past it :class:`~isolation_fuzz.errors.TargetStalled` ends the campaign (exit 3:
the target hangs, which is no isolation finding either).

Why not simply a longer block timeout: a stall can last any time, and every second
added to the block timeout is paid by every real deadlock the search meets.  Why
probe on fresh connections: the run's own connection is the one that hangs, and a
stopped process still completes TCP handshakes from its backlog.  The price: a real
deadlock is reported after two block timeouts instead of one.

Calls the engine makes into the target outside any run (``connect``, ``residue``,
``reset``, a stream's ``sync``) have no run to wait on, so :meth:`StallPolicy.bounded`
gives them the service timeout; past it the probes name the service, or the target.

An infrastructure error raised inside a Hypothesis example must not be taken for a
failing example (Hypothesis would shrink it, re-running examples against a stalled
service): the state machine re-raises it as :class:`InfrastructureStop`, a
``KeyboardInterrupt`` that Hypothesis passes straight through, and the session
unwraps it into the original error.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from isolation_fuzz.errors import InfrastructureError, TargetStalled, UsageError

__all__ = ["DEFAULT_SERVICE_TIMEOUT", "InfrastructureStop", "Probe", "StallPolicy"]

T = TypeVar("T")

#: Raises :class:`~isolation_fuzz.errors.ServiceUnavailable` unless every service answers.
Probe = Callable[[], Awaitable[None]]

#: Seconds a service may take to answer before the campaign ends with exit 3.
DEFAULT_SERVICE_TIMEOUT = 10.0


class InfrastructureStop(KeyboardInterrupt):
    """Carries an :class:`InfrastructureError` out of a Hypothesis example unshrunk.

    A ``KeyboardInterrupt`` because Hypothesis re-raises those at once instead of
    shrinking them; the session turns it back into ``error`` (see the design note).
    """

    def __init__(self, error: InfrastructureError) -> None:
        self.error = error
        super().__init__(str(error))


@dataclass(frozen=True)
class StallPolicy:
    """How long runs and services may be silent, and how to ask the services.

    Attributes:
        block_timeout: Seconds a run may go without reaching a checkpoint before the
            services are probed.
        service_timeout: Seconds a service may take to answer a probe; also the most
            a run with no other run paused, or a call outside any run, may take.
        probe: Checks every service (``None``: no services, as in unit tests).
    """

    block_timeout: float = 5.0
    service_timeout: float = DEFAULT_SERVICE_TIMEOUT
    probe: Probe | None = None

    def __post_init__(self) -> None:
        for name in ("block_timeout", "service_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise UsageError(f"{name} must be positive, got {value!r}")

    async def check_services(self) -> None:
        """Raise :class:`~isolation_fuzz.errors.ServiceUnavailable` unless all answer."""
        if self.probe is not None:
            await self.probe()

    async def judge_silence(
        self, stopped: anyio.Event, run_id: str, others_paused: Callable[[], bool],
        task: asyncio.Task[Any] | None = None,
    ) -> bool:
        """Decide about a run silent for one block timeout; True once it has stopped.

        Returns False when the run is blocked: every service answered before and
        after a further block timeout of silence, and ``others_paused()`` says another
        run is paused (it may hold what this one waits for).

        Raises:
            ServiceUnavailable: a service failed its probe (infrastructure, exit 3).
            TargetStalled: the run made no progress for the service timeout with
                every service answering and no other run paused.
        """
        silent = self.block_timeout
        while True:
            await self.check_services()
            waited = await _wait(stopped, self.block_timeout)
            if stopped.is_set():
                return True
            silent += waited
            await self.check_services()
            if others_paused():
                return False
            if silent >= self.service_timeout:
                raise TargetStalled(
                    f"run {run_id} made no progress for {silent:.3g}s although every "
                    "service answered and no other run was paused: the target hangs on "
                    f"its own ({waiting_at(task)}). If it is only slow, raise --block-timeout "
                    "or --service-timeout"
                )

    async def bounded(self, what: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Await ``fn(*args)`` (the target's ``what``) for at most the service timeout.

        Raises:
            ServiceUnavailable: it timed out and a service fails its probe.
            TargetStalled: it timed out though every service answers.
        """
        with anyio.move_on_after(self.service_timeout):
            return await fn(*args)
        await self.check_services()
        raise TargetStalled(
            f"the target's {what} did not return within {self.service_timeout:g}s although "
            "every service answered. If it is only slow, raise --service-timeout"
        )


def waiting_at(task: asyncio.Task[Any] | None) -> str:
    """Where ``task`` is suspended, innermost last: ``file:line in fn`` of its await chain.

    The line a stalled run waits on is what its user needs to see first: shown are
    the innermost frame, and the innermost one outside installed packages and the
    standard library (the user's own code), when they differ.
    """
    if task is None or task.done():
        return "its task is gone"
    frames = []
    awaiting: Any = task.get_coro()
    while awaiting is not None:  # down the await chain (Task.get_stack stops at the top)
        frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        awaiting = (getattr(awaiting, "cr_await", None) or getattr(awaiting, "gi_yieldfrom", None)
                    # Through a driver (the points' ``Driven``) to the coroutine it steps.
                    or (frame.f_locals.get("coro") if frame is not None else None))
    if not frames:
        return "its task has no frame to show"

    def where(frame: Any) -> str:
        return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"

    package = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))  # isolation_fuzz
    skipped = (os.path.dirname(os.__file__), package)
    own = [f for f in frames if "site-packages" not in f.f_code.co_filename
           and not f.f_code.co_filename.startswith(skipped)]
    shown = [frames[-1]] if not own or own[-1] is frames[-1] else [own[-1], frames[-1]]
    return "it waits at " + " -> ".join(where(f) for f in shown)


async def _wait(event: anyio.Event, seconds: float) -> float:
    """Wait up to ``seconds`` for ``event``; return the seconds waited."""
    start = anyio.current_time()
    with anyio.move_on_after(seconds):
        await event.wait()
    return anyio.current_time() - start
