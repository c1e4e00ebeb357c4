"""Reporters: handlers of the engine's events that write a campaign down somewhere.

What lives here: the progress bar (``progress``), the text verdict (``text``), the
run's files and the corpus (``files``: summary, scenario, JUnit, HTML) and the
renderers they use (``junit``, ``html``), the pre-release gate's lines and JUnit
(``gate``: it also reads the corpus replay's events), and what a stress run shows and
writes beyond a campaign's report: live figures and ``stress.json`` (``stress``).
Each reporter is an :class:`~isolation_fuzz.engine.campaign.events.EventHandler`: it
reads the events a campaign emits and its result, and never drives a campaign.

Who may import it: the CLI, the zoo runner and users who report a campaign their own
way.  It imports the engine's records and events, never the CLI or the platform.
"""

from __future__ import annotations

from isolation_fuzz.report.files import RunReport
from isolation_fuzz.report.progress import ProgressBar
from isolation_fuzz.report.text import TextVerdict, format_result

__all__ = ["ProgressBar", "RunReport", "TextVerdict", "format_result"]
