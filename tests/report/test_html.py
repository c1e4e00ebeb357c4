"""report.html: escaped, self-contained, one lane per identity, leaks drawn where they land."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from isolation_fuzz import CampaignConfig, run_campaign
from isolation_fuzz.engine.replay.scenario import Scenario
from isolation_fuzz.engine.trace import Move
from isolation_fuzz.model import ToolCall, Violation
from isolation_fuzz.report.html import render_html
from isolation_fuzz.target import TargetSpec

HOSTILE = "<script>alert('x')</script>&\""


def _crafted() -> tuple[Scenario, list[dict[str, object]]]:
    """Two identities, A's event delivered to B at step 3 (the violation)."""
    moves = (
        Move(1, "start_run", "A", "r1", "t1", (ToolCall("remember", "redis", "k", "v"),),
             outcome="paused at store"),
        Move(2, "step", "A", "r1", outcome="paused at emit"),
        Move(3, "step", "A", "r1", outcome="finished"),
        Move(4, "look", "B", "r2", plan=(ToolCall("list", "redis"),), outcome="finished",
             extra={"final": True}),
    )
    violation = Violation(
        "events_reach_only_owner", "ForeignEventDelivered", 3, ("B", "A"),
        f"B received event of run r1 for {HOSTILE}", {"receiver": "B", "owner": "A"},
    )
    scenario = Scenario(
        TargetSpec("zoo:broadcast_events"), {"A": HOSTILE, "B": "u10"}, moves, (violation,),
        seed=7,
    )
    deliveries: list[dict[str, object]] = [
        {"step": 2, "run_id": "r1", "owner": "A", "receiver": "A", "type": "agent_started",
         "foreign": False},
        {"step": 3, "run_id": "r1", "owner": "A", "receiver": "B", "type": "agent_completed",
         "foreign": True},
    ]
    return scenario, deliveries


def test_the_page_escapes_every_user_id_and_message() -> None:
    scenario, deliveries = _crafted()
    page = render_html(scenario, {"verdict": "violation", "deliveries": deliveries})
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert not re.search(r"https?://", page), "the page must not load anything"


def test_one_lane_per_identity_and_an_arrow_for_the_foreign_delivery() -> None:
    scenario, deliveries = _crafted()
    page = render_html(scenario, {"verdict": "violation", "deliveries": deliveries})
    assert page.count('class="lane"') == 2
    arrows = re.findall(r'class="arrow foreign" data-step="(\d+)" data-from="(\w*)" '
                        r'data-to="(\w*)"', page)
    assert arrows == [("3", "A", "B")]
    assert re.findall(r'class="move bad" data-step="(\d+)"', page) == ["3"]
    assert 'class="move final"' in page  # the final read is set apart


def test_a_clean_scenario_with_own_deliveries_draws_no_arrow() -> None:
    scenario, deliveries = _crafted()
    clean = Scenario(scenario.target, scenario.identities, scenario.moves, ())
    page = render_html(clean, {"verdict": "clean", "deliveries": deliveries[:1]})
    assert 'class="arrow' not in page
    assert 'class="move bad"' not in page


@pytest.fixture(scope="module")
def real_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of a real broadcast_events finding, as ``isolation-fuzz run`` writes it."""
    result = run_campaign(
        CampaignConfig(target=TargetSpec("zoo:broadcast_events"), max_examples=100, seed=0)
    )
    assert result.finding is not None
    scenario = result.finding.to_scenario(result.target)
    page = render_html(
        scenario, {"verdict": "violation", "deliveries": list(result.finding.deliveries)}
    )
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_a_real_finding_draws_its_foreign_delivery(real_page: Path) -> None:
    page = real_page.read_text(encoding="utf-8")
    assert 'class="arrow foreign"' in page
    assert 'class="move bad"' in page


def _png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct pixel values of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels + 1
    # Unfiltered bytes are enough to tell blank from drawn: a blank page is one value.
    values = {raw[row * stride + 1 + i:row * stride + 1 + i + channels]
              for row in range(0, height, 7) for i in range(0, width * channels, channels * 7)}
    return width, height, values


def test_the_page_renders_in_headless_chromium(real_page: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's package")
        pytest.skip("chromium is not installed here (CI installs it and runs this)")
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={shot}", "--window-size=1200,900", real_page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert shot.exists(), proc.stderr[-2000:]
    width, height, values = _png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 900)
    assert len(values) > 20, "the screenshot is blank"
