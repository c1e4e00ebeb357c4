"""``stress``: hundreds of identities, runs truly at once, and a finding made replayable.

Design note (issue 14).  A campaign steps one run at a time, which is right for
finding and shrinking and not what a staging-sized load looks like.  A stress run
opens the same session as a campaign (services by URL or embedded, the namespace
lease, the target, the stepped controller), then:

1. runs one :class:`~isolation_fuzz.engine.stress.window.Window`: every identity
   connected, runs started at ``rate`` per second for ``duration`` seconds, truly
   concurrent with seeded noise at every interleaving point, the history checked as
   it grows; the first violation stops new runs;
2. on a violation, clears the target and turns it into a stepped scenario
   (:mod:`~isolation_fuzz.engine.stress.finding`): the involved identities' runs are
   performed in the order stress passed their points, shrunk, then confirmed by
   replays exactly as a campaign's finding is; the user gets the same scenario.json,
   report.html and ``replay``;
3. if the stepped replay does not show it, repeats the stress window ``confirm``
   times (same seed, at most :data:`REPRO_WINDOW` seconds each) and reports k of N;
   the finding is then a "violation" when k > 0 but is no stepped scenario
   (``StressResult.stepped`` is False: the corpus does not take it), and the raw
   history slice is kept as evidence.

It emits the campaign's events (:mod:`isolation_fuzz.engine.campaign.events`), so the report
files and the text verdict are the ``run`` command's own; the live figures (identities
connected, runs/s, events/s, p99 delivery latency, violations) go out as the ``live``
payload of a progress event every :data:`TICK` seconds, from the calling thread,
while the window runs in the loop.  Exit codes are a campaign's: 0 clean,
1 confirmed violation, 3 trouble, 130/143 signals.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field, replace
from typing import Any

from isolation_fuzz.engine.campaign.budget import Budget, Profile
from isolation_fuzz.engine.campaign.control import Lifecycle
from isolation_fuzz.engine.campaign.events import (
    Confirmed,
    Counts,
    EventHandler,
    Progress,
    ShrinkImproved,
    Stopped,
    ViolationFound,
    emit,
)
from isolation_fuzz.engine.campaign.finding import Finding
from isolation_fuzz.engine.campaign.result import CampaignResult
from isolation_fuzz.engine.campaign.userids import Declared
from isolation_fuzz.engine.campaign.verdict import verdict_of
from isolation_fuzz.engine.example.harness import Harness, Limits, RunCounts
from isolation_fuzz.engine.example.session import open_session
from isolation_fuzz.engine.replay.reproduce import confirm
from isolation_fuzz.engine.stopping import Stopper, signalled
from isolation_fuzz.engine.stress.draws import stress_user_ids
from isolation_fuzz.engine.stress.finding import Candidate, candidate, evidence, shrink, stepped
from isolation_fuzz.engine.stress.noise import NoiseSettings
from isolation_fuzz.engine.stress.window import StressStats, Window, WindowSettings
from isolation_fuzz.services import ServiceConfig
from isolation_fuzz.target import TargetSpec, resolve_target

__all__ = ["REPRO_WINDOW", "TICK", "StressConfig", "StressResult", "run_stress"]

#: Seconds between two live progress ticks.
TICK = 0.5
#: The longest a repeated stress window (measuring the reproduction rate) lasts.
REPRO_WINDOW = 10.0
#: The profile stress runs report under (it is no Hypothesis search).
STRESS_PROFILE = Profile("stress", 0, None, 0, False, False)


@dataclass(frozen=True)
class StressConfig:
    """Everything a stress run needs."""

    target: TargetSpec = field(default_factory=TargetSpec)
    identities: int = 100
    rate: float = 50.0
    duration: float = 10.0
    seed: int | None = None
    services: ServiceConfig = field(default_factory=ServiceConfig)
    limits: Limits = field(default_factory=Limits)
    noise: NoiseSettings = field(default_factory=NoiseSettings)
    #: Replays of the stepped scenario, or repeated stress windows, before it counts.
    confirm: int = 5
    shrink: bool = True
    #: The most seconds move-by-move minimising may take.
    shrink_seconds: float = 60.0


@dataclass(frozen=True)
class StressResult:
    """What a stress run measured and found; ``campaign`` is what the reports read.

    Attributes:
        stepped: ``True`` when the finding is a stepped scenario that replays it,
            ``False`` when only repeated stress windows showed it, ``None`` without one.
        windows: ``(k, N)``: of N repeated stress windows, k showed it (only when the
            stepped replay did not).
        evidence: the raw stress history slice of the finding (JSON-ready).
    """

    campaign: CampaignResult
    stats: StressStats
    transport: str
    stepped: bool | None = None
    windows: tuple[int, int] | None = None
    evidence: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        """The campaign's exit code: 0 clean, 1 violation, 3 trouble, 130/143 signals."""
        return self.campaign.exit_code

    def figures(self) -> dict[str, Any]:
        """The measured figures, as ``stress.json`` and the summary show them."""
        s = self.stats
        seconds = max(s.running_seconds, 1e-9)
        p50, p99 = s.percentile(0.5), s.percentile(0.99)
        return {
            "identities": s.identities, "connected": s.connected, "transport": self.transport,
            "runs": s.ended, "runs_failed": s.failed, "events": s.events, "points": s.points,
            "seconds": round(s.running_seconds, 3),
            "runs_per_second": round(s.ended / seconds, 1),
            "events_per_second": round(s.events / seconds, 1),
            "latency_p50_ms": None if p50 is None else round(p50 * 1000, 3),
            "latency_p99_ms": None if p99 is None else round(p99 * 1000, 3),
            "checks": s.checks, "check_seconds": round(s.check_seconds, 3),
            "violations_seen": s.violations,
            "stepped": self.stepped,
            "windows": None if self.windows is None else {
                "k": self.windows[0], "n": self.windows[1],
                "text": f"reproduced in {self.windows[0]} of {self.windows[1]} stress windows",
            },
        }


def run_stress(
    config: StressConfig,
    *,
    handlers: Sequence[EventHandler] = (),
) -> StressResult:
    """Run one stress window (and what a finding needs after it); return the result."""
    listeners = tuple(handlers)
    resolve_target(config.target)  # a bad target name fails before any engine starts
    seed = config.seed if config.seed is not None else secrets.randbelow(2**32)
    # Hypothesis shrinks nothing here; the move minimiser's allowance is the config's.
    budget = Budget(STRESS_PROFILE, config.duration, None, shrink_examples=0,
                    shrink_seconds=config.shrink_seconds)
    lifecycle = Lifecycle(listeners, config.target, budget, seed)
    started = time.monotonic()
    stats = StressStats(identities=config.identities)
    with (
        lifecycle.running(lambda: stats.ended),
        Stopper(),
        open_session(config.target, config.services, config.limits) as session,
    ):
            harness = session.harness
            user_ids = stress_user_ids(config.identities, seed, harness.capabilities)
            settings = WindowSettings(config.identities, config.rate, config.duration, seed,
                                      config.noise)
            window = _run_window(harness, settings, user_ids, listeners, started)
            stats = window.stats
            outcome = _outcome(harness, config, settings, user_ids, window, seed, listeners,
                               budget, started)
            described = session.services
            declared = Declared.of(harness.capabilities, harness.stats)
            run_counts = harness.stats.run_counts()
    result = _assemble(config, seed, started, stats, outcome, described, declared, run_counts)
    lifecycle.finished(result)
    return StressResult(result, stats, config.target.transport, outcome.stepped,
                        outcome.windows, outcome.evidence)


@dataclass(frozen=True)
class _Outcome:
    """What the window's violations became (steps 2 and 3 of the note); empty without one."""

    finding: Finding | None = None
    stepped: bool | None = None
    reproduced: int | None = None
    confirm_runs: int = 0
    windows: tuple[int, int] | None = None
    evidence: dict[str, Any] | None = None


def _outcome(
    harness: Harness, config: StressConfig, settings: WindowSettings, user_ids: list[str],
    window: Window, seed: int, listeners: tuple[EventHandler, ...], budget: Budget,
    started: float,
) -> _Outcome:
    """Announce why the window stopped; turn its first violation into a replayable finding."""
    if not window.violations:
        emit(listeners, Stopped(_why_stopped()))
        return _Outcome()
    found = candidate(window.identities, window.records, window.noise.log, window.violations)
    kept = evidence(seed, window.identities, window.records, window.noise.log, found)
    others = [candidate(window.identities, window.records, window.noise.log,
                        window.violations, order=order)
              for order in ("end", "overlap")]
    finding = _unstepped(found, harness)
    emit(listeners, ViolationFound(finding, time.monotonic() - started))
    emit(listeners, Stopped("violation"))
    if signalled() is not None:
        return _Outcome(finding, evidence=kept)
    finding, stepped_ok, reproduced, runs, windows = _make_replayable(
        harness, config, settings, user_ids, found, others, finding, seed, listeners, budget)
    return _Outcome(finding, stepped_ok, reproduced, runs, windows, kept)


def _assemble(
    config: StressConfig, seed: int, started: float, stats: StressStats, outcome: _Outcome,
    services: dict[str, str], declared: Declared, run_counts: RunCounts,
) -> CampaignResult:
    """The stress run as a campaign's result: what the reports and the exit code read."""
    signal_name = signalled()
    verdict = verdict_of(outcome.finding, stats.ended, signal_name, outcome.reproduced,
                         run_counts.target_not_working())
    return CampaignResult(
        verdict=verdict, finding=outcome.finding, examples=stats.ended, steps=stats.points,
        elapsed=time.monotonic() - started, seed=seed, profile="stress",
        target=config.target, services=services,
        stop_reason="interrupted" if signal_name else (
            "violation" if outcome.finding is not None else "budget"),
        signal=signal_name, fuzzing_seconds=stats.running_seconds, tool_calls=stats.tool_calls,
        reproduced=outcome.reproduced, confirm_runs=outcome.confirm_runs,
        budget_seconds=config.duration, runs=run_counts, declared=declared,
    )


def _run_window(
    harness: Harness, settings: WindowSettings, user_ids: list[str],
    listeners: tuple[EventHandler, ...], started: float,
) -> Window:
    """Run a window in the loop; report its live figures from this thread until it ends."""
    window = Window(harness, settings, user_ids)
    future = harness.loop.portal.start_task_soon(window.run)
    while True:
        done, _ = wait([future], timeout=TICK, return_when=FIRST_COMPLETED)
        s = window.stats
        emit(listeners, Progress(Counts(s.ended, s.points, s.violations, s.tool_calls),
                                 time.monotonic() - started, live=s))
        if done:
            future.result()  # its error, if it raised
            return window


def _unstepped(found: Candidate, harness: Harness) -> Finding:
    """The candidate as a finding, before any stepped replay (what is saved first)."""
    violations = tuple(
        replace(v, identities=tuple(found.renamed.get(n, n) for n in v.identities))
        for v in found.violations
    )
    return Finding(violations, dict(found.identities), found.moves, False, (),
                   harness.limits.points)


def _make_replayable(
    harness: Harness, config: StressConfig, settings: WindowSettings, user_ids: list[str],
    found: Candidate, others: Sequence[Candidate], unstepped: Finding, seed: int,
    listeners: tuple[EventHandler, ...], budget: Budget,
) -> tuple[Finding, bool, int, int, tuple[int, int] | None]:
    """Steps 2 and 3 of the note: the finding, whether stepped, k of N, and the windows."""
    harness.loop.call(harness.target.reset)  # the stress data must not leak into replays
    replayed = None
    for order in (found, *others):
        if replayed is None and signalled() is None:
            replayed = stepped(harness, order)
    if replayed is not None:
        fixpoint = False
        if config.shrink and signalled() is None:
            replayed, fixpoint = shrink(harness, replayed, found.invariants,
                                        budget_seconds=budget.shrink_seconds,
                                        should_stop=lambda: signalled() is not None)
        finding = Finding(replayed.violations, dict(replayed.identities), replayed.moves,
                          fixpoint, replayed.deliveries, harness.limits.points)
        emit(listeners, ShrinkImproved(finding))
        replays = confirm(harness, finding.to_scenario(config.target, seed), config.confirm,
                          should_stop=lambda: signalled() is not None)
        k, n = replays.reproductions, len(replays.replays)
        emit(listeners, Confirmed(finding, k, n))
        return finding, True, k, n, None
    shown = 0
    repeat = replace(settings, duration=min(settings.duration, REPRO_WINDOW), final_reads=True)
    tried = 0
    for _ in range(config.confirm):
        if signalled() is not None:
            break
        harness.loop.call(harness.target.reset)
        window = Window(harness, repeat, user_ids)
        harness.loop.call(window.run)
        tried += 1
        if {v.invariant for v in window.violations} & found.invariants:
            shown += 1
    emit(listeners, Confirmed(unstepped, shown, tried))
    return unstepped, False, shown, tried, (shown, tried)


def _why_stopped() -> str:
    name = signalled()
    return name if name is not None else "budget"
