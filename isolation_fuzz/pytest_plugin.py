"""The pytest plugin: a fuzz campaign as one test of a project's suite.

Registered through the ``pytest11`` entry point (as anyio's plugin is), so installing
isolation-fuzz makes the ``isolation_fuzz`` fixture and marker available::

    @pytest.mark.isolation_fuzz(target="examples.chatdesk.adapter:open_target")
    def test_chatdesk_keeps_users_apart(isolation_fuzz):
        isolation_fuzz.check()

``check()`` runs a campaign and fails the test unless the verdict is clean, with
the verdict text, the scenario file's path and the command that replays it.
``run()`` returns the :class:`~isolation_fuzz.engine.campaign.result.CampaignResult`
instead, for a test that expects a finding.  The marker's keywords are the defaults
of both (``target``, ``max_examples``, ``budget``, ``profile``, ``seed``,
``fresh_target``, ``transport``); a call's keywords override them.

Command line, for the operator (a nightly job) rather than the test's author:

* ``--isolation-fuzz-budget 10m``: every campaign runs for this long, in place of
  its test's ``budget`` and ``max_examples``;
* ``--isolation-fuzz-seed N``: the base seed, in place of the test's ``seed``;
* ``--isolation-fuzz-database PATH|URL``: the Hypothesis example database
  (default ``<rootdir>/.hypothesis/isolation-fuzz``);
* ``--isolation-fuzz-report-dir PATH``: where the reports go (default
  ``<rootdir>/reports``).

Under pytest-xdist every worker uses the same example database, so each replays
what the others found, and a seed of its own, derived from the base seed and the
worker id (:func:`worker_seed`), so they explore apart.  Each test records its seed,
worker and database as ``user_properties`` (they reach the JUnit XML).

Design note.  pytest imports this module in every session of every project that has
isolation-fuzz installed, so it imports nothing heavier than pytest itself: the
engine, the services and the reporters load when a test first uses the fixture.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from isolation_fuzz import CampaignConfig, CampaignResult
    from isolation_fuzz.report.files import RunReport

__all__ = ["IsolationFuzz", "isolation_fuzz", "worker_seed"]

MARKER = "isolation_fuzz"
_OPTIONS = ("target", "max_examples", "budget", "profile", "seed", "fresh_target", "transport")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("isolation-fuzz", "isolation-fuzz campaigns")
    group.addoption("--isolation-fuzz-budget", metavar="DURATION",
                    help="run every campaign for this long (e.g. 90s, 10m), in place of the "
                    "test's own budget and max_examples")
    group.addoption("--isolation-fuzz-seed", type=int, metavar="N",
                    help="base seed of every campaign; xdist workers derive their own from it")
    group.addoption("--isolation-fuzz-database", metavar="PATH|URL",
                    help="example database shared by all workers (default "
                    "<rootdir>/.hypothesis/isolation-fuzz)")
    group.addoption("--isolation-fuzz-report-dir", metavar="PATH",
                    help="where campaign reports go (default <rootdir>/reports)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(target=..., max_examples=..., budget=..., seed=...): defaults for the "
        "isolation_fuzz fixture's campaign",
    )


def worker_seed(base: int | None, worker: str | None) -> int | None:
    """The seed of xdist worker ``worker`` (``gw0``...) for base seed ``base``.

    Outside xdist the base seed is used as given.  Under xdist each worker gets its
    own, derived by hashing, so ``gw0`` and ``gw1`` never run the same examples and a
    worker's seed is the same on every run with the same base.  With no base seed
    every campaign draws its own (and prints it).
    """
    if base is None or worker is None:
        return base
    digest = hashlib.blake2b(f"{base}/{worker}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


@dataclass
class IsolationFuzz:
    """What the ``isolation_fuzz`` fixture gives a test: campaigns against a target."""

    request: pytest.FixtureRequest
    defaults: dict[str, Any] = field(default_factory=dict)
    #: The report of the last campaign run (its ``scenario_path`` holds any finding).
    report: RunReport | None = None

    @property
    def worker(self) -> str | None:
        """The xdist worker id (``gw0``), or None outside xdist."""
        workerinput = getattr(self.request.config, "workerinput", None)
        if workerinput is not None:
            return str(workerinput["workerid"])
        return os.environ.get("PYTEST_XDIST_WORKER") or None

    def _option(self, name: str) -> Any:
        return self.request.config.getoption(f"isolation_fuzz_{name}")

    def _root(self) -> Path:
        return Path(str(self.request.config.rootpath))

    def database_location(self) -> str:
        """Where the example database is: the option, else under the rootdir."""
        return self._option("database") or str(self._root() / ".hypothesis" / "isolation-fuzz")

    def config(self, target: str | None = None, **options: Any) -> CampaignConfig:
        """The campaign a call with these keywords runs (the marker's fill the gaps)."""
        from isolation_fuzz import CampaignConfig
        from isolation_fuzz.cli._flags import parse_duration
        from isolation_fuzz.engine.campaign.database import open_database
        from isolation_fuzz.engine.example.harness import Limits
        from isolation_fuzz.errors import UsageError
        from isolation_fuzz.services import ServiceConfig
        from isolation_fuzz.target import TargetSpec

        stray = sorted(set(options) - set(_OPTIONS))
        if stray:
            raise UsageError(f"isolation_fuzz: unknown option {stray[0]!r}; use {_OPTIONS}")
        chosen = {**self.defaults, **options, **({"target": target} if target else {})}
        if not chosen.get("target"):
            raise UsageError(
                "isolation_fuzz: no target; pass target='package.module:factory' or mark "
                f"the test @pytest.mark.{MARKER}(target=...)"
            )
        budget, max_examples = chosen.get("budget"), chosen.get("max_examples")
        if self._option("budget"):
            budget, max_examples = self._option("budget"), None
        seconds = parse_duration(str(budget)) if budget is not None else None
        base = self._option("seed") if self._option("seed") is not None else chosen.get("seed")
        limits = Limits(fresh_target=True) if chosen.get("fresh_target") else Limits()
        return CampaignConfig(
            target=TargetSpec(chosen["target"], chosen.get("transport", "local")),
            profile=chosen.get("profile", "quick"),
            max_examples=max_examples,
            budget_seconds=seconds,
            seed=worker_seed(base, self.worker),
            services=ServiceConfig.from_env(),
            limits=limits,
            database=open_database(self.database_location()),
        )

    def run(self, target: str | None = None, **options: Any) -> CampaignResult:
        """Run a campaign and return its result, whatever the verdict."""
        from isolation_fuzz.cli.run import run_with_report
        from isolation_fuzz.report.files import RunReport, new_run_id

        config = self.config(target, **options)
        root = Path(self._option("report_dir") or self._root() / "reports")
        report = RunReport(root, new_run_id(config.target.name), notices=io.StringIO())
        self.report = report
        properties = self.request.node.user_properties
        properties += [("isolation_fuzz_seed", config.seed),
                       ("isolation_fuzz_worker", self.worker or "none"),
                       ("isolation_fuzz_database", self.database_location())]
        result = run_with_report(config, report, io.StringIO(), quiet=True)
        properties.append(("isolation_fuzz_verdict", result.verdict))
        return result

    def check(self, target: str | None = None, **options: Any) -> CampaignResult:
        """Run a campaign; fail the test with the verdict unless it is clean."""
        from isolation_fuzz.report.text import format_result

        result = self.run(target, **options)
        if result.exit_code != 0:
            text = format_result(result)
            where = self.report.scenario_path if self.report is not None else None
            if result.finding is not None and where is not None and where.exists():
                text += f"\n\nscenario: {where}\nreplay:   isolation-fuzz replay {where}"
            pytest.fail(text, pytrace=False)
        return result


@pytest.fixture
def isolation_fuzz(request: pytest.FixtureRequest) -> IsolationFuzz:
    """Campaigns against a target, inside this test (see the module's docstring)."""
    marker = request.node.get_closest_marker(MARKER)
    defaults = dict(marker.kwargs) if marker is not None else {}
    return IsolationFuzz(request, defaults)
