"""Replaying a corpus of saved scenarios, as events a gate's reporters read.

``check`` replays every scenario of its corpus before it fuzzes: each that still
reproduces is a bug that came back.  The replays report through events of their
own, :class:`CorpusReplayStarted`, one :class:`CorpusScenarioReplayed` per file in
file order, and :class:`CorpusReplayInterrupted` when a signal stops them, so the
text, the JUnit file and the run's summary are written by reporters, the same way
a campaign's are, and nothing has to pretend that a campaign started.

The files are read (and a bad one refused, exit 2) before anything is replayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from isolation_fuzz.engine.replay.reproduce import ReplayReport, replay_all, scenario_files
from isolation_fuzz.engine.replay.scenario import load_scenario
from isolation_fuzz.engine.stopping import StopRequested
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec

__all__ = [
    "CorpusEvent",
    "CorpusHandler",
    "CorpusReplayInterrupted",
    "CorpusReplayStarted",
    "CorpusScenarioReplayed",
    "replay_corpus",
]


@dataclass(frozen=True)
class CorpusReplayStarted:
    """The corpus was read: ``files`` will be replayed, in this order."""

    corpus: Path
    files: tuple[Path, ...]


@dataclass(frozen=True)
class CorpusScenarioReplayed:
    """One file's replays and what they showed."""

    path: Path
    report: ReplayReport


@dataclass(frozen=True)
class CorpusReplayInterrupted:
    """A signal stopped the replays; ``target`` is the one they were replayed on, if given."""

    signal: str
    target: TargetSpec | None

    @property
    def reason(self) -> str:
        return f"interrupted by {self.signal} during the corpus replays"


CorpusEvent = CorpusReplayStarted | CorpusScenarioReplayed | CorpusReplayInterrupted


class CorpusHandler(Protocol):
    """Anything that reads a corpus replay's events."""

    def handle_event(self, event: CorpusEvent) -> None: ...


def replay_corpus(
    corpus: Path,
    target: TargetSpec | None,
    services: ServiceConfig,
    handlers: Sequence[CorpusHandler] = (),
) -> list[CorpusScenarioReplayed]:
    """Replay every scenario under ``corpus`` (none if it does not exist), on ``target`` if given.

    A signal between replays is reported to ``handlers`` and then raised again as
    :class:`~isolation_fuzz.engine.stopping.StopRequested`, for the command to exit with it.
    """
    files = tuple(scenario_files(corpus)) if corpus.exists() else ()
    scenarios = [load_scenario(path) for path in files]
    _emit(handlers, CorpusReplayStarted(corpus, files))
    try:
        reports = replay_all(scenarios, target, services)
    except StopRequested as stop:
        _emit(handlers, CorpusReplayInterrupted(stop.reason, target))
        raise
    replayed = [CorpusScenarioReplayed(p, r) for p, r in zip(files, reports, strict=True)]
    for event in replayed:
        _emit(handlers, event)
    return replayed


def _emit(handlers: Sequence[CorpusHandler], event: CorpusEvent) -> None:
    for handler in handlers:
        handler.handle_event(event)
