"""A one-line progress display for long campaigns: examples, steps, violations, time.

A handler of the campaign's events: it learns the budget from ``CampaignStarted``
(never from the flags), redraws on ``Progress`` (throttled: a step is far more
often than a terminal needs), and ends its line on ``CampaignFinished``.
"""

from __future__ import annotations

import time
from typing import Protocol, TextIO

from isolation_fuzz.engine.events import (
    CampaignEvent,
    CampaignFinished,
    CampaignStarted,
    Progress,
)

__all__ = ["ProgressBar"]


class _Counts(Protocol):
    @property
    def examples(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def violations(self) -> int: ...


class ProgressBar:
    """Redraws one line on a terminal; prints a line now and then when piped to a file.

    The budget may be given here, or left for ``CampaignStarted`` to fill in.
    """

    def __init__(
        self,
        stream: TextIO,
        budget_seconds: float | None = None,
        max_examples: int | None = None,
    ) -> None:
        self.stream = stream
        self.budget = budget_seconds
        self.max_examples = max_examples
        self.tty = stream.isatty()
        self._last = 0.0
        self._interval = 0.2 if self.tty else 15.0
        self._drawn = False

    def update(self, counts: _Counts, elapsed: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        line = self._line(counts, elapsed)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._drawn = True

    def handle_event(self, event: CampaignEvent) -> None:
        """Take the budget from the start, draw on progress, end the line at the finish."""
        if isinstance(event, CampaignStarted):
            self.budget = event.budget.seconds
            self.max_examples = event.budget.max_examples
        elif isinstance(event, Progress):
            self.update(event.counts, event.elapsed)
        elif isinstance(event, CampaignFinished):
            self.close()

    def close(self) -> None:
        """End the drawn line on a terminal; safe to call more than once."""
        if self._drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self._drawn = False

    def _line(self, counts: _Counts, elapsed: float) -> str:
        examples = f"examples {counts.examples}"
        if self.max_examples is not None and self.budget is None:
            examples += f"/{self.max_examples}"
            fraction = min(counts.examples / max(self.max_examples, 1), 1.0)
        elif self.budget is not None:
            fraction = min(elapsed / self.budget, 1.0)
        else:
            fraction = 0.0
        width = 20
        filled = int(fraction * width)
        bar = "[" + "#" * filled + "." * (width - filled) + "]"
        clock = _clock(elapsed) + (f"/{_clock(self.budget)}" if self.budget else "")
        return (
            f"{bar} {examples} | steps {counts.steps} | violations {counts.violations} | {clock}"
        )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
