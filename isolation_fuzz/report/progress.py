"""A one-line progress display for long campaigns: examples, steps, violations, time.

A handler of the campaign's events: it learns the budget from ``CampaignStarted``
(never from the flags), redraws on ``Progress`` (throttled: a step is far more
often than a terminal needs), and ends its line on ``CampaignFinished``.

Nothing it shows passes 100%: shrinking runs examples past the example budget and
seconds past the time budget ("116/100" was seen), so both are capped at the
budget and the line says "shrinking" instead.
"""

from __future__ import annotations

import time
from typing import Protocol, TextIO

from isolation_fuzz.engine.campaign.events import (
    CampaignAborted,
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
            # Start-up takes seconds (embedded engines): say what is happening meanwhile.
            line = f"starting services and target {event.target.name}..."
            self.stream.write("\r\x1b[2K" + line if self.tty else line + "\n")
            self.stream.flush()
            self._drawn = self.tty
        elif isinstance(event, Progress):
            self.update(event.counts, event.elapsed)
        elif isinstance(event, CampaignFinished | CampaignAborted):
            self.close()

    def close(self) -> None:
        """End the drawn line on a terminal; safe to call more than once."""
        if self._drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self._drawn = False

    def _line(self, counts: _Counts, elapsed: float) -> str:
        examples = f"examples {counts.examples}"
        over = False
        fractions = []
        if self.max_examples is not None:
            over = counts.examples > self.max_examples
            examples = f"examples {min(counts.examples, self.max_examples)}/{self.max_examples}"
            fractions.append(counts.examples / max(self.max_examples, 1))
        if self.budget is not None:
            over = over or elapsed > self.budget
            fractions.append(elapsed / self.budget)
        fraction = min(max(fractions, default=0.0), 1.0)
        width = 20
        filled = int(fraction * width)
        bar = "[" + "#" * filled + "." * (width - filled) + "]"
        shown = elapsed if self.budget is None else min(elapsed, self.budget)
        clock = _clock(shown) + (f"/{_clock(self.budget)}" if self.budget else "")
        tail = " | shrinking" if over and counts.violations else ""
        return (
            f"{bar} {examples} | steps {counts.steps} | violations {counts.violations} | "
            f"{clock}{tail}"
        )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
