"""``report.html``: one self-contained page a reviewer opens from a CI artifact.

The page shows the shrunk scenario as a swimlane timeline (one lane per identity,
the moves as boxes in order, event deliveries as arrows to the receiving lane, the
violating observation in red) followed by the evidence in words and the numbered
moves.  Everything is inline (CSS and SVG, no scripts, no external URLs) so the
file works from an artifact store or an e-mail attachment.  Every string that
came from the system under test is escaped: user ids are adversarial by design.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from isolation_fuzz.display import show_id
from isolation_fuzz.engine.replay.scenario import Scenario
from isolation_fuzz.engine.trace import Move

__all__ = ["render_html", "swimlane_svg"]

_LANE = 230  # width of one identity's lane
_GUTTER = 56  # the step numbers on the left
_ROW = 38
_TOP = 44  # lane headers
_BOX_H = 22
_LABEL_CHARS = 30


@dataclass(frozen=True)
class _Arrow:
    step: int
    source: str | None
    target: str
    label: str
    foreign: bool


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _box_label(move: Move) -> str:
    run = move.run_id or ""
    if move.kind == "start_run":
        tools = ",".join(call.tool for call in move.plan)
        return f"start {run} t={show_id(move.thread_id)} [{tools}]"
    if move.kind == "forge":
        return f"forged {move.forgery} → {move.outcome}"
    if move.connection_id is not None:  # a connection move (issue 13)
        opened = f" → {move.opened}" if move.opened else ""
        return f"{move.kind} {move.connection_id}{opened}"
    outcome = move.outcome.replace("paused at ", "@")
    return f"{move.kind} {run} {outcome}".strip()


def _arrows(scenario: Scenario, deliveries: Sequence[Mapping[str, Any]]) -> list[_Arrow]:
    """Foreign event deliveries and data leaks as arrows; own deliveries are counted."""
    out = []
    for d in deliveries:
        if d.get("foreign") or d.get("owner") is None:
            out.append(_Arrow(
                int(d["step"]), d.get("owner"), str(d["receiver"]),
                f"event {d.get('type')} of {d.get('run_id')}", True,
            ))
    for v in scenario.violations:
        observer, owner = v.evidence.get("observer"), v.evidence.get("owner")
        if v.invariant == "no_foreign_data" and isinstance(observer, str):
            out.append(_Arrow(
                v.step, owner if isinstance(owner, str) else None, observer,
                f"data {v.evidence.get('canary', '')}", True,
            ))
    # Several leaks at one step between the same lanes read as one arrow.
    unique = {(a.step, a.source, a.target): a for a in reversed(out)}
    return sorted(unique.values(), key=lambda a: a.step)


@dataclass(frozen=True)
class _Layout:
    """Where each lane and row of the timeline sits, shared by every part drawn on it."""

    index: Mapping[str, int]
    #: The moves in drawing order: the explored ones, then the final reads.
    moves: tuple[Move, ...]
    first_final: int | None

    @classmethod
    def of(cls, scenario: Scenario) -> _Layout:
        moves = [m for m in scenario.moves if not m.final] + [m for m in scenario.moves if m.final]
        first_final = next((i for i, m in enumerate(moves) if m.final), None)
        index = {name: i for i, name in enumerate(scenario.identities)}
        return cls(index, tuple(moves), first_final)

    @property
    def width(self) -> int:
        return _GUTTER + _LANE * max(1, len(self.index)) + 10

    @property
    def height(self) -> int:
        return self.row_y(len(self.moves)) + 16

    def row_y(self, i: int) -> int:
        """The top of row ``i``; the final reads sit one row lower, under their line."""
        gap = _ROW if self.first_final is not None and i >= self.first_final else 0
        return _TOP + i * _ROW + gap

    def lane_x(self, name: str | None) -> int:
        return _GUTTER + self.index.get(name or "", 0) * _LANE


def swimlane_svg(scenario: Scenario, deliveries: Sequence[Mapping[str, Any]] = ()) -> str:
    """The timeline as an inline ``<svg>``: lanes, move boxes, delivery arrows."""
    layout = _Layout.of(scenario)
    width, height = layout.width, layout.height
    parts = [
        f'<svg class="swimlanes" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="swimlane timeline">',
        '<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#c62828"/>'
        "</marker></defs>",
        *_lane_parts(scenario, layout),
        *_final_reads_line(layout),
    ]
    arrows = _arrows(scenario, deliveries)
    parts += _move_parts(scenario, layout, _own_events(deliveries))
    parts += _arrow_parts(layout, arrows)
    parts.append("</svg>")
    return "\n".join(parts)


def _lane_parts(scenario: Scenario, layout: _Layout) -> list[str]:
    """Each identity's lane: its striped background and, on top, its name and user id."""
    height = layout.height
    parts = []
    for name, i in layout.index.items():
        x = _GUTTER + i * _LANE
        parts.append(
            f'<rect class="lane" x="{x + 4}" y="4" width="{_LANE - 8}" height="{height - 8}" '
            f'rx="6" fill="{"#f4f6fa" if i % 2 == 0 else "#eef1f6"}"/>'
        )
        user = escape(_short(show_id(scenario.identities[name]), 24))
        parts.append(
            f'<text class="lane-name" x="{x + _LANE // 2}" y="24" text-anchor="middle">'
            f"<tspan font-weight=\"bold\">{escape(name)}</tspan> user {user}</text>"
        )
    return parts


def _final_reads_line(layout: _Layout) -> list[str]:
    """The dashed line above the final reads, when the scenario has any."""
    if layout.first_final is None:
        return []
    y = layout.row_y(layout.first_final) - _ROW // 2 - 4
    return [
        f'<line x1="{_GUTTER}" x2="{layout.width - 10}" y1="{y}" y2="{y}" stroke="#888" '
        f'stroke-dasharray="5 4"/><text x="{_GUTTER + 8}" y="{y - 4}" class="note">'
        "final reads: paused runs finish, every identity looks</text>"
    ]


def _own_events(deliveries: Sequence[Mapping[str, Any]]) -> dict[tuple[int, str], int]:
    """How many of its own events each lane received at each step (shown as a count)."""
    own: dict[tuple[int, str], int] = {}
    for d in deliveries:
        if not d.get("foreign") and d.get("owner") is not None:
            key = (int(d["step"]), str(d["receiver"]))
            own[key] = own.get(key, 0) + 1
    return own


def _move_parts(
    scenario: Scenario, layout: _Layout, own_events: Mapping[tuple[int, str], int]
) -> list[str]:
    """Each move's step number, its box in its identity's lane, and its own-event count."""
    bad_steps = {v.step for v in scenario.violations}
    parts = []
    for i, move in enumerate(layout.moves):
        y = layout.row_y(i)
        x = layout.lane_x(move.identity) + 10
        bad = move.step in bad_steps
        parts.append(
            f'<text class="stepno" x="{_GUTTER - 8}" y="{y + 15}" text-anchor="end">'
            f"#{move.step}</text>"
        )
        cls = "move bad" if bad else ("move final" if move.final else "move")
        parts.append(
            f'<g class="{cls}" data-step="{move.step}"><title>{escape(move.describe())}</title>'
            f'<rect x="{x}" y="{y}" width="{_LANE - 20}" height="{_BOX_H}" rx="4"/>'
            f'<text x="{x + 6}" y="{y + 15}">{escape(_short(_box_label(move)))}</text></g>'
        )
        count = own_events.get((move.step, move.identity or ""), 0)
        if count:
            parts.append(
                f'<text class="own" x="{x + _LANE - 24}" y="{y + 15}" text-anchor="end">'
                f"{count}✉</text>"
            )
    return parts


def _arrow_parts(layout: _Layout, arrows: Sequence[_Arrow]) -> list[str]:
    """Each foreign delivery or leak as a red arrow into the receiving lane, at its step's row."""
    row_of_step: dict[int, int] = {}
    for i, move in enumerate(layout.moves):
        row_of_step.setdefault(move.step, i)
    parts = []
    for n, arrow in enumerate(arrows):
        i = row_of_step.get(arrow.step, len(layout.moves) - 1)
        y = layout.row_y(i) + _BOX_H // 2 + (n % 3) * 3
        target_x = layout.lane_x(arrow.target)
        x1 = layout.lane_x(arrow.source) + _LANE // 2 if arrow.source in layout.index else _GUTTER
        # The arrow stops at the near edge of the receiving box, leaving its text readable.
        left_edge, right_edge = target_x + 8, target_x + _LANE - 8
        if x1 == target_x + _LANE // 2:  # the receiver's own run carried it
            x1 -= _LANE // 2 + 30
        x2 = left_edge if x1 < left_edge else right_edge
        parts.append(
            f'<g class="arrow foreign" data-step="{arrow.step}" '
            f'data-from="{escape(arrow.source or "")}" data-to="{escape(arrow.target)}">'
            f"<title>{escape(arrow.label)}</title>"
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#c62828" stroke-width="2.5" '
            f'marker-end="url(#head)"/>'
            f'<text class="leak" x="{min(x1, x2) + 4}" y="{layout.row_y(i) - 3}">'
            f"{escape(_short(arrow.label, 26))}</text></g>"
        )
    return parts


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2330; }
h1 { font-size: 20px; margin: 0 0 4px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: white;
  background: #c62828; font-weight: bold; }
.verdict.clean { background: #2e7d32; }
table.meta td { padding: 1px 12px 1px 0; vertical-align: top; }
code, pre, .swimlanes text { font-family: ui-monospace, monospace; }
.swimlanes text { font-size: 11px; }
.swimlanes .move rect { fill: #ffffff; stroke: #5c6b8a; }
.swimlanes .move.final rect { fill: #f7f7f7; stroke: #9aa3b5; stroke-dasharray: 3 2; }
.swimlanes .move.bad rect { fill: #ffebee; stroke: #c62828; stroke-width: 2.5; }
.swimlanes .leak { fill: #c62828; font-size: 10px; }
.swimlanes .stepno, .swimlanes .note, .swimlanes .own { fill: #66708a; }
.evidence { border-left: 4px solid #c62828; padding: 4px 12px; margin: 8px 0;
  background: #fff8f8; }
pre { background: #f4f6fa; padding: 8px; overflow-x: auto; white-space: pre-wrap; }
ol.moves li.bad { color: #c62828; font-weight: bold; }
ol.moves li.final { color: #66708a; }
"""


def render_html(scenario: Scenario, summary: Mapping[str, Any]) -> str:
    """The whole page for one run's scenario; ``summary`` is ``summary.json`` plus deliveries."""
    deliveries: Sequence[Mapping[str, Any]] = summary.get("deliveries") or ()
    verdict = str(summary.get("verdict", "violation"))
    target = scenario.target.name
    bad_steps = {v.step for v in scenario.violations}
    budget = summary.get("budget_used") or {}
    meta_rows = [
        ("target", target),
        ("seed", summary.get("seed")),
        ("profile", summary.get("profile")),
        ("run", summary.get("run_id")),
        ("invariants violated", ", ".join(sorted(scenario.invariants)) or "none"),
        ("shrunk", "yes" if scenario.shrunk else "no (the search was stopped first)"),
        ("budget used", ", ".join(f"{k} {v}" for k, v in budget.items()) or "-"),
        ("tool version", scenario.tool_version),
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>isolation-fuzz: {escape(verdict)} on {escape(target)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>isolation-fuzz report: {escape(target)}</h1>",
        f'<p><span class="verdict{" clean" if verdict.startswith("clean") else ""}">'
        f"{escape(verdict)}</span></p>",
        '<table class="meta">',
        *(
            f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>"
            for k, v in meta_rows if v is not None
        ),
        "</table>",
        "<h2>Identities</h2><table class=\"meta\">",
        *(
            f"<tr><td><b>{escape(name)}</b></td><td><code>{escape(show_id(uid))}</code></td></tr>"
            for name, uid in scenario.identities.items()
        ),
        "</table>",
        "<h2>Timeline</h2>",
        "<p>One lane per identity, moves in the order performed.  Red boxes are the steps "
        "where an invariant broke; red arrows carry another identity's events or data to "
        "the lane that received them; ✉ counts a lane's own events.</p>",
        swimlane_svg(scenario, deliveries),
        "<h2>What went wrong</h2>",
    ]
    for v in scenario.violations:
        evidence = json.dumps(dict(v.evidence), indent=2, ensure_ascii=False, default=str)
        out += [
            '<div class="evidence">',
            f"<p><b>{escape(v.invariant)}</b> ({escape(v.anomaly)}) at step {v.step}, "
            f"identities {escape(', '.join(v.identities))}</p>",
            f"<p>{escape(v.message)}</p>",
            f"<pre>{escape(evidence)}</pre>",
            "</div>",
        ]
    out.append("<h2>Moves</h2><ol class=\"moves\">")
    for move in scenario.moves:
        cls = "bad" if move.step in bad_steps else ("final" if move.final else "")
        out.append(f'<li class="{cls}"><code>{escape(move.describe())}</code></li>')
    out += ["</ol>", "</body></html>", ""]
    return "\n".join(out)
