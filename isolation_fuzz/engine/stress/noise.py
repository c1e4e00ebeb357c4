"""Seeded schedule noise for runs that truly run at once: delays by priority, PCT-style.

Design note (issue 14).  Under ``stress`` nothing pauses a run for a scheduler: runs
are tasks on one event loop and the loop interleaves them wherever they await.  Left
alone, the loop interleaves them the same few ways (FIFO wake-ups, similar I/O
latencies), so races that need one run to fall behind another are rarely seen.  At
every interleaving point a run passes (the hook of :mod:`isolation_fuzz.engine.schedule.points`,
or an explicit ``checkpoint()``), :class:`Noise` therefore makes the run sleep for a
while first, decided by a seeded draw:

* **Priorities** (the idea of PCT, Burckhardt et al., "A randomized scheduler with
  probabilistic guarantees of finding bugs", ASPLOS 2010).  Each run draws a priority
  in ``(0, 1]`` when it starts.  A run's delay at a point grows as its priority falls:
  ``max_delay * (1 - p)**2``, scaled by a draw in ``[0.5, 1]``.  High-priority runs
  race ahead, low-priority ones lag, so two runs' steps interleave in ways FIFO never
  gives, and consistently for the whole run rather than point by point.
* **Change points.**  PCT lowers the running thread's priority at ``d`` random steps.
  Here the global count of points passed is cut into epochs of ``epoch`` points and in
  each, ``depth`` positions are drawn; the run that passes a point at such a position
  has its priority cut to a tenth: it falls behind exactly there, mid-plan, which
  is where a stale read or a half-done cleanup is exposed.
* **Spikes.**  A few points (``spike`` of them) wait ten times ``max_delay``: a long
  pause such as a GC or a slow query, which wider races need.

Every draw for a run comes from a generator seeded by the noise seed and the run's
index, so the same seed gives a run the same priority and the same delays at its
first, second, ... point; change points are positions in the global order, which
real I/O may shift.  That is the most a truly concurrent run can promise: the same
seed explores the same schedules as far as real I/O allows.

:class:`Noise` also keeps the order in which runs reached their points and went on
from them (:attr:`Noise.log`): that order is what :mod:`isolation_fuzz.engine.stress.finding`
replays, step by step, when a violation was seen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final

__all__ = ["END", "START", "Noise", "NoiseSettings", "Passed"]

#: The labels a run's start and end leave in the log (no interleaving point has them).
START: Final = "<start>"
END: Final = "<end>"


@dataclass(frozen=True)
class NoiseSettings:
    """How much noise: the largest ordinary delay, change points per epoch, spikes.

    Attributes:
        max_delay: Seconds the lowest-priority run waits at a point (spikes aside).
        depth: Change points per epoch (PCT's ``d``); 0 keeps every priority.
        epoch: Points per epoch.
        spike: The share of points that wait ten times ``max_delay``.
    """

    max_delay: float = 0.002
    depth: int = 3
    epoch: int = 256
    spike: float = 0.01


@dataclass(frozen=True)
class Passed:
    """One entry of the log: run ``run_id`` reached ``label``, or went on from it.

    ``resumed`` entries start a stretch of the run (its start, :data:`START`, or the
    end of a wait at a point); the others end one (arriving at a point, or the run's
    end, :data:`END`).  Stretches of different runs overlap in time (they include the
    I/O awaited in them), so the log gives two orders of the same stretches.
    """

    run_id: str
    label: str
    resumed: bool = False


@dataclass
class _RunNoise:
    rng: random.Random
    priority: float


@dataclass
class Noise:
    """The seeded delays of one stress window, and the order points were passed in."""

    seed: int
    settings: NoiseSettings = field(default_factory=NoiseSettings)
    #: Every point passed and every run's end, in the order they happened.
    log: list[Passed] = field(default_factory=list)
    _runs: dict[str, _RunNoise] = field(default_factory=dict)
    _changes: set[int] = field(default_factory=set)
    _epoch: int = -1
    _passed: int = 0

    def start(self, run_id: str, index: int) -> None:
        """Give run ``run_id`` (the ``index``-th started) its own generator and priority."""
        rng = random.Random(f"{self.seed}/run/{index}")
        self._runs[run_id] = _RunNoise(rng, 1.0 - rng.random())  # in (0, 1]
        self.log.append(Passed(run_id, START, resumed=True))

    def delay(self, run_id: str, label: str) -> float:
        """Log that ``run_id`` reached ``label``; return how long it should wait there."""
        self.log.append(Passed(run_id, label, resumed=False))
        position = self._passed
        self._passed += 1
        run = self._runs.get(run_id)
        if run is None or self.settings.max_delay <= 0:
            return 0.0
        if position // self.settings.epoch != self._epoch:
            self._new_epoch(position // self.settings.epoch)
        if position in self._changes:
            run.priority /= 10  # PCT's change point: this run falls behind from here
        draw = run.rng.random()
        if draw < self.settings.spike:
            return self.settings.max_delay * 10
        return self.settings.max_delay * (1.0 - run.priority) ** 2 * (0.5 + draw / 2)

    def resumed(self, run_id: str, label: str) -> None:
        """Log that ``run_id`` goes on from ``label`` (its wait is over)."""
        self.log.append(Passed(run_id, label, resumed=True))

    def end(self, run_id: str) -> None:
        """Log that ``run_id`` ended (returned or raised) and forget its generator."""
        self.log.append(Passed(run_id, END, resumed=False))
        self._runs.pop(run_id, None)

    def _new_epoch(self, epoch: int) -> None:
        self._epoch = epoch
        rng = random.Random(f"{self.seed}/epoch/{epoch}")
        size = self.settings.epoch
        self._changes = {epoch * size + rng.randrange(size) for _ in range(self.settings.depth)}
