"""Stopping a campaign early without losing what it found.

A campaign stops early for three reasons: its time budget ran out, shrinking used
its allowance of examples, or someone sent SIGINT or SIGTERM (a nightly job being
killed).  The request is raised as :class:`StopRequested` from the next step, a
``KeyboardInterrupt`` because that is what Hypothesis passes straight through
instead of taking it for a failing example (or for flaky data generation); the
campaign then reports the best failure it has already seen.  A second SIGINT
aborts at once, as a user pressing Ctrl-C twice expects.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any, Self

__all__ = ["StopRequested", "Stopper"]


class StopRequested(KeyboardInterrupt):
    """Raised from a step when the campaign must stop; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Stopper:
    """Deadlines and signals, checked at every step."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        #: Stop once this many examples have run (set when shrinking starts).
        self.shrink_after: int | None = None
        self.signalled: str | None = None
        self._previous: dict[int, Any] = {}

    def check(self, examples: int = 0) -> None:
        """Raise :class:`StopRequested` if a signal came or a limit passed."""
        if self.signalled is not None:
            raise StopRequested(self.signalled)
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            raise StopRequested("budget")
        if self.shrink_after is not None and examples > self.shrink_after:
            raise StopRequested("shrink limit")

    def remaining(self) -> float | None:
        """Seconds left before the budget ends, or ``None`` without a budget."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def stopping(self) -> bool:
        return self.signalled is not None or self.remaining() == 0.0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signalled is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        self.signalled = name

    def __enter__(self) -> Self:
        # Signal handlers can only be set from the main thread; elsewhere (a test
        # runner's worker) the campaign still stops at its deadlines.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
