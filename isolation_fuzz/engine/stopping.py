"""Stopping early without losing what was found: deadlines, shrink limits and signals.

Design note.  A campaign stops early for three reasons: its time budget ran out,
shrinking used its allowance of examples, or someone sent SIGINT or SIGTERM (a
nightly job being killed).  The request is raised as :class:`StopRequested` from the
next step, a ``KeyboardInterrupt`` because that is what Hypothesis passes straight
through instead of taking it for a failing example (or for flaky data generation);
the campaign then reports the best failure it has already seen.

Signals are noted, never acted on where they land (issue 10).  A signal handler
that raises can fire anywhere: halfway through starting an embedded engine, inside
a ``finally`` that is removing the campaign's namespace, between a temporary file
and its rename.  So the first SIGINT or SIGTERM only records its name in one
process-wide :class:`SignalState`; the engine looks at it where stopping is safe
(after every step, between replays, between phases) and the command, which holds
the outermost :func:`handling_signals`, turns it into exit code 130 or 143 after it
has finished its report and cleaned up.  Start-up therefore ends before the
campaign stops: a few seconds at most, and the engines it started are then torn
down in order.  A second signal does raise at once, as a user pressing Ctrl-C twice
expects.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Self

__all__ = [
    "SIGNAL_EXIT_CODES",
    "SignalState",
    "StopRequested",
    "Stopper",
    "check_signals",
    "handling_signals",
    "signalled",
]

#: The exit code of a command stopped by a signal: 128 + the signal's number.
SIGNAL_EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


class StopRequested(KeyboardInterrupt):
    """Raised where it is safe to stop, when the campaign must; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SignalState:
    """Which signal asked this process to stop, shared by everything that checks."""

    def __init__(self) -> None:
        #: ``"SIGINT"`` or ``"SIGTERM"`` once one came, else ``None``.
        self.received: str | None = None
        self._depth = 0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            raise StopRequested(name)  # the second signal: stop now
        self.received = name


_STATE = SignalState()


@contextmanager
def handling_signals() -> Iterator[SignalState]:
    """Note SIGINT and SIGTERM instead of dying of them, for the ``with`` block's length.

    Re-entrant: only the outermost block installs the handlers, and only it forgets
    the signal on leaving, so a command holding it can read the signal after the
    campaign inside has returned.  Handlers can only be set from the main thread;
    elsewhere (a test runner's worker) nothing is installed and deadlines still work.
    """
    state = _STATE
    outermost = state._depth == 0
    state._depth += 1
    try:
        if outermost and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                state._previous[signum] = signal.signal(signum, state._handle)
        yield state
    finally:
        state._depth -= 1
        if outermost:
            for number, handler in state._previous.items():
                signal.signal(number, handler)
            state._previous.clear()
            state.received = None


def signalled() -> str | None:
    """The name of the signal that asked this process to stop, or ``None``."""
    return _STATE.received


def check_signals() -> None:
    """Raise :class:`StopRequested` if a signal asked this process to stop."""
    if _STATE.received is not None:
        raise StopRequested(_STATE.received)


class Stopper:
    """Deadlines, the shrink limit and signals, checked at every step."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        #: Stop once this many examples have run (set when shrinking starts).
        self.shrink_after: int | None = None
        self._signals = handling_signals()

    @property
    def signalled(self) -> str | None:
        """The signal that asked the campaign to stop, or ``None``."""
        return signalled()

    def check(self, examples: int = 0) -> None:
        """Raise :class:`StopRequested` if a signal came or a limit passed."""
        check_signals()
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise StopRequested("budget")
        if self.shrink_after is not None and examples > self.shrink_after:
            raise StopRequested("shrink limit")

    def remaining(self) -> float | None:
        """Seconds left before the budget ends, or ``None`` without a budget."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def stopping(self) -> bool:
        """Whether a signal came or the time budget is spent."""
        return self.signalled is not None or self.remaining() == 0.0

    def __enter__(self) -> Self:
        self._signals.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._signals.__exit__(*exc_info)
        self._signals = handling_signals()  # a context manager is good for one use
