"""What ``stress`` shows and writes beyond a campaign's report: live figures, stress.json.

Design note (issue 14).  A stress run emits the campaign's events, so its summary,
JUnit, scenario.json and report.html are written by :class:`~isolation_fuzz.report.files.RunReport`
unchanged.  Two things are its own:

* :class:`StressLine`, the live line on stderr: identities connected, runs/s and
  events/s over the last tick, p99 delivery latency over the last thousand runs,
  violations seen, time.  On a terminal it redraws one line; piped, it prints a line
  every few seconds.
* :func:`write_stress_files`: ``stress.json`` (the measured figures), the raw history
  slice of a finding (``stress-evidence.json``) and a ``stress`` entry in
  ``summary.json``; and the corpus, which takes a finding only when it is a stepped
  scenario that replays it (one only repeated stress windows showed would fail
  ``check`` for the wrong reason).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from isolation_fuzz._atomic import write_atomic
from isolation_fuzz.engine.campaign.events import CampaignEvent, LiveFigures, Progress

if TYPE_CHECKING:
    from isolation_fuzz.engine.stress.runner import StressResult
    from isolation_fuzz.report.files import RunReport

__all__ = ["StressLine", "format_figures", "write_stress_files"]


class StressLine:
    """The live progress line of a stress run: a handler of its progress events."""

    def __init__(self, stream: TextIO, duration: float) -> None:
        self.stream = stream
        self.duration = duration
        self.tty = stream.isatty()
        self._interval = 0.0 if self.tty else 5.0
        self._shown = 0.0
        self._last: tuple[float, int, int] | None = None
        self._drawn = False

    def handle_event(self, event: CampaignEvent) -> None:
        """Redraw on a progress event that carries a stress run's live figures."""
        if isinstance(event, Progress) and event.live is not None:
            self.tick(event.live)

    def tick(self, stats: LiveFigures) -> None:
        """Redraw from ``stats`` (throttled when not on a terminal)."""
        now = time.monotonic()
        last, self._last = self._last, (now, stats.ended, stats.events)
        if last is None or now - self._shown < self._interval:
            return
        self._shown = now
        seconds = max(now - last[0], 1e-9)
        runs_rate = (stats.ended - last[1]) / seconds
        events_rate = (stats.events - last[2]) / seconds
        p99 = stats.percentile(0.99, last=1000)
        latency = "-" if p99 is None else f"{p99 * 1000:.1f} ms"
        elapsed = min(now - stats.began, self.duration) if stats.connected else 0.0
        text = (
            f"stress: {stats.connected}/{stats.identities} connected | {runs_rate:.0f} runs/s | "
            f"{events_rate:,.0f} events/s | p99 delivery {latency} | "
            f"{stats.violations} violation(s) | {elapsed:.0f}/{self.duration:g}s"
        )
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
            self._drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line, if one was drawn."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def format_figures(result: StressResult) -> str:
    """The stress figures in a few lines, for stdout above the verdict."""
    f = result.figures()
    p50, p99 = f["latency_p50_ms"], f["latency_p99_ms"]
    latency = "no run ended" if p99 is None else f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    lines = [
        f"stress: {f['identities']} identities ({f['connected']} connected, {f['transport']}); "
        f"{f['runs']} runs in {f['seconds']:.1f}s ({f['runs_per_second']:g}/s), "
        f"{f['events']:,} events ({f['events_per_second']:,.0f}/s)",
        f"delivery latency (run returned to all its events in hand): {latency}; "
        f"{f['checks']} checks took {f['check_seconds']:.2f}s",
    ]
    if result.stepped is True:
        lines.append("the stress finding replays step by step: a stepped scenario follows")
    elif result.stepped is False and result.windows is not None:
        k, n = result.windows
        lines.append(
            f"the stepped replay did not show the stress finding; it showed again in {k} of "
            f"{n} repeated stress windows; the raw history slice is kept as evidence"
        )
    return "\n".join(lines)


def write_stress_files(report: RunReport, result: StressResult, corpus: Path | None) -> None:
    """stress.json, the evidence, the summary's ``stress`` entry, and the corpus."""
    from isolation_fuzz.report.files import corpus_name

    figures = result.figures()
    report.dir.mkdir(parents=True, exist_ok=True)
    write_atomic(report.dir / "stress.json", json.dumps(figures, indent=2) + "\n")
    if result.evidence is not None:
        figures["evidence"] = "stress-evidence.json"
        write_atomic(report.dir / "stress-evidence.json",
                     json.dumps(result.evidence, indent=2, default=str) + "\n")
    summary_path = report.dir / "summary.json"
    if summary_path.exists():
        summary: dict[str, Any] = json.loads(summary_path.read_text())
        summary["stress"] = figures
        write_atomic(summary_path, json.dumps(summary, indent=2) + "\n")
    campaign = result.campaign
    if (corpus is not None and result.stepped and campaign.verdict == "violation"
            and campaign.finding is not None):
        from isolation_fuzz.engine.replay.scenario import save_scenario

        scenario = campaign.finding.to_scenario(campaign.target, campaign.seed)
        save_scenario(corpus / corpus_name(scenario), scenario)
